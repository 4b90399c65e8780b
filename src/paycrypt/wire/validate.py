"""Input validation against the model's shapes: one compiled checker per shape.

Rules (Smithy constraint traits as AWS's front ends apply them): required members, JSON types,
enums, length (characters for strings, items for lists and maps), numeric range, patterns
(matched against the whole value), and unions with exactly one member set. Members the model
does not know are ignored, as AWS's JSON front ends do, so newer clients keep working.
Values are never echoed in messages except for enum mismatches, because members such as PANs,
PIN blocks and key material are sensitive.

A checker also returns the value as the model knows it: every structure (unions included), at
every depth, keeps only its modelled members that are not null. This is the one place where
unknown members and explicit nulls are removed, so nothing past the wire layer can pick an
unknown union member, store junk inside a structure, or read a null where a default applies.
A null inside a list or as a map value is not absent but malformed: it is refused.

Checkers are compiled per model by a `Checkers` (the wire layer holds one per plane), memoised by
shape name: nothing here keeps a model's shapes in a module global.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape

Issue = tuple[str, str]  # (dotted member path, what is wrong)
# Checks a value at a path, appends what is wrong, and returns the value as the model knows it.
Checker = Callable[[Any, str, list[Issue]], Any]

MAX_LISTED = 10


@dataclass(frozen=True)
class Invalid:
    """The outcome of a failed validation: a message and the field list AWS returns."""

    message: str
    fields: list[dict[str, str]]


def _invalid(issues: list[Issue]) -> Invalid:
    listed = issues[:MAX_LISTED]
    noun = "error" if len(issues) == 1 else "errors"
    message = f"{len(issues)} validation {noun} detected: " + "; ".join(
        f"Value at '{path}' failed to satisfy constraint: {what}" if path else what for path, what in listed
    )
    fields = [{"path": "/" + path.replace(".", "/"), "message": what} for path, what in listed]
    return Invalid(message, fields)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Checkers:
    """The checker of each shape of one model, compiled on first use.

    Memoised by shape name: names are unique within a model, and a member's reference to a shape
    adds only its location on the wire, never a constraint."""

    def __init__(self) -> None:
        self._memo: dict[str, Checker] = {}

    def __call__(self, shape: Shape) -> Checker:
        found = self._memo.get(shape.name)
        if found is None:
            found = self._memo[shape.name] = _BUILDERS.get(shape.type_name, _build_any)(shape, self)
        return found


def _build_structure(shape: Shape, checker: Checkers) -> Checker:
    members = list(shape.members.items())
    required = frozenset(shape.required_members)
    union = shape.is_tagged_union
    # Member checkers are resolved on first use, not here: shapes may be recursive.
    resolved: tuple[tuple[str, Checker], ...] | None = None

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        nonlocal resolved
        if not isinstance(value, dict):
            issues.append((path, "Member must be a structure"))
            return value
        if resolved is None:
            resolved = tuple((name, checker(member)) for name, member in members)
        known: dict[str, Any] = {}
        for name, member_check in resolved:
            item = value.get(name)
            if item is None:
                if name in required:
                    issues.append((_join(path, name), "Member must not be null"))
                continue
            known[name] = member_check(item, _join(path, name), issues)
        if union and len(known) != 1:
            names = ", ".join(name for name, _ in members)
            issues.append((path, f"Member must have exactly one of these members set: {names}"))
        return known

    return check


def _build_list(shape: Shape, checker: Checkers) -> Checker:
    member = shape.member
    bounds = _length_bounds(shape)

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, list):
            issues.append((path, "Member must be a list"))
            return value
        _check_length(len(value), bounds, path, issues)
        item_check = checker(member)
        items = []
        for index, item in enumerate(value):
            if item is None:
                issues.append((f"{path}.{index + 1}", "Member must not be null"))
            else:
                items.append(item_check(item, f"{path}.{index + 1}", issues))
        return items

    return check


def _build_map(shape: Shape, checker: Checkers) -> Checker:
    key_shape, value_shape = shape.key, shape.value
    bounds = _length_bounds(shape)

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, dict):
            issues.append((path, "Member must be a map"))
            return value
        _check_length(len(value), bounds, path, issues)
        entries = {}
        for key, item in value.items():
            checker(key_shape)(key, f"{path}.{key}", issues)
            if item is None:
                issues.append((f"{path}.{key}", "Member must not be null"))
            else:
                entries[key] = checker(value_shape)(item, f"{path}.{key}", issues)
        return entries

    return check


def _build_string(shape: Shape, checker: Checkers) -> Checker:
    meta = shape.metadata
    enum = frozenset(meta.get("enum", ()))
    enum_text = "[" + ", ".join(meta.get("enum", ())) + "]"
    bounds = _length_bounds(shape)
    pattern = re.compile(meta["pattern"]) if "pattern" in meta else None
    pattern_text = meta.get("pattern", "")

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, str):
            issues.append((path, "Member must be a string"))
            return value
        if not _is_unicode(value):
            issues.append((path, "Member must be valid Unicode text (no lone surrogates)"))
            return value
        if enum and value not in enum:
            shown = value if len(value) <= 64 else value[:64] + "..."
            issues.append(
                (path, f"Value '{shown}' is not valid; Member must satisfy enum value set: {enum_text}")
            )
            return value
        _check_length(len(value), bounds, path, issues)
        if pattern is not None and pattern.fullmatch(value) is None:
            issues.append((path, f"Member must satisfy regular expression pattern: {pattern_text}"))
        return value

    return check


def _build_integer(shape: Shape, checker: Checkers) -> Checker:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            issues.append((path, "Member must be an integer"))
            return value
        if low is not None and value < low:
            issues.append((path, f"Member must have value greater than or equal to {low}"))
        if high is not None and value > high:
            issues.append((path, f"Member must have value less than or equal to {high}"))
        return value

    return check


def _build_boolean(shape: Shape, checker: Checkers) -> Checker:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, bool):
            issues.append((path, "Member must be a boolean"))
        return value

    return check


def _build_timestamp(shape: Shape, checker: Checkers) -> Checker:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str) or not _finite(value):
            issues.append((path, "Member must be a timestamp"))
        return value

    return check


def _build_any(shape: Shape, checker: Checkers) -> Checker:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        return value

    return check


def _finite(value: int | float | str) -> bool:
    """Infinity (JSON `1e400`) is a float but no moment in time."""
    return not isinstance(value, float) or math.isfinite(value)


def _is_unicode(value: str) -> bool:
    """JSON can carry lone UTF-16 surrogates that no store, log or certificate can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _length_bounds(shape: Shape) -> tuple[int | None, int | None]:
    return shape.metadata.get("min"), shape.metadata.get("max")


def _check_length(length: int, bounds: tuple[int | None, int | None], path: str, issues: list[Issue]) -> None:
    low, high = bounds
    if low is not None and length < low:
        issues.append((path, f"Member must have length greater than or equal to {low}"))
    if high is not None and length > high:
        issues.append((path, f"Member must have length less than or equal to {high}"))


_BUILDERS: dict[str, Callable[[Shape, Checkers], Checker]] = {
    "structure": _build_structure,
    "list": _build_list,
    "map": _build_map,
    "string": _build_string,
    "integer": _build_integer,
    "long": _build_integer,
    "boolean": _build_boolean,
    "timestamp": _build_timestamp,
}


def validate_with(check: Checker, value: Any) -> tuple[Any, Invalid | None]:
    """The value as the model knows it, and what is wrong with it (the per-operation fast path)."""
    issues: list[Issue] = []
    known = check(value, "", issues)
    return known, (_invalid(issues) if issues else None)


def accept_empty(value: Any, path: str, issues: list[Issue]) -> dict[str, Any]:
    """An operation without input members: whatever was sent, nothing of it is modelled."""
    return {}
