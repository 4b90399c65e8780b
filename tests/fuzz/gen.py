"""Seeded generators with hypothesis's strategy vocabulary, at the speed a fuzz budget needs.

Why not hypothesis itself: measured on this 2-core machine, its engine costs about 3 ms per
example for a single integer, and 22-30 ms per fuzz request (with @given, or drawing through
ConjectureData without the engine), so 5,000 requests would spend two minutes in generation
alone. These generators draw from one `random.Random`: a fuzz request costs well under a
millisecond, a run is reproducible from its seed, and the strategies read as they would with
hypothesis (`one_of`, `sampled_from`, `fixed_dictionaries`, `from_regex`, `.map`, ...). What is
given up is shrinking, which a fuzz run that reports its failing requests verbatim does not need.
"""

from __future__ import annotations

import math
import random
import re
import re._parser as sre_parse  # the parser `re` itself uses: from_regex walks its parse tree
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DrawFn = Callable[["Gen"], Any]


class Rejected(Exception):
    """A filter found nothing after many tries: the caller draws the whole value again."""


class Gen:
    """A generator of values: `draw(rnd)` gives one."""

    def __init__(self, draw: Callable[[random.Random], Any]) -> None:
        self.draw = draw

    def map(self, f: Callable[[Any], Any]) -> Gen:
        return Gen(lambda rnd: f(self.draw(rnd)))

    def flatmap(self, f: Callable[[Any], Gen]) -> Gen:
        return Gen(lambda rnd: f(self.draw(rnd)).draw(rnd))

    def filter(self, keep: Callable[[Any], bool], tries: int = 100) -> Gen:
        def draw(rnd: random.Random) -> Any:
            for _ in range(tries):
                value = self.draw(rnd)
                if keep(value):
                    return value
            raise Rejected("filter")

        return Gen(draw)

    def __or__(self, other: Gen) -> Gen:
        return one_of(self, other)


def just(value: Any) -> Gen:
    return Gen(lambda rnd: value)


def none() -> Gen:
    return just(None)


def booleans() -> Gen:
    return Gen(lambda rnd: rnd.random() < 0.5)


def sampled_from(values: Sequence[Any]) -> Gen:
    values = tuple(values)
    return Gen(lambda rnd: values[rnd.randrange(len(values))])


def one_of(*gens: Gen) -> Gen:
    return Gen(lambda rnd: gens[rnd.randrange(len(gens))].draw(rnd))


def tuples(*gens: Gen) -> Gen:
    return Gen(lambda rnd: tuple(g.draw(rnd) for g in gens))


def builds(f: Callable[..., Any], *gens: Gen) -> Gen:
    return Gen(lambda rnd: f(*(g.draw(rnd) for g in gens)))


def composite(f: Callable[..., Any]) -> Callable[..., Gen]:
    """`@composite def g(draw, *args)`: draw(gen) inside gives a value, as with hypothesis."""

    def make(*args: Any) -> Gen:
        return Gen(lambda rnd: f(lambda g: g.draw(rnd), *args))

    return make


def integers(min_value: int | None = None, max_value: int | None = None) -> Gen:
    """Mostly small numbers, often the bounds, sometimes anything in range."""
    low = -(2**64) if min_value is None else min_value
    high = 2**64 if max_value is None else max_value

    def draw(rnd: random.Random) -> int:
        roll = rnd.random()
        if roll < 0.2:
            return low if rnd.random() < 0.5 else high
        if roll < 0.6:
            small = rnd.randint(-128, 128)
            if low <= small <= high:
                return small
        return rnd.randint(low, high)

    return Gen(draw)


_SPECIAL_FLOATS = (0.0, -0.0, 0.5, 1.5, -1.5, 1e-300, 1e300, 2.0**53 + 1, 123456789.125)


def floats(allow_nan: bool = True, allow_infinity: bool = True) -> Gen:
    specials = [
        *_SPECIAL_FLOATS,
        *([math.nan] if allow_nan else []),
        *([math.inf, -math.inf] if allow_infinity else []),
    ]

    def draw(rnd: random.Random) -> float:
        if rnd.random() < 0.3:
            return specials[rnd.randrange(len(specials))]
        return rnd.uniform(-1e6, 1e6)

    return Gen(draw)


def characters(codec: str | None = None) -> Gen:
    """A character: ASCII most often, then Latin-1, the rest of the BMP and the astral planes;
    surrogates only without a codec (a codec cannot encode them)."""

    def draw(rnd: random.Random) -> str:
        roll = rnd.random()
        if roll < 0.6:
            point = rnd.randint(0x20, 0x7E)
        elif roll < 0.7:
            point = rnd.randint(0, 0xFF)
        elif roll < 0.9:
            point = rnd.randint(0x100, 0xFFFF)
        else:
            point = rnd.randint(0x10000, sys.maxunicode)
        if codec is not None and 0xD800 <= point <= 0xDFFF:
            point = 0xFFFD
        return chr(point)

    return Gen(draw)


