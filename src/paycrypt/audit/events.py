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
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from botocore.model import OperationModel, ServiceModel, Shape

from paycrypt import arns, ids
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


class Identity(NamedTuple):
    """The authenticated caller (all None for a caller that did not authenticate).

    A named tuple, as Origin: one is made for every call, and a tuple is made and hashed in C."""

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


def _union(members: tuple[tuple[str, str, Renderer], ...]) -> Renderer:
    """A union sets one member: that one is looked up, not each member modelled in turn (a request
    that set several, and so failed validation, is rendered as any structure, in model order)."""
    table = {name: (out_name, child) for name, out_name, child in members}
    every = _structure(members)

    def render(value: Any, sink: list[str] | None) -> Any:
        if not isinstance(value, dict) or len(value) != 1:
            return every(value, sink)
        [(name, item)] = value.items()
        found = table.get(name)
        return {} if found is None or item is None else {found[0]: found[1](item, sink)}

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
            renderer = _union(members) if shape.is_tagged_union else _structure(members)
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
    if moment.tzinfo is not None and moment.tzinfo is not dt.UTC:
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
        found = _resource(identifier, account, region)
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        out.append(found[1])
    return out


# (identifier, account, region) -> (ARN, the resource entry), or None for what names no resource:
# the same keys are named call after call. Bounded, least recently used out first; an identifier
# holding anything to mask is never kept.
_RESOURCES: Lru[tuple[str, str | None, str | None], tuple[str, dict[str, Any]] | None] = Lru(
    _CLEAN_MAX_ENTRIES
)
_UNSEEN: Any = object()


def _resource(identifier: str, account: str | None, region: str | None) -> tuple[str, dict[str, Any]] | None:
    key = (identifier, account, region)
    found = _RESOURCES.get(key, _UNSEEN)
    if found is not _UNSEEN:
        return found
    if identifier.startswith("alias/") and account and region:
        arn = arns.build(region, account, identifier)
    else:
        arn = identifier
    parsed = arns.parse(arn)
    entry = None
    if parsed is not None:
        kind = KEY_TYPE if parsed.resource.startswith("key/") else ALIAS_TYPE
        entry = (arn, {"accountId": parsed.account, "type": kind, "ARN": mask_pans(arn)})
    if mask_pans(arn) == arn and len(arn) <= _CLEAN_MAX_LENGTH:
        _RESOURCES.put(key, entry)
    return entry


class Origin(NamedTuple):
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

    `params` are the request's members as parsed (None when the body could not be parsed). The
    event is `encode_event`'s line read back: the one definition of what an event holds.
    """
    event: dict[str, Any] = json.loads(encode_event(plan, origin, params, result, error).text)
    return event


# The JSON text of a string or null exactly as `json.dumps` writes it (ASCII, escaped).
_text = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
# Compact JSON, as the writer stores it (`json.dumps(event, separators=(",", ":"))`).
_compact = json.JSONEncoder(separators=(",", ":")).encode


def _json(value: str | None) -> str:
    return "null" if value is None else _text(value)


@functools.lru_cache(maxsize=1024)
def _head(identity: Identity) -> str:
    """The event's start up to `eventTime`'s value: the same for every call of one caller."""
    identity_json = _compact(_user_identity(identity))
    return f'{{"eventVersion":"{EVENT_VERSION}","userIdentity":{identity_json},"eventTime":'


# (operation, region, source address, user agent) -> the event's text from `eventSource` to
# `userAgent`: these repeat on every call of one client. Bounded, least recently used out first;
# kept only when no value held anything to mask, so no PAN is kept here.
_ORIGINS: Lru[tuple[str, str | None, str | None, str | None], str] = Lru(_CLEAN_MAX_ENTRIES)


def _origin_text(
    plan: OperationPlan, region: str | None, source_ip: str | None, user_agent: str | None
) -> str:
    key = (plan.name, region, source_ip, user_agent)
    found = _ORIGINS.get(key)
    if found is not None:
        return found
    masked_ip, masked_agent = _mask_any(source_ip), _mask_any(user_agent)
    text = (
        f',"eventSource":"{EVENT_SOURCE}","eventName":{_text(plan.name)},"awsRegion":{_json(region)},'
        f'"sourceIPAddress":{_json(masked_ip)},"userAgent":{_json(masked_agent)}'
    )
    if masked_ip == source_ip and masked_agent == user_agent:
        _ORIGINS.put(key, text)
    return text


@functools.lru_cache(maxsize=1024)
def _tail(management: bool, account: str | None) -> str:
    """The event's end, from `eventType`: the same for every call of one plane and account."""
    category = "Management" if management else "Data"
    return (
        f',"eventType":"{EVENT_TYPE}","managementEvent":{"true" if management else "false"},'
        f'"recipientAccountId":{_json(account)},"eventCategory":"{category}"}}'
    )


class Encoded(NamedTuple):
    """An event's stored JSON (`json.dumps(event, separators=(",", ":"))`'s text) and its
    `eventTime`, which the writer's digest summary records."""

    text: str
    event_time: str


def encode_event(
    plan: OperationPlan,
    origin: Origin,
    params: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None = None,
    error: Failure | None = None,
) -> Encoded:
    """The event as the compact JSON the writer stores (`LAYOUT` order), written from parts: what
    is the same for every call of one caller, operation and client is made once and kept, so a
    call renders only its own members, time and identifiers (every call of a server makes one)."""
    identity, region = origin.identity, origin.region
    sink: list[str] = []
    request_parameters = None
    if params is not None and plan.render_input is not None:
        request_parameters = plan.render_input(params, sink) or None
    response_elements = None
    if error is None and result:
        if plan.render_output is not None:
            response_elements = plan.render_output(result, sink) or None
        for name in plan.output_resources:  # data plane: the key an alias resolved to
            value = result.get(name)
            if isinstance(value, str):
                sink.append(value)
    failed = (
        ""
        if error is None
        else f',"errorCode":{_text(error.code)},"errorMessage":{_text(mask_pans(error.message))}'
    )
    parameters = "null" if request_parameters is None else _compact(request_parameters)
    elements = "null" if response_elements is None else _compact(response_elements)
    resources = _compact(_resources(sink, identity.account_id, region)) if sink else "[]"
    event_time = iso_time(origin.event_time)
    text = (
        f"{_head(identity)}{_text(event_time)}"
        f"{_origin_text(plan, region, origin.source_ip, origin.user_agent)}{failed}"
        f',"requestParameters":{parameters},"responseElements":{elements},'
        f'"requestID":{_text(origin.request_id)},"eventID":{_text(origin.event_id or ids.uuid4_text())},'
        f'"readOnly":{"true" if plan.read_only else "false"},"resources":{resources}'
        f"{_tail(plan.management, identity.account_id)}"
    )
    return Encoded(text, event_time)
