"""Picking the one member set in a union input, and refusing members this release lacks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from paycrypt.errors import NotImplementedOperation

T = TypeVar("T")


def member(union: dict[str, Any]) -> tuple[str, Any]:
    """The (name, value) of the member set; the wire layer has already checked there is one."""
    for name, value in union.items():
        if value is not None:
            return name, value
    raise AssertionError("validated union has no member set")


def handler(operation: str, union_name: str, name: str, table: Mapping[str, T]) -> T:
    found = table.get(name)
    if found is None:
        raise NotImplementedOperation(
            f"{operation} with {union_name}.{name} is not available in this paycrypt release."
        )
    return found


Handler = Callable[..., Any]
