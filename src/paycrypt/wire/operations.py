"""Each operation of a model, compiled once at start: its validator, audit plan and wire form.

Everything here is generic: members and shapes come from the models the server loaded and passed
in, so no code is written per operation. The protocol classes (wire/protocols/) route to these
operations and decode and serialize with them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from paycrypt.audit import events
from paycrypt.wire import compiled_checks, models, validate


@dataclass(frozen=True)
class Operation:
    plane: str  # the name of the model it belongs to
    name: str
    model: OperationModel
    input_shape: Shape | None
    output_shape: Shape | None
    check: validate.Checker
    # The same rules compiled to straight-line code: the value, or Refused (then `check` says why).
    decide: compiled_checks.Decider | None
    audit: events.OperationPlan | None  # how its audit event renders the request and result; None: no event
    wire_form: Callable[[Any], Any] | None  # the result's timestamps as epoch seconds; None: none
    data_plane: bool = False  # a data-plane call: the authorizer's cross-account rule and rate quota kind
    uri_members: dict[str, str] = field(default_factory=dict)  # label -> member name
    success_status: int = 200


def compile_model(plane: str, service: ServiceModel) -> dict[str, Operation]:
    """Every operation of one model; shapes are compiled once per model, shared by its operations.

    The Payment Cryptography planes have audit plans; any other model (STS) has none."""
    plans = events.compile_plans(plane, service) if plane in (models.CONTROL, models.DATA) else {}
    checkers = validate.Checkers()
    compiled = compiled_checks.Compiled()
    timestamps = _Timestamps()
    return {
        name: _compile(plane, service.operation_model(name), plans.get(name), checkers, compiled, timestamps)
        for name in service.operation_names
    }


def _compile(
    plane: str,
    op: OperationModel,
    plan: events.OperationPlan | None,
    checkers: validate.Checkers,
    compiled: compiled_checks.Compiled,
    timestamps: _Timestamps,
) -> Operation:
    input_shape = op.input_shape
    uri_members = {}
    if input_shape is not None:
        for member_name, member in input_shape.members.items():
            if member.serialization.get("location") == "uri":
                uri_members[member.serialization.get("name", member_name)] = member_name
    output_shape = op.output_shape
    return Operation(
        plane=plane,
        name=op.name,
        model=op,
        input_shape=input_shape,
        output_shape=output_shape,
        check=checkers(input_shape) if input_shape is not None else validate.accept_empty,
        decide=compiled(input_shape) if input_shape is not None else None,
        audit=plan,
        wire_form=timestamps.converter(output_shape) if output_shape is not None else None,
        data_plane=plane == models.DATA,
        uri_members=uri_members,
        success_status=op.http.get("responseCode", 200),
    )


class _Timestamps:
    """Which shapes of one model hold a timestamp at any depth (memoised by shape name), and the
    conversion of a result to its wire form: datetimes become epoch seconds, the form both JSON
    protocols use."""

    def __init__(self) -> None:
        self._memo: dict[str, bool] = {}
        self._converters: dict[str, Callable[[Any], Any]] = {}

    def converter(self, shape: Shape) -> Callable[[Any], Any] | None:
        """The output's conversion, or None when it holds no timestamp (sent as it is)."""
        return self._convert(shape) if self.has_timestamp(shape) else None

    def has_timestamp(self, shape: Shape) -> bool:
        found = self._memo.get(shape.name)
        if found is None:
            found = self._memo[shape.name] = _has_timestamp(shape, frozenset())
        return found

    def _convert(self, shape: Shape) -> Callable[[Any], Any]:
        """The conversion of a value of `shape`, built once per shape name: a structure keeps its
        modelled members that are not null, converting those that hold a timestamp."""
        found = self._converters.get(shape.name)
        if found is not None:
            return found
        cell: list[Callable[[Any], Any]] = []
        self._converters[shape.name] = lambda value: cell[0](value)  # a recursive shape's own
        kind = shape.type_name
        convert: Callable[[Any], Any]
        if kind == "structure":
            members = {
                name: self._convert(member) if self.has_timestamp(member) else None
                for name, member in shape.members.items()
            }

            def convert(value: Any) -> Any:
                out = {}
                for name, item in value.items():
                    if item is not None and name in members:
                        member = members[name]
                        out[name] = item if member is None else member(item)
                return out

        elif kind == "list":
            item = self._convert(shape.member)
            convert = lambda value: [item(entry) for entry in value]  # noqa: E731
        elif kind == "map":
            entry = self._convert(shape.value)
            convert = lambda value: {k: entry(v) for k, v in value.items()}  # noqa: E731
        elif kind == "timestamp":
            convert = _epoch_seconds
        else:
            convert = _as_it_is
        cell.append(convert)
        self._converters[shape.name] = convert
        return convert


def _epoch_seconds(value: Any) -> Any:
    return round(value.timestamp(), 3) if isinstance(value, dt.datetime) else value


def _as_it_is(value: Any) -> Any:
    return value


def _has_timestamp(shape: Shape, seen: frozenset[str]) -> bool:
    if shape.type_name == "timestamp":
        return True
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    children: list[Shape] = []
    if shape.type_name == "structure":
        children = list(shape.members.values())
    elif shape.type_name == "list":
        children = [shape.member]
    elif shape.type_name == "map":
        children = [shape.value]
    return any(_has_timestamp(child, seen) for child in children)
