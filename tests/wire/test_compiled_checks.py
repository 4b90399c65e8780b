"""The compiled validators (wire/compiled_checks.py) against validate.py's checkers: on requests
generated from the models' own shapes, mostly valid and sometimes broken at any depth, the two
give the same verdict, and for a valid request the same value (unknown members and nulls gone)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paycrypt.wire import models, operations, validate
from paycrypt.wire.compiled_checks import Compiled, Refused

MODELS = models.load()
OPERATIONS = {plane: operations.compile_model(plane, service) for plane, service in MODELS.planes}
CASES = [
    (plane, name)
    for plane, ops in OPERATIONS.items()
    for name, op in sorted(ops.items())
    if op.input_shape is not None
]

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.just("\ud800"),  # a lone surrogate: JSON can carry one
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of `shape`: valid ones most of the time, junk now and then at any depth (about one
    member in twelve, so that a request is often broken in one place only)."""
    valid = _valid(shape, depth)
    return st.integers(0, 11).flatmap(lambda n: JUNK if n == 0 else valid) if depth else valid


def _valid(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    meta, kind = shape.metadata, shape.type_name
    low, high = meta.get("min"), meta.get("max")
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {name: values(member, depth + 1) for name, member in shape.members.items()}
        if shape.is_tagged_union:
            return st.one_of(*(st.fixed_dictionaries({n: s}) for n, s in members.items()), st.just({}))
        required = {n: s for n, s in members.items() if n in shape.required_members}
        optional = {n: s for n, s in members.items() if n not in required}
        extra = st.dictionaries(st.sampled_from(["Unknown", "x"]), JUNK, max_size=1)
        return st.tuples(st.fixed_dictionaries(required, optional=optional), extra).map(
            lambda both: {**both[1], **both[0]}
        )
    if kind == "list":
        return st.lists(values(shape.member, depth + 1), min_size=low or 0, max_size=min(high or 3, 3))
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), values(shape.value, depth + 1), max_size=2)
    if kind == "string":
        if meta.get("enum"):
            return st.sampled_from(meta["enum"])
        if "pattern" in meta:
            return st.from_regex(re.compile(meta["pattern"]), fullmatch=True).filter(
                lambda text: (low or 0) <= len(text) <= (high or 10**6)
            )
        return st.text(min_size=low or 0, max_size=min(high or 20, 20))
    if kind in ("integer", "long"):
        return st.integers(low if low is not None else -(2**40), high if high is not None else 2**40)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.one_of(st.integers(0, 2**33), st.floats(allow_nan=False), st.text(max_size=8))
    return JUNK


@pytest.mark.parametrize(("plane", "name"), CASES)
def test_compiled_and_interpreted_checks_agree(plane: str, name: str) -> None:
    op = OPERATIONS[plane][name]
    assert op.decide is not None and op.input_shape is not None

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(values(op.input_shape))
    def agree(value: Any) -> None:
        known, invalid = validate.validate_with(op.check, value)
        try:
            decided, refused = op.decide(value), False
        except (Refused, UnicodeEncodeError):
            decided, refused = None, True
        assert refused == (invalid is not None), invalid
        if not refused:
            assert decided == known

    agree()


def test_a_pattern_pythons_re_cannot_read_is_left_to_the_checker() -> None:
    """STS's tag patterns use \\p{L}: the compiled check refuses, and validate.py decides."""
    shape = MODELS.sts.shape_for("tagKeyType")
    with pytest.raises(Refused):
        Compiled()(shape)("key")
