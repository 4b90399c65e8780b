"""The wire layer's own rules, without a server: what the validator hands on, and what a fault logs.

Every operation of both planes is checked with a request built from its input shape, in which
every structure (unions included, at every depth, inside lists and maps) also carries unknown
members and explicit nulls: what the wire layer hands on must be exactly the request without them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from paycrypt import ids
from paycrypt.errors import ValidationError
from paycrypt.wire import faults, models, validate
from paycrypt.wire.protocols import for_model
from paycrypt.wire.protocols.aws_json import AwsJson1_0
from paycrypt.wire.protocols.aws_query import AwsQuery
from paycrypt.wire.protocols.rest_json import RestJson1

PROTOCOLS = {plane: for_model(plane, model, ()) for plane, model in models.load().planes}
OPERATIONS = [(models.CONTROL, name) for name in PROTOCOLS[models.CONTROL].operations] + [
    (models.DATA, name) for name in PROTOCOLS[models.DATA].operations
]
VARIANTS = range(64)  # enough bits for the deepest optional member, more than any union's members
_SCALARS = {"integer": 1, "long": 1, "boolean": True, "timestamp": 0}


def sample(shape: Shape, hostile: bool, variant: int = 0, depth: int = 0) -> Any:
    """A value of `shape`; when `hostile`, each structure leads with unknown members and nulls.

    `variant` picks which member each union sets and which optional members are left out, so
    that the variants together reach every member."""
    if shape.type_name == "structure":
        value: dict[str, Any] = {"Unknown": {"Symmetric": 1}, "Null": None} if hostile else {}
        names = list(shape.members)
        if shape.is_tagged_union:
            chosen = [names[variant % len(names)]]
        else:  # about half the optional members null (hostile) or absent, by the variant's bits
            left_out = [
                name
                for index, name in enumerate(names)
                if name not in shape.required_members and (variant >> depth) & 1 == index & 1
            ]
            chosen = [name for name in names if name not in left_out]
        for name in names:
            if name in chosen and depth < 12:
                value[name] = sample(shape.members[name], hostile, variant, depth + 1)
            elif hostile:
                value[name] = None
        return value
    if shape.type_name == "list":
        return [sample(shape.member, hostile, variant, depth + 1)]
    if shape.type_name == "map":
        return {"k": sample(shape.value, hostile, variant, depth + 1)}
    if shape.type_name == "string":
        return shape.enum[0] if shape.enum else "x"
    return _SCALARS[shape.type_name]


def _walk(value: Any, shape: Shape, path: str) -> None:
    """No member the model does not name and no null, anywhere."""
    assert value is not None, path
    if shape.type_name == "structure":
        assert set(value) <= set(shape.members), (path, set(value) - set(shape.members))
        if shape.is_tagged_union:
            assert len(value) == 1, path
        for name, item in value.items():
            _walk(item, shape.members[name], f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            _walk(item, shape.member, f"{path}.{index + 1}")
    elif shape.type_name == "map":
        for key, item in value.items():
            _walk(item, shape.value, f"{path}.{key}")


@pytest.mark.parametrize(("plane", "name"), OPERATIONS)
def test_unknown_members_and_nulls_are_removed_at_every_depth(plane: str, name: str) -> None:
    """The hostile request and the plain one validate alike and come out the same.

    The samples do not match every pattern, so most are invalid: the checker's output is compared
    whatever its verdict, and the verdicts must be the same (junk and nulls add no error)."""
    op = PROTOCOLS[plane].operations[name]
    for variant in VARIANTS:
        plain = sample(op.input_shape, hostile=False, variant=variant)
        known, invalid = validate.validate_with(op.check, sample(op.input_shape, True, variant))
        _walk(known, op.input_shape, "")
        assert known == plain
        assert invalid == validate.validate_with(op.check, plain)[1]


def test_the_samples_reach_unions_lists_and_maps_in_both_planes() -> None:
    """The test above covers what it claims: each kind of shape is inside some operation's sample."""
    kinds: dict[str, set[str]] = {models.CONTROL: set(), models.DATA: set()}

    def kinds_in(value: Any, shape: Shape, plane: str) -> None:
        if shape.type_name == "structure":
            kinds[plane].add("union" if shape.is_tagged_union else "structure")
            for member, item in value.items():
                kinds_in(item, shape.members[member], plane)
        elif shape.type_name == "list":
            kinds[plane].add("list")
            for item in value:
                kinds_in(item, shape.member, plane)
        elif shape.type_name == "map":
            kinds[plane].add("map")
            for item in value.values():
                kinds_in(item, shape.value, plane)

    for plane, name in OPERATIONS:
        op = PROTOCOLS[plane].operations[name]
        for variant in VARIANTS:
            kinds_in(sample(op.input_shape, hostile=False, variant=variant), op.input_shape, plane)
    assert kinds[models.CONTROL] >= {"structure", "union", "list", "map"}
    assert kinds[models.DATA] >= {"structure", "union"}  # its one list shape is in an error