def text(alphabet: Gen | None = None, min_size: int = 0, max_size: int = 20) -> Gen:
    alphabet = alphabet or characters()
    return Gen(lambda rnd: "".join(alphabet.draw(rnd) for _ in range(rnd.randint(min_size, max_size))))


def lists(element: Gen, min_size: int = 0, max_size: int = 5, unique: bool = False) -> Gen:
    def draw(rnd: random.Random) -> list[Any]:
        size = rnd.randint(min_size, max_size)
        out: list[Any] = []
        for _ in range(size * (3 if unique else 1)):
            value = element.draw(rnd)
            if not unique or value not in out:
                out.append(value)
            if len(out) == size:
                break
        if len(out) < min_size:
            raise Rejected("unique")
        return out

    return Gen(draw)


def dictionaries(keys: Gen, values: Gen, min_size: int = 0, max_size: int = 5) -> Gen:
    def draw(rnd: random.Random) -> dict[Any, Any]:
        size = rnd.randint(min_size, max_size)
        out: dict[Any, Any] = {}
        for _ in range(size * 3):
            out[keys.draw(rnd)] = values.draw(rnd)
            if len(out) >= size:
                break
        return out

    return Gen(draw)


def fixed_dictionaries(required: Mapping[str, Gen], optional: Mapping[str, Gen] | None = None) -> Gen:
    """Every required member; each optional one present half the time."""
    required, optional = dict(required), dict(optional or {})

    def draw(rnd: random.Random) -> dict[str, Any]:
        out = {name: g.draw(rnd) for name, g in required.items()}
        for name, g in optional.items():
            if rnd.random() < 0.5:
                out[name] = g.draw(rnd)
        return out

    return Gen(draw)


def recursive(base: Gen, extend: Callable[[Gen], Gen], max_depth: int = 3) -> Gen:
    layers = [base]
    for _ in range(max_depth):
        layers.append(one_of(base, extend(layers[-1])))
    return layers[-1]


# --- from_regex: values matching a pattern, drawn from the parse tree `re` builds ----------------

_MAX_REPEAT = 8  # draws of an unbounded repeat (+, *) stay short; lengths come from the caller


def from_regex(pattern: str, fullmatch: bool = True) -> Gen:
    """Text that `re.fullmatch(pattern, ·)` accepts (anchors inside alternatives included)."""
    tree = sre_parse.parse(pattern)
    compiled = re.compile(pattern)
    gen = Gen(lambda rnd: "".join(_emit(tree, rnd)))
    return gen.filter(lambda s: compiled.fullmatch(s) is not None)


def _emit(items: Any, rnd: random.Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(chr(arg + 1 if arg < 0x7E else 0x21))
        elif name == "ANY":
            out.append(chr(rnd.randint(0x21, 0x7E)))
        elif name == "IN":
            out.append(_in(arg, rnd))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            high = low + _MAX_REPEAT if high == sre_parse.MAXREPEAT else high
            for _ in range(rnd.randint(low, high)):
                out += _emit(sub, rnd)
        elif name == "SUBPATTERN":
            out += _emit(arg[-1], rnd)
        elif name == "BRANCH":
            branches = arg[1]
            out += _emit(branches[rnd.randrange(len(branches))], rnd)
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"from_regex: {name} is not supported")
    return out


def _in(items: Any, rnd: random.Random) -> str:
    """One character of a class: drawn from its ranges and literals (negated: printable ASCII and
    beyond, kept only when outside the class)."""
    negate = any(str(op) == "NEGATE" for op, _ in items)
    chosen: list[tuple[int, int]] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            chosen.append((arg, arg))
        elif name == "RANGE":
            chosen.append(arg)
        elif name == "CATEGORY":
            chosen.append({"CATEGORY_DIGIT": (48, 57), "CATEGORY_SPACE": (32, 32)}.get(str(arg), (97, 122)))
    if not negate:
        low, high = chosen[rnd.randrange(len(chosen))]
        return chr(rnd.randint(low, high))
    for _ in range(100):
        point = rnd.randint(0x20, 0x7E) if rnd.random() < 0.8 else rnd.randint(0xA0, 0x2FFF)
        if not any(low <= point <= high for low, high in chosen):
            return chr(point)
    raise Rejected("class")
