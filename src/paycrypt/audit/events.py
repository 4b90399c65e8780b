"""One CloudTrail-shaped audit event per API call, built from the service models.

`build_event` is pure: the operation, who called, from where, what they sent and what they got
back (or the error) in; one dict out, always with the fields in `LAYOUT` order, ready for
`json.dumps`. How each operation's input and output are rendered (member names, redaction, which
members name keys) is compiled once per operation from the botocore shapes (`compile_plans`,
called by the wire layer with the models it loaded; nothing here holds them), so nothing walks
the model per request.

Decisions (the guide's example records are in seed-F §2.4; the fields follow issue 8 item 5):

- **Layout.** `LAYOUT` is the order of every event; `errorCode` and `errorMessage` appear only when
  the call failed, after `userAgent`, where CloudTrail puts them. `resources` is always present
  (an empty list when the call names no key or alias). `eventVersion` is 1.09, the version of the
  guide's data-plane example.
- **userIdentity** is `{type, principalId, arn, accountId, accessKeyId, userName}`; `type` comes
  from the ARN (`:user/` → IAMUser, `:assumed-role/` → AssumedRole with userName "" as in the
  guide's example, `:root` → Root); a caller that did not authenticate is type Unknown with the
  access key id it claimed (if any) and nulls elsewhere.
- **Member names.** Control plane: lowerCamelCase (`keyAttributes`, `keyModesOfUse`,
  `deriveKey`), as the guide's CreateKey records show. Data plane: structure members snake_case
  (`key_identifier`, `generation_attributes`, `card_expiry_date`) and union member names kept as the
  model spells them (`CardVerificationValue2`), as the guide's GenerateCardValidationData record
  shows — the serde convention (fields snake_case, enum variants verbatim) of a Rust front end.
  The conversion is derived from the member names and the shapes' union trait, never per operation.
  Members in the same order as the model; absent members omitted; members the model does not
  define (a client's forward-compatible extras) dropped.
- **responseElements**: the rendered output on the control plane (null when the output is empty,
  as for DeleteAlias); always null on the data plane, as in the guide's example (the generated CVV2
  is not logged) — and null for any failed call.
- **readOnly**: true for every data-plane operation (the guide's example marks a Generate call
  read-only: the data plane changes no stored state) and for control-plane operations named Get* or
  List*; false for the rest. GetParametersForImport/Export fall under the prefix although they mint
  an import/export token.
- **Redaction**: the value of every member whose shape (or member reference) carries the
  `sensitive` trait becomes `REDACTED`, whatever its type, in requestParameters and
  responseElements. The string is the example records' (three asterisks each side; the guide's
  prose has four). A value whose JSON type does not fit its shape (possible only in a request that
  then failed validation) also becomes `REDACTED`: nothing can be said about what it holds.
- **PAN masking** runs after redaction on every caller-influenced string: requestParameters and
  responseElements values and map keys, errorMessage, userAgent, sourceIPAddress, resource ARNs,
  and userIdentity arn/userName/accessKeyId. A run of 12 to 19 digits not touching other digits,
  contiguous or grouped the way card numbers are written (a first group of 4 or more digits, then
  groups of 2 to 6 after single spaces or hyphens: `4111 1111 1111 1111`, `3782-822463-10005`),
  becomes its first 6 and last 4 digits with `*` between (`411111******1111`). The 12-digit
  account field of an ARN is not a PAN and is kept; integers of 12 to 19 digits are masked the
  same way (as strings).
- **resources**: each key or alias a request or result member names (shapes KeyArn,
  KeyArnOrKeyAliasType, ResourceArn, AliasName), outside lists (so ListKeys does not list every
  key), in order of appearance, without duplicates; an alias name becomes its ARN in the caller's
  account and region. Type `AWS::PaymentCryptography::Key` or `AWS::PaymentCryptography::Alias`.
  A data-plane success adds the key ARN its output names (the resolved key of an alias).
- **eventTime** and timestamps in responseElements: ISO 8601 UTC to the second with `Z`.
- eventSource is `payment-cryptography.amazonaws.com` on both planes; eventType `AwsApiCall`;
  managementEvent/eventCategory true/Management on the control plane, false/Data on the data plane;
  recipientAccountId is the caller's account.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from paycrypt import arns
from paycrypt.lru import Lru

CONTROL = "payment-cryptography"  # the plane names of paycrypt.wire.models
DATA = "payment-cryptography-data"

EVENT_VERSION = "1.09"
EVENT_SOURCE = "payment-cryptography.amazonaws.com"
EVENT_TYPE = "AwsApiCall"
REDACTED = "*** Sensitive Data Redacted ***"
KEY_TYPE = "AWS::PaymentCryptography::Key"
ALIAS_TYPE = "AWS::PaymentCryptography::Alias"

LAYOUT = (
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
)
ERROR_FIELDS = ("errorCode", "errorMessage")
IDENTITY_LAYOUT = ("type", "principalId", "arn", "accountId", "accessKeyId", "userName")

# String shapes whose values name a key or an alias (see the resources decision above).
RESOURCE_SHAPES = frozenset({"KeyArn", "KeyArnOrKeyAliasType", "ResourceArn", "AliasName"})


@dataclass(frozen=True)
class Identity:
    """The authenticated caller (all None for a caller that did not authenticate)."""

    account_id: str | None
    arn: str | None
    user_id: str | None
    access_key_id: str | None


UNKNOWN = Identity(None, None, None, None)


@dataclass(frozen=True)
class Failure:
    """A failed call: the AWS error code and the message the caller was given."""

    code: str
    message: str


# --- masking ---------------------------------------------------------------------------------

# The head of an ARN up to and with its account field (kept as it is), or a run of digits not
# touching other digits, possibly in groups split by single spaces or hyphens (`4111 1111 1111
# 1111`, `3782-822463-10005`): `_mask_match` decides what in such a run is PAN-like.
_DIGIT_RUN = re.compile(
    r"(arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:[0-9]{12}:)|(?<![0-9])[0-9]{4,19}(?:[ -][0-9]{2,6}){0,5}(?![0-9])"
)
_SEPARATOR = re.compile(r"[ -]")


def _mask_match(match: re.Match[str]) -> str:
    run = match.group()
    if match.group(1) is not None:
        return run  # an ARN's account field is not a PAN
    groups = _SEPARATOR.split(run)
    # the longest leading groups holding 12 to 19 digits form the PAN; what follows is looked at again
    total, take = 0, 0
    for index, group in enumerate(groups):
        total += len(group)
        if total > 19:
            break
        if total >= 12:
            take = index + 1
    if take == 0:
        return run
    digits = "".join(groups[:take])
    used = sum(len(g) for g in groups[:take]) + take - 1
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:] + mask_pans(run[used:])


# Short strings found to hold nothing to mask (ARNs, user agents, key ids repeat on every call).
# Only clean strings are remembered, so no PAN is kept here; bounded, least recently used out first.
_CLEAN_MAX_ENTRIES = 4096
_CLEAN: Lru[str, bool] = Lru(_CLEAN_MAX_ENTRIES)
_CLEAN_MAX_LENGTH = 256


def mask_pans(text: str) -> str:
    """`text` with every PAN-like digit run masked to its first 6 and last 4 digits."""
    if len(text) < 12 or text in _CLEAN:
        return text
    masked = _DIGIT_RUN.sub(_mask_match, text)
    if masked == text and len(text) <= _CLEAN_MAX_LENGTH:
        _CLEAN.put(text, True)
    return masked


def _mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pans(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and 12 <= len(str(abs(value))) <= 19:
        return mask_pans(str(value))
    return value


# --- rendering plans ---------------------------------------------------------------------------

# A renderer turns one request or result value into its event form. `sink` collects the key and
# alias identifiers met outside lists (None inside lists: those are not resources).
Renderer = Callable[[Any, "list[str] | None"], Any]


@dataclass(frozen=True)
class OperationPlan:
    name: str
    plane: str
    management: bool
    read_only: bool
    render_input: Renderer | None
    render_output: Renderer | None  # control plane only: responseElements is null on the data plane
    output_resources: tuple[str, ...] = ()  # data plane: top-level output members naming a key


def _redacted(value: Any, sink: list[str] | None) -> Any:
    return REDACTED


def _string(value: Any, sink: list[str] | None) -> Any:
    return mask_pans(value) if isinstance(value, str) else REDACTED


def _resource_string(value: Any, sink: list[str] | None) -> Any:
    if not isinstance(value, str):
        return REDACTED
    if sink is not None:
        sink.append(value)
    return mask_pans(value)


def _boolean(value: Any, sink: list[str] | None) -> Any:
    return value if isinstance(value, bool) else REDACTED


def _number(value: Any, sink: list[str] | None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return REDACTED
    return _mask_any(value)


def _timestamp(value: Any, sink: list[str] | None) -> Any:
    if isinstance(value, dt.datetime):
        return iso_time(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return iso_time(dt.datetime.fromtimestamp(value, dt.UTC))
        except (OverflowError, OSError, ValueError):
            return REDACTED
    if isinstance(value, str):
        return mask_pans(value)
    return REDACTED


_SCALARS: dict[str, Renderer] = {
    "string": _string,
    "boolean": _boolean,
    "integer": _number,
    "long": _number,
    "float": _number,
    "double": _number,
    "timestamp": _timestamp,
}


def _structure(members: tuple[tuple[str, str, Renderer], ...]) -> Renderer:
    def render(value: Any, sink: list[str] | None) -> Any:
        if not isinstance(value, dict):
            return REDACTED
        out = {}
        for name, out_name, child in members:
            item = value.get(name)
            if item is not None:
                out[out_name] = child(item, sink)
        return out

    return render


def _list(child: Renderer) -> Renderer:
    def render(value: Any, sink: list[str] | None) -> Any:
        if not isinstance(value, list):
            return REDACTED
        return [child(item, None) for item in value]

    return render


def _map(child: Renderer) -> Renderer:
    def render(value: Any, sink: list[str] | None) -> Any:
        if not isinstance(value, dict):
            return REDACTED
        return {mask_pans(str(k)): child(v, None) for k, v in value.items() if v is not None}

    return render


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """`PrimaryAccountNumber` → `primary_account_number`, `Ibm3624PinOffset` → `ibm3624_pin_offset`."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def camel_case(name: str) -> str:
    """`KeyModesOfUse` → `keyModesOfUse`; a leading acronym is lowered whole (`KCVAlgo` → `kcvAlgo`)."""
    head = len(name) - len(name.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if head > 1 and head < len(name) and name[head].islower():
        head -= 1
    return name[:head].lower() + name[head:]


class _Compiler:
    """Renderers for one plane's shapes, memoised by shape name (recursion-safe)."""

    def __init__(self, plane: str) -> None:
        self.plane = plane
        self.memo: dict[str, Renderer] = {}

    def member_name(self, name: str, parent: Shape) -> str:
        if self.plane == CONTROL:
            return camel_case(name)
        return name if parent.metadata.get("union") else snake_case(name)

    def compile(self, shape: Shape) -> Renderer:
        if shape.metadata.get("sensitive"):
            return _redacted
        kind = shape.type_name
        if kind in _SCALARS:
            if kind == "string" and shape.name in RESOURCE_SHAPES:
                return _resource_string
            return _SCALARS[kind]
        cached = self.memo.get(shape.name)
        if cached is not None:
            return cached
        cell: list[Renderer] = []
        self.memo[shape.name] = lambda value, sink: cell[0](value, sink)
        if kind == "structure":
            members = tuple(
                (name, self.member_name(name, shape), self.compile(member))
                for name, member in shape.members.items()
            )
            renderer = _structure(members)
        elif kind == "list":
            renderer = _list(self.compile(shape.member))
        elif kind == "map":
            renderer = _map(self.compile(shape.value))
        else:  # blob and anything newer: never logged
            renderer = _redacted
        cell.append(renderer)
        self.memo[shape.name] = renderer
        return renderer


def compile_plans(plane: str, service: ServiceModel) -> dict[str, OperationPlan]:
    """The plan of every operation of one plane's model, compiled once (by the wire, at start)."""
    if plane not in (CONTROL, DATA):
        raise ValueError(f"unknown plane {plane!r}")
    compiler = _Compiler(plane)
    return {name: _compile_plan(compiler, service.operation_model(name)) for name in service.operation_names}


def _compile_plan(compiler: _Compiler, operation: OperationModel) -> OperationPlan:
    management = compiler.plane == CONTROL
    input_shape, output_shape = operation.input_shape, operation.output_shape
    return OperationPlan(
        name=operation.name,
        plane=compiler.plane,
        management=management,
        read_only=not management or operation.name.startswith(("Get", "List")),
        render_input=compiler.compile(input_shape) if input_shape is not None else None,
        render_output=compiler.compile(output_shape) if output_shape is not None and management else None,
        output_resources=tuple(
            name
            for name, member in (output_shape.members.items() if output_shape is not None else ())
            if not management and member.type_name == "string" and member.name in RESOURCE_SHAPES
        ),
    )


# --- the event -------------------------------------------------------------------------------


def iso_time(moment: dt.datetime) -> str:
    """ISO 8601 UTC to the second with Z (naive datetimes are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_identity(identity: Identity) -> dict[str, Any]:
    return dict(_user_identity(identity))


@functools.lru_cache(maxsize=1024)
def _user_identity(identity: Identity) -> dict[str, Any]:
    arn = identity.arn or ""
    if identity.account_id is None or not arn:
        kind, user_name = "Unknown", None
    elif ":assumed-role/" in arn:
        kind, user_name = "AssumedRole", ""
    elif arn.endswith(":root"):
        kind, user_name = "Root", None
    else:
        kind, user_name = "IAMUser", arn.rsplit("/", 1)[-1] if ":user/" in arn else None
    return {
        "type": kind,
        "principalId": identity.user_id,
        "arn": _mask_any(identity.arn),
        "accountId": identity.account_id,
        "accessKeyId": _mask_any(identity.access_key_id),
        "userName": _mask_any(user_name),
    }


def _resources(identifiers: list[str], account: str | None, region: str | None) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for identifier in identifiers:
        if identifier.startswith("alias/") and account and region:
            arn = arns.build(region, account, identifier)
        else:
            arn = identifier
        parsed = arns.parse(arn)
        if parsed is None or arn in seen:
            continue
        seen.add(arn)
        kind = KEY_TYPE if parsed.resource.startswith("key/") else ALIAS_TYPE
        out.append({"accountId": parsed.account, "type": kind, "ARN": mask_pans(arn)})
    return out


@dataclass(frozen=True)
class Origin:
    """Who made a call, from where, and when: the header every event carries.

    `event_time` is wall-clock time (not a test clock); `event_id` defaults to a fresh uuid4."""

    identity: Identity
    region: str | None
    source_ip: str | None
    user_agent: str | None
    request_id: str
    event_time: dt.datetime
    event_id: str | None = None


def build_event(
    plan: OperationPlan,
    origin: Origin,
    params: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None = None,
    error: Failure | None = None,
) -> dict[str, Any]:
    """The audit event of one call of `plan`'s operation: `result` when it succeeded, `error`
    when it failed.

    `params` are the request's members as parsed (None when the body could not be parsed).
    """
    identity, region = origin.identity, origin.region
    sink: list[str] = []
    request_parameters = None
    if params is not None and plan.render_input is not None:
        request_parameters = plan.render_input(dict(params), sink) or None
    response_elements = None
    if error is None and result:
        if plan.render_output is not None:
            response_elements = plan.render_output(dict(result), sink) or None
        for name in plan.output_resources:  # data plane: the key an alias resolved to
            value = result.get(name)
            if isinstance(value, str):
                sink.append(value)
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(identity),
        "eventTime": iso_time(origin.event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": plan.name,
        "awsRegion": region,
        "sourceIPAddress": _mask_any(origin.source_ip),
        "userAgent": _mask_any(origin.user_agent),
    }
    if error is not None:
        event["errorCode"] = error.code
        event["errorMessage"] = mask_pans(error.message)
    event["requestParameters"] = request_parameters
    event["responseElements"] = response_elements
    event["requestID"] = origin.request_id
    event["eventID"] = origin.event_id or str(uuid.uuid4())
    event["readOnly"] = plan.read_only
    event["resources"] = _resources(sink, identity.account_id, region)
    event["eventType"] = EVENT_TYPE
    event["managementEvent"] = plan.management
    event["recipientAccountId"] = identity.account_id
    event["eventCategory"] = "Management" if plan.management else "Data"
    return event