def test_the_request_as_sent_is_not_changed() -> None:
    """The audit event of a refused request records it as sent: validation copies, never edits."""
    control = PROTOCOLS[models.CONTROL]
    op = control.operations["CreateKey"]
    sent = {"KeyAttributes": {"KeyUsage": "x", "Junk": 1}, "Exportable": None, "Other": [None]}
    copy = {"KeyAttributes": {"KeyUsage": "x", "Junk": 1}, "Exportable": None, "Other": [None]}
    with pytest.raises(ValidationError):
        control.check(op, sent)
    assert sent == copy


@pytest.mark.parametrize(
    "body",
    [
        b"NaN",
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1' + b"0" * 4400 + b"}",
        b'"\xc3"',
        b"[" * 100_000,
    ],
)
def test_decoding_refuses_what_rfc_8259_does_not_define(body: bytes) -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        control = PROTOCOLS[models.CONTROL]
        control.members(control.operations["ListKeys"], body)


PAN = "4111111111111111"


def _fault(pan: str) -> None:
    try:
        {}[pan]
    except KeyError as exc:
        raise RuntimeError(f"wrapping {pan}") from exc


def test_a_fault_is_logged_with_its_traceback_and_without_any_message(caplog) -> None:
    try:
        _fault(PAN)
    except RuntimeError as exc:
        with caplog.at_level("ERROR", logger="paycrypt"):
            error = faults.internal_error("GetKey", "req-1", exc)
    assert error.code == "InternalServerException" and error.fault
    assert PAN not in error.message
    [record] = caplog.records
    text = record.getMessage()
    assert "GetKey" in text and "req-1" in text
    assert "builtins.KeyError (message withheld)" in text
    assert "builtins.RuntimeError (message withheld)" in text
    assert text.index("KeyError") < text.index("RuntimeError")  # oldest first, as Python prints
    assert "in _fault" in text
    assert PAN not in text
    assert record.exc_info is None


def test_each_model_is_served_by_the_class_its_metadata_protocol_names() -> None:
    """As botocore and LocalStack pick theirs: by `metadata.protocol`, never by service."""
    loaded = models.load()
    served = {models.CONTROL: loaded.control, models.DATA: loaded.data, models.STS: loaded.sts}
    picked = {plane: for_model(plane, model, ()) for plane, model in served.items()}
    assert {plane: type(protocol) for plane, protocol in picked.items()} == {
        models.CONTROL: AwsJson1_0,
        models.DATA: RestJson1,
        models.STS: AwsQuery,
    }
    assert {plane: protocol.name for plane, protocol in picked.items()} == {
        plane: model.metadata["protocol"] for plane, model in served.items()
    }
    assert {protocol.signing_name for protocol in picked.values()} == {"payment-cryptography", "sts"}


def test_a_model_in_a_protocol_paycrypt_does_not_speak_is_refused() -> None:
    description = copy.deepcopy(Loader().load_service_model(models.STS, "service-2"))
    description["metadata"]["protocol"] = "rest-xml"
    with pytest.raises(KeyError, match="rest-xml"):
        for_model(models.STS, ServiceModel(description, models.STS), ())


def test_request_ids_are_version_4_uuids_in_their_text_form() -> None:
    made = [ids.uuid4_text() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)


@pytest.mark.parametrize("plane", [plane for plane, _ in models.load().planes])
def test_service_unavailable_is_503_on_every_plane(plane: str) -> None:
    """A store that cannot reach its database (docs/decisions/availability.md): 503 with the code
    botocore reads on each protocol, whether or not the plane's model names the shape."""
    protocol = PROTOCOLS[plane]
    response = protocol.error(faults.unavailable(), "request-id")
    assert response.status == 503
    assert b"ServiceUnavailableException" in response.body
    assert b"temporarily unavailable" in response.body
