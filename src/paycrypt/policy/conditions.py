"""IAM policy Condition blocks, Resource/ARN patterns and policy variables, compiled once.

The semantics are IAM's ("IAM JSON policy elements: Condition operators" and "Variables and
tags" in the IAM User Guide); `paycrypt.policy.evaluation` documents the decisions as a whole. Here:

- A condition block holds when every operator/key pair holds (AND); a pair holds when the
  request's value matches any of the policy's values (OR). Negated operators (`StringNotEquals`,
  `StringNotLike`, `NumericNotEquals`, `DateNotEquals`, `ArnNotEquals`, `ArnNotLike`,
  `NotIpAddress`, `StringNotEqualsIgnoreCase`) hold when the value matches none of them.
- A key missing from the request: a positive operator is false, a negated one true; with
  `...IfExists` any operator is true; `ForAllValues:` is true and `ForAnyValue:` false. An empty
  multi-valued key (no tag keys) counts as missing.
- A multi-valued key (`aws:TagKeys`, `payment-cryptography:ResourceAliases`) under a plain
  operator matches when any of its values does (negated: when none does); `ForAllValues:` needs
  every value to satisfy the operator, `ForAnyValue:` at least one.
- `Null` is true for `"true"` when the key is missing (or empty) and for `"false"` when present.
- String values compare case-sensitively (`...IgnoreCase` folds case); `*`/`?` wildcards only in
  `...Like`. `ArnEquals` and `ArnLike` are the same operator, as in IAM: each of the six
  colon-separated ARN parts is matched on its own, so a wildcard never spans a colon except in
  the last (resource) part.
- Policy variables (`${aws:username}`, `${aws:PrincipalAccount}`, any single-valued context
  key, with an optional default `${aws:username, 'nobody'}`; `${*}`, `${?}` and `${$}` are the
  literal characters) are substituted in Resource/NotResource and condition values, only in
  policies of Version 2012-10-17 (elsewhere they are literal text, as in IAM). A variable that
  cannot be resolved (missing or multi-valued key, no default) makes its Resource pattern match
  nothing and its condition pair false, whatever the operator.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

Value = str | tuple[str, ...] | None
Getter = Callable[[str], Value]


class PolicyError(ValueError):
    """A malformed policy document; the message names the element at fault."""


# ---------------------------------------------------------------------------------------------
# Policy variables and wildcard patterns

_VAR = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'((?:[^']|'')*)'\s*$")
STAR = object()  # a wildcard `*` token (as opposed to a literal '*' character)
QMARK = object()  # a wildcard `?` token

# A template: a tuple of parts, each a str (literal text, in which `*`/`?` are wildcards for
# patterns), a 1-tuple holding a literal special character from ${*} ${?} ${$}, or a
# (key, default) pair naming a variable (key lower-cased; default None when absent).
Template = tuple[Any, ...]


def parse_template(text: str) -> Template | None:
    """The parts of a value with policy variables, or None when it has none."""
    if "${" not in text:
        return None
    parts: list[Any] = []
    pos = 0
    for match in _VAR.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        body = match.group(1)
        stripped = body.strip()
        if stripped in ("*", "?", "$"):
            parts.append((stripped,))
        elif (found := _DEFAULT.match(body)) is not None:
            parts.append((found.group(1).lower(), found.group(2).replace("''", "'")))
        elif stripped and " " not in stripped and "," not in stripped:
            parts.append((stripped.lower(), None))
        else:  # not a variable IAM understands: keep it as literal text
            parts.append(match.group(0))
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def _resolve_variable(part: tuple[Any, ...], get: Getter) -> str | None:
    key, default = part
    value = get(key)
    if isinstance(value, str):
        return value
    return default


def substitute(template: Template, get: Getter) -> str | None:
    """The template as plain text (specials as their characters), or None if unresolvable."""
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        elif len(part) == 1:
            out.append(part[0])
        else:
            value = _resolve_variable(part, get)
            if value is None:
                return None
            out.append(value)
    return "".join(out)


def _tokens(template: Template, get: Getter | None) -> list[Any] | None:
    """Pattern tokens: single literal characters, STAR and QMARK. None if unresolvable."""
    tokens: list[Any] = []
    for part in template:
        if isinstance(part, str):
            tokens.extend(STAR if ch == "*" else QMARK if ch == "?" else ch for ch in part)
        elif len(part) == 1:
            tokens.append(part[0])
        else:
            if get is None:
                return None
            value = _resolve_variable(part, get)
            if value is None:
                return None
            tokens.extend(value)
    return tokens


def _regex(tokens: list[Any], arn: bool) -> str:
    """A regular expression for pattern tokens; for ARNs, `*`/`?` stay inside one colon part
    for the first five parts."""
    out: list[str] = []
    colons = 0
    for token in tokens:
        bounded = arn and colons < 5
        if token is STAR:
            out.append("[^:]*" if bounded else ".*")
        elif token is QMARK:
            out.append("[^:]" if bounded else ".")
        else:
            if token == ":":
                colons += 1
            out.append(re.escape(token))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compiled(regex: str, flags: int) -> re.Pattern[str]:
    return re.compile(regex, flags | re.DOTALL)


class Pattern:
    """A wildcard pattern (Action, Resource, StringLike, ArnLike value), compiled once.

    Exact patterns compare with ==, `*` alone matches everything, patterns with variables are
    compiled per resolved text (cached)."""

    __slots__ = ("arn", "exact", "flags", "match_all", "regex", "template")

    def __init__(self, text: str, *, arn: bool, ignore_case: bool = False, variables: bool = False) -> None:
        self.arn = arn
        self.flags = re.IGNORECASE if ignore_case else 0
        self.match_all = text == "*"
        self.template = parse_template(text) if variables else None
        self.exact: str | None = None
        self.regex: re.Pattern[str] | None = None
        if self.match_all or self.template is not None:
            return
        if "*" not in text and "?" not in text:
            self.exact = text.lower() if ignore_case else text
        else:
            tokens = _tokens((text,), None)
            assert tokens is not None
            self.regex = _compiled(_regex(tokens, arn), self.flags)

    def matches(self, value: str, get: Getter | None = None) -> bool | None:
        """Does the value match (None: the pattern has a variable that cannot be resolved)?"""
        if self.match_all:
            return True
        if self.exact is not None:
            return (value.lower() if self.flags else value) == self.exact
        if self.regex is not None:
            return self.regex.fullmatch(value) is not None
        assert self.template is not None
        tokens = _tokens(self.template, get)
        if tokens is None:
            return None
        return _compiled(_regex(tokens, self.arn), self.flags).fullmatch(value) is not None


# ---------------------------------------------------------------------------------------------
# Condition operators

# operator name → (comparison kind, negated)
_OPERATORS: dict[str, tuple[str, bool]] = {
    "StringEquals": ("str", False),
    "StringNotEquals": ("str", True),
    "StringEqualsIgnoreCase": ("stri", False),
    "StringNotEqualsIgnoreCase": ("stri", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "NumericEquals": ("num=", False),
    "NumericNotEquals": ("num=", True),
    "NumericLessThan": ("num<", False),
    "NumericLessThanEquals": ("num<=", False),
    "NumericGreaterThan": ("num>", False),
    "NumericGreaterThanEquals": ("num>=", False),
    "DateEquals": ("date=", False),
    "DateNotEquals": ("date=", True),
    "DateLessThan": ("date<", False),
    "DateLessThanEquals": ("date<=", False),
    "DateGreaterThan": ("date>", False),
    "DateGreaterThanEquals": ("date>=", False),
    "Bool": ("bool", False),
    "BinaryEquals": ("str", False),
    "IpAddress": ("ip", False),
    "NotIpAddress": ("ip", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "Null": ("null", False),
}
OPERATORS = frozenset(_OPERATORS)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_EPOCH = re.compile(r"^-?\d+$")


def parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number else None  # NaN never matches


def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time (UTC when no offset) or epoch seconds."""
    if _EPOCH.match(text):
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")


