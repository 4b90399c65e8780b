"""The validators of wire/validate.py, compiled from the model to straight-line Python at start.

validate.py's checkers are closures: a call per member, a dotted path built for every member
checked, an issue list passed down. That is what an error report needs, and more than a valid
request does. So each input shape also gets a generated function that only decides: it returns
the value as the model knows it (the same value validate.py's checker returns) or raises
`Refused` at the first rule broken. A request that passes is done; one that fails is checked
again by validate.py's checker, which names every problem in AWS's words. The rules are the
same (the same shape metadata, read the same way); tests/wire/test_compiled_checks.py holds the
two to the same verdict and the same value on generated requests of every operation.

The source is generated from the botocore shapes, never written per operation: one function per
shape name (scalar members of a structure inline, containers and nested structures by call), one
module per model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from botocore.model import Shape


class Refused(Exception):
    """The value breaks a rule (which one, validate.py's checker says)."""


Decider = Callable[[Any], Any]


class Compiled:
    """The generated function of each shape of one model, compiled on first use and memoised by
    shape name (as validate.Checkers is)."""

    def __init__(self) -> None:
        self._source: list[str] = []
        self._names: dict[str, str] = {}  # shape name -> function name
        self._namespace: dict[str, Any] = {"Refused": Refused, "isfinite": math.isfinite}
        self._constants = 0
        # (constant, member name -> function name): a union's table, filled once its functions exist
        self._pending_tables: list[tuple[str, dict[str, str]]] = []

    def __call__(self, shape: Shape) -> Decider:
        """The decider of `shape`: its value as the model knows it, or Refused."""
        pending = len(self._source)
        name = self._function(shape)
        if len(self._source) > pending:
            code = "\n".join(self._source[pending:])
            exec(compile(code, f"<paycrypt checks of {shape.name}>", "exec"), self._namespace)
            for constant, table in self._pending_tables:
                self._namespace[constant].update({n: self._namespace[f] for n, f in table.items()})
            self._pending_tables.clear()
        decide: Decider = self._namespace[name]
        return decide

    def _constant(self, value: Any) -> str:
        self._constants += 1
        name = f"_c{self._constants}"
        self._namespace[name] = value
        return name

    def _function(self, shape: Shape) -> str:
        found = self._names.get(shape.name)
        if found is not None:
            return found
        name = self._names[shape.name] = f"_s{len(self._names)}_{re.sub(r'[^0-9A-Za-z_]', '_', shape.name)}"
        lines = [f"def {name}(v):"]
        kind = shape.type_name
        if kind == "structure":
            lines += self._structure(shape)
        elif kind == "list":
            lines += self._list(shape)
        elif kind == "map":
            lines += self._map(shape)
        else:
            lines += self._scalar(shape, "v", "    ")
            lines.append("    return v")
        self._source.append("\n".join(lines) + "\n")
        return name

    def _union(self, shape: Shape) -> list[str]:
        """Exactly one member set: the members present are looked at, not every member modelled."""
        table = {name: self._function(member) for name, member in shape.members.items()}
        members = self._constant({})
        self._pending_tables.append((members, table))
        return [
            "    if not isinstance(v, dict):",
            "        raise Refused",
            "    k = {}",
            "    for n, x in v.items():",
            "        if x is not None:",
            f"            f = {members}.get(n)",
            "            if f is not None:",
            "                k[n] = f(x)",
            "    if len(k) != 1:",
            "        raise Refused",
            "    return k",
        ]

    def _structure(self, shape: Shape) -> list[str]:
        if shape.is_tagged_union and not shape.required_members:
            return self._union(shape)
        required = set(shape.required_members)
        lines = ["    if not isinstance(v, dict):", "        raise Refused", "    k = {}"]
        for member_name, member in shape.members.items():
            lines.append(f"    x = v.get({member_name!r})")
            if member_name in required:
                lines += ["    if x is None:", "        raise Refused"]
                body, indent = [], "    "
            else:
                body, indent = ["    if x is not None:"], "        "
            if member.type_name in ("structure", "list", "map"):
                body.append(f"{indent}k[{member_name!r}] = {self._function(member)}(x)")
            else:
                body += self._scalar(member, "x", indent)
                body.append(f"{indent}k[{member_name!r}] = x")
            lines += body
        if shape.is_tagged_union:
            lines += ["    if len(k) != 1:", "        raise Refused"]
        lines.append("    return k")
        return lines

    def _list(self, shape: Shape) -> list[str]:
        item = self._function(shape.member)
        return [
            "    if not isinstance(v, list):",
            "        raise Refused",
            *self._length("len(v)", shape, "    "),
            "    out = []",
            "    for x in v:",
            "        if x is None:",
            "            raise Refused",
            f"        out.append({item}(x))",
            "    return out",
        ]

    def _map(self, shape: Shape) -> list[str]:
        key, value = self._function(shape.key), self._function(shape.value)
        return [
            "    if not isinstance(v, dict):",
            "        raise Refused",
            *self._length("len(v)", shape, "    "),
            "    out = {}",
            "    for x, y in v.items():",
            f"        {key}(x)",
            "        if y is None:",
            "            raise Refused",
            f"        out[x] = {value}(y)",
            "    return out",
        ]

    def _scalar(self, shape: Shape, var: str, indent: str) -> list[str]:
        """The checks of a scalar in `var`, as validate.py's builder of its type makes them."""
        meta, kind = shape.metadata, shape.type_name
        if kind == "string":
            lines = [
                f"if not isinstance({var}, str):",
                "    raise Refused",
                f"if not {var}.isascii():",
                f"    {var}.encode('utf-8')",  # a lone surrogate raises UnicodeEncodeError: refused
            ]
            if meta.get("enum"):
                lines += [f"if {var} not in {self._constant(frozenset(meta['enum']))}:", "    raise Refused"]
            lines += self._length(f"len({var})", shape, "")
            if "pattern" in meta:
                try:
                    fullmatch = self._constant(re.compile(meta["pattern"]).fullmatch)
                    lines += [f"if {fullmatch}({var}) is None:", "    raise Refused"]
                except re.error:  # a syntax Python's re lacks (STS's \p{L}): validate.py decides
                    lines += ["raise Refused"]
        elif kind in ("integer", "long"):
            lines = [f"if isinstance({var}, bool) or not isinstance({var}, int):", "    raise Refused"]
            if meta.get("min") is not None:
                lines += [f"if {var} < {meta['min']!r}:", "    raise Refused"]
            if meta.get("max") is not None:
                lines += [f"if {var} > {meta['max']!r}:", "    raise Refused"]
        elif kind == "boolean":
            lines = [f"if not isinstance({var}, bool):", "    raise Refused"]
        elif kind == "timestamp":
            lines = [
                f"if isinstance({var}, bool) or not isinstance({var}, (int, float, str)):",
                "    raise Refused",
                f"if isinstance({var}, float) and not isfinite({var}):",
                "    raise Refused",
            ]
        else:  # validate.py's _build_any: anything goes
            lines = []
        return [indent + line for line in lines]

    def _length(self, length: str, shape: Shape, indent: str) -> list[str]:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        lines = []
        if low is not None:
            lines += [f"if {length} < {low!r}:", "    raise Refused"]
        if high is not None:
            lines += [f"if {length} > {high!r}:", "    raise Refused"]
        return [indent + line for line in lines]