class Clause:
    """One operator/key pair of a Condition block."""

    __slots__ = ("compare", "if_exists", "key", "kind", "negated", "qualifier", "static", "templates")

    def __init__(self, operator: str, key: str, raw: Any, where: str, variables: bool) -> None:
        qualifier = ""
        name = operator
        for prefix in ("ForAllValues:", "ForAnyValue:"):
            if name.startswith(prefix):
                qualifier, name = prefix[:-1], name[len(prefix) :]
        if_exists = name.endswith("IfExists") and name[:-8] in _OPERATORS
        if if_exists:
            name = name[:-8]
        if name not in _OPERATORS:
            raise PolicyError(f"{where}: unknown condition operator {operator}")
        kind, negated = _OPERATORS[name]
        if kind == "null" and (if_exists or qualifier):
            raise PolicyError(f"{where}: {operator} is not a valid condition operator")
        if not isinstance(key, str) or ":" not in key or not key.split(":", 1)[1]:
            raise PolicyError(f"{where}: condition key {key!r} must be of the form prefix:name")
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise PolicyError(f"{where}: condition {operator} {key} has no values")
        texts = [_scalar(v, where) for v in values]
        self.key = key.lower()
        self.kind = kind
        self.negated = negated
        self.qualifier = qualifier
        self.if_exists = if_exists
        self.templates: tuple[Template | None, ...] = tuple(
            parse_template(t) if variables and kind != "null" else None for t in texts
        )
        self.static = all(t is None for t in self.templates)
        self.compare = self._compile(kind, texts, where, variables)

    def _compile(self, kind: str, texts: list[str], where: str, variables: bool) -> Any:
        """The per-kind matcher: (value, getter) → does the value match any policy value."""
        if kind == "null":
            flags = set()
            for text in texts:
                if text.lower() not in ("true", "false"):
                    raise PolicyError(f"{where}: Null takes true or false")
                flags.add(text.lower() == "true")
            return frozenset(flags)
        if kind == "bool":
            for text in texts:
                if text.lower() not in ("true", "false") and "${" not in text:
                    raise PolicyError(f"{where}: Bool takes true or false")
        if kind in ("like", "arn"):
            return tuple(Pattern(t, arn=kind == "arn", variables=variables) for t in texts)
        if kind == "ip":
            try:
                return tuple(ipaddress.ip_network(t, strict=False) for t in texts)
            except ValueError:
                raise PolicyError(f"{where}: IpAddress values must be IP addresses or CIDR ranges") from None
        if kind.startswith(("num", "date")) and self.static:
            parse = parse_number if kind.startswith("num") else parse_date
            parsed = [parse(t) for t in texts]
            if any(p is None for p in parsed):
                label = "numbers" if kind.startswith("num") else "dates (ISO 8601 or epoch seconds)"
                raise PolicyError(f"{where}: {kind[:4].rstrip('<=>')} condition values must be {label}")
            return tuple(parsed)
        return tuple(texts)

    def _values(self, get: Getter) -> list[str] | None:
        """The policy's values with variables substituted; None if any is unresolvable."""
        out: list[str] = []
        for text, template in zip(self.compare, self.templates, strict=True):
            if template is None:
                out.append(text)
            else:
                value = substitute(template, get)
                if value is None:
                    return None
                out.append(value)
        return out

    def _match_one(self, value: str, get: Getter) -> bool | None:
        """Does one request value match any policy value (None: unresolvable variable)."""
        kind = self.kind
        if kind in ("like", "arn"):
            if kind == "arn" and value.count(":") < 5:
                return False
            for pattern in self.compare:
                found = pattern.matches(value, get)
                if found is None or found:
                    return found
            return False
        if kind == "ip":
            address = _parse_ip(value)
            return address is not None and any(
                address.version == net.version and address in net for net in self.compare
            )
        if kind.startswith(("num", "date")):
            parse = parse_number if kind.startswith("num") else parse_date
            if self.static:
                limits = self.compare
            else:
                texts = self._values(get)
                if texts is None:
                    return None
                limits = tuple(parse(t) for t in texts)
            here = parse(value)
            if here is None:
                return False
            test = _COMPARE[kind[4:] if kind.startswith("date") else kind[3:]]
            return any(limit is not None and test(here, limit) for limit in limits)
        texts = self.compare if self.static else self._values(get)
        if texts is None:
            return None
        if kind == "str":
            return value in texts
        if kind == "stri":
            folded = value.casefold()
            return any(folded == t.casefold() for t in texts)
        # bool
        lowered = value.lower()
        return any(lowered == t.lower() for t in texts)

    def holds(self, get: Getter) -> bool:
        raw = get(self.key)
        if self.kind == "null":
            return (raw is None or raw == ()) in self.compare
        if raw is None or raw == ():
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.negated
        values = (raw,) if isinstance(raw, str) else raw
        negated = self.negated
        if self.qualifier:
            every = self.qualifier == "ForAllValues"
            for value in values:
                found = self._match_one(value, get)
                if found is None:
                    return False
                if (found != negated) != every:  # a counter-example (all) / a witness (any)
                    return not every
            return every
        for value in values:
            found = self._match_one(value, get)
            if found is None:
                return False
            if found:
                return not negated
        return negated


def compile_conditions(block: Any, where: str, variables: bool) -> tuple[Clause, ...]:
    if not isinstance(block, Mapping):
        raise PolicyError(f"{where}: Condition must be an object")
    clauses: list[Clause] = []
    for operator, pairs in block.items():
        if not isinstance(pairs, Mapping) or not pairs:
            raise PolicyError(f"{where}: Condition {operator} must map condition keys to values")
        for key, raw in pairs.items():
            clauses.append(Clause(operator, key, raw, f"{where}.Condition", variables))
    # Cheap clauses first: the order does not change an AND, only how soon it stops.
    clauses.sort(key=lambda c: 0 if c.kind in ("str", "null", "bool") else 1)
    return tuple(clauses)
