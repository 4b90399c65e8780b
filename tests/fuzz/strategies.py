"""Strategies for requests to both Payment Cryptography planes, built from botocore's shapes.

Written in hypothesis's vocabulary, drawn by tests/fuzz/gen.py (which says why not hypothesis's
engine). For every shape of the two service models (loaded the way the server loads them,
`paycrypt.wire.models.load`) there are two strategies:

- `valid`: values that honour every constraint the shape has (required members, type, enum,
  length, range, pattern, unions with exactly one member), with the key identifiers drawn from
  the real keys of a `pool.Pool` so that requests get past key resolution and into the crypto;
- `broken`: values that violate one of them: a missing required member, the wrong JSON type,
  explicit nulls, enum values that are nearly right, lengths one past each bound, ranges one past
  each bound, characters outside the pattern, unions with zero or two members or with an unknown
  member before the real one, unknown members, deep nesting, huge strings and odd Unicode.

A request is one of: a valid request, a valid request with one to five *mutations* (a member
redrawn valid — the wrong key, the wrong length of hex for the crypto —, broken, dropped, set to
null, or joined by an unknown member), or a broken request shape from the top.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape

from paycrypt.service.rules import combinations
from paycrypt.wire import models
from paycrypt.wire.operations import Operation, compile_model
from tests.fuzz import gen
from tests.fuzz.pool import ROOT, Pool

# Control-plane calls that change a key, its tags, policy, replication or an alias: their key
# identifiers and alias names come from the pool's victims, never from its crypto keys.
MUTATING = frozenset(
    {
        "AddKeyReplicationRegions",
        "CreateAlias",
        "DeleteAlias",
        "DeleteKey",
        "DeleteResourcePolicy",
        "PutResourcePolicy",
        "RemoveKeyReplicationRegions",
        "RestoreKey",
        "StartKeyUsage",
        "StopKeyUsage",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
    }
)
IDENTIFIER_SHAPES = frozenset({"KeyArnOrKeyAliasType", "KeyArn", "ResourceArn"})

# Which keys a key-identifier member should name to reach the crypto behind it: by member name,
# and for the data plane's plain KeyIdentifier by operation.
_C = "TR31_C0_CARD_VERIFICATION_KEY"
MEMBER_KEYS: dict[str, tuple[str, ...]] = {
    "GenerationKeyIdentifier": ("TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TR31_V2_VISA_PIN_VERIFICATION_KEY"),
    "VerificationKeyIdentifier": (
        "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
    ),
    "EncryptionKeyIdentifier": ("TR31_P0_PIN_ENCRYPTION_KEY", "TR31_B0_BASE_DERIVATION_KEY"),
    "IncomingKeyIdentifier": (
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    ),
    "OutgoingKeyIdentifier": (
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    ),
    "NewPinPekIdentifier": ("TR31_P0_PIN_ENCRYPTION_KEY",),
    "CurrentPinPekIdentifier": ("TR31_P0_PIN_ENCRYPTION_KEY",),
    "SecureMessagingIntegrityKeyIdentifier": ("TR31_E2_EMV_MKEY_INTEGRITY",),
    "SecureMessagingConfidentialityKeyIdentifier": ("TR31_E1_EMV_MKEY_CONFIDENTIALITY",),
    "AuthorizationRequestKeyIdentifier": ("TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",),
    "WrappingKeyIdentifier": (
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "TR31_K2_TR34_ASYMMETRIC_KEY",
    ),
    "CertificateAuthorityPublicKeyIdentifier": (ROOT,),
    "PrivateKeyIdentifier": ("TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",),
    "SigningKeyIdentifier": ("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",),
}
OPERATION_KEYS: dict[str, tuple[str, ...]] = {
    "GenerateCardValidationData": (_C, "TR31_E6_EMV_MKEY_OTHER", "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS"),
    "VerifyCardValidationData": (_C, "TR31_E6_EMV_MKEY_OTHER", "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS"),
    "GenerateMac": (
        "TR31_M0_ISO_16609_MAC_KEY",
        "TR31_M1_ISO_9797_1_MAC_KEY",
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "TR31_M7_HMAC_KEY",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TR31_E2_EMV_MKEY_INTEGRITY",
    ),
    "EncryptData": (
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        "TR31_B0_BASE_DERIVATION_KEY",
        "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
    ),
    "GenerateAuthRequestCryptogram": ("TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",),
    "GenerateAs2805KekValidation": ("TR31_K0_KEY_ENCRYPTION_KEY", "TR31_K1_KEY_BLOCK_PROTECTION_KEY"),
}
OPERATION_KEYS["VerifyMac"] = OPERATION_KEYS["GenerateMac"]
OPERATION_KEYS["DecryptData"] = OPERATION_KEYS["EncryptData"]
OPERATION_KEYS["ReEncryptData"] = OPERATION_KEYS["EncryptData"]
OPERATION_KEYS["VerifyAuthRequestCryptogram"] = OPERATION_KEYS["GenerateAuthRequestCryptogram"]

# Text that has broken parsers, loggers and encoders elsewhere: NUL, zero-width and bidi
# controls, a BOM, lone surrogates (JSON can carry them, UTF-8 cannot), astral and combining
# characters, digits of other scripts (\d matches them, [0-9] does not), case-mapping oddities,
# separators JSON allows raw but JavaScript does not, and injection classics.
ODD = (
    "\x00",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\U0001f4a9",
    "e\u0301",
    "\uff10",
    "\u0663",
    "\U0001d7d8",
    "\u2028",
    "\x7f",
    "\x85",
    "\r\n",
    "\u0130",
    "\u00df",
    "\ufb00",
    "\\",
    '"',
    "%00",
    "../",
    "%s%n",
    "<script>",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
    "{{7*7}}",
)
# Every KeyAttributes CreateKey accepts (the validity table), so that CreateKey gets past its rules
# and makes keys; RSA-3072 and -4096 are left to the model-only draws, being seconds of CPU each.
CREATABLE = [
    {
        "KeyUsage": usage,
        "KeyClass": rule.key_class,
        "KeyAlgorithm": algorithm,
        "KeyModesOfUse": {mode: True for mode in sorted(modes)},
    }
    for usage, rule in combinations.RULES.items()
    for algorithm in sorted(rule.algorithms - {"RSA_3072", "RSA_4096"})
    for modes in sorted(rule.modes, key=sorted)
]
HUGE = (4097, 5000, 9985, 20481, 32769, 70000, 300000)
UNKNOWN_NAMES = ("X", "x", "", "__type", "__proto__", "constructor", "Message", "KeyIdentifier", "null")


class Raw:
    """JSON text spliced into a body as is: what Python's json cannot produce (numbers past its
    4,300-digit limit, NaN, nesting deeper than its recursion limit)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def dumps(value: Any, ascii_only: bool = True) -> bytes:
    """The JSON body for `value`, with every `Raw` spliced in; lone surrogates pass through as
    escapes (ascii_only) or as the invalid UTF-8 a careless encoder would write."""
    spliced: list[str] = []

    def default(obj: Any) -> str:
        if isinstance(obj, Raw):
            spliced.append(obj.text)
            return f"\x00raw{len(spliced) - 1}\x00"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=default, ensure_ascii=ascii_only)
    for index, raw in enumerate(spliced):
        text = text.replace(f'"\\u0000raw{index}\\u0000"', raw, 1)
    return text.encode("utf-8", "surrogatepass")


@dataclass
class Call:
    """One generated call: the operation, the members as they will be sent, and how it was made."""

    op: Operation
    params: Any
    kind: str  # valid | mutated | broken
    ascii_only: bool = True


# --- JSON values of no particular shape -------------------------------------------------------

odd_text = gen.lists(gen.one_of(gen.sampled_from(ODD), gen.characters()), min_size=1, max_size=12).map(
    "".join
)


def _repeat(chunk: str, n: int) -> str:
    return (chunk * (n // max(len(chunk), 1) + 1))[:n] if chunk else ""


huge_text = gen.builds(
    _repeat,
    gen.one_of(gen.sampled_from(["9", "A", "0F", " ", "é", "\U0001f4a9"]), odd_text),
    gen.sampled_from(HUGE),
)


def _nest(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "0" + "}" * depth)


deep = gen.builds(
    _nest, gen.sampled_from([33, 100, 500, 990, 1100, 5000, 100_000]), gen.sampled_from(["list", "dict"])
)
odd_numbers = gen.sampled_from(
    [
        Raw("9" * 5000),
        Raw("-" + "9" * 4301),
        Raw("1e999"),
        Raw("-1e999"),
        Raw("NaN"),
        Raw("Infinity"),
        Raw("-0"),
        Raw("1.0"),
        Raw("0.5e-400"),
        2**31,
        -(2**31) - 1,
        2**63,
        10**30,
        1.5,
        -1,
        0,
    ]
)
scalars = gen.one_of(
    gen.none(),
    gen.booleans(),
    gen.integers(),
    gen.floats(allow_nan=False, allow_infinity=False),
    gen.text(max_size=20),
)
anything = gen.recursive(
    scalars,
    lambda children: (
        gen.lists(children, max_size=3) | gen.dictionaries(gen.text(max_size=8), children, max_size=3)
    ),
)
WRONG = {
    "structure": gen.one_of(
        gen.lists(scalars, max_size=2), gen.text(max_size=5), gen.integers(), gen.booleans()
    ),
    "list": gen.one_of(
        gen.dictionaries(gen.text(max_size=3), scalars, max_size=2), gen.text(max_size=5), gen.integers()
    ),
    "map": gen.one_of(gen.lists(scalars, max_size=2), gen.text(max_size=5), gen.integers()),
    "string": gen.one_of(
        gen.integers(),
        gen.floats(allow_nan=False),
        gen.booleans(),
        gen.lists(gen.text(max_size=4), max_size=2),
        gen.dictionaries(gen.text(max_size=3), scalars, max_size=2),
    ),
    "integer": gen.one_of(
        gen.text(max_size=5),
        gen.booleans(),
        gen.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
        gen.lists(gen.integers(), max_size=2),
        gen.builds(str, gen.integers(0, 200)),
    ),
    "boolean": gen.one_of(
        gen.sampled_from(["true", "false", "True", "", "1", 1, 0, 2]),
        gen.lists(gen.booleans(), max_size=1),
        gen.dictionaries(gen.text(max_size=2), gen.booleans(), max_size=1),
    ),
    "timestamp": gen.one_of(
        gen.booleans(),
        gen.lists(gen.integers(), max_size=1),
        gen.dictionaries(gen.text(max_size=2), gen.integers(), max_size=1),
    ),
}
WRONG["long"] = WRONG["integer"]


# --- patterns ----------------------------------------------------------------------------------


def _character_class(pattern: str) -> tuple[str, int] | None:
    """(class, unit) when the pattern is one character class repeated (`[..]+`, `[..]{n}+`) or a
    pair of the same class repeated (`(?:[..][..])+`): text of any length in the bounds, drawn from
    the class, then matches it."""
    body = pattern.removeprefix("^").removesuffix("$")
    pair = re.fullmatch(r"\(\?:(\[[^]]+\])\1\)\+", body)
    if pair:
        return pair.group(1), 2
    single = re.fullmatch(r"(\[(?:\\.|[^]\\])+\])(?:\+|\{\d+\}\+?)", body)
    if single:
        return single.group(1), 1
    return None


@functools.cache
def _alphabet(character_class: str) -> gen.Gen:
    return gen.from_regex(character_class, fullmatch=True)


@functools.cache
def _text_of(alphabet: gen.Gen, n: int) -> gen.Gen:
    """Text of exactly n characters from `alphabet`; past 64 a drawn chunk is repeated (entropy is
    what hypothesis runs out of, not characters)."""
    if n <= 64:
        return gen.lists(alphabet, min_size=n, max_size=n).map("".join)
    return gen.lists(alphabet, min_size=16, max_size=16).map(lambda cs: _repeat("".join(cs), n))


# --- the strategies ----------------------------------------------------------------------------


class Strategies:
    """The valid and broken strategies of every shape, for one pool of real keys."""

    def __init__(self, pool: Pool, loaded: models.Models, operations: list[Operation] | None = None) -> None:
        """`loaded`: the models (`models.load()`); `operations`: both planes' compiled, if already made."""
        self.pool = pool
        self.operations: list[Operation] = operations or [
            op for plane, model in loaded.planes for op in compile_model(plane, model).values()
        ]
        self.enum_values = sorted(
            {
                value
                for service in loaded.services
                for name in service.shape_names
                for value in service.shape_for(name).metadata.get("enum", ())
            }
        )
        self.policies = _policies(pool)
        self.certificates = gen.one_of(
            gen.sampled_from(pool.certificates),
            gen.builds(
                _mutated_certificate,
                gen.sampled_from(pool.certificates),
                gen.integers(0, 10**6),
                gen.integers(0, 255),
                gen.sampled_from(["flip", "cut", "curve"]),
            ),
        )

    # requests ---------------------------------------------------------------------------------

    def call(self, op: Operation) -> gen.Gen:
        """A request for `op`: valid (1 in 5), mutated from valid (3 in 5), or broken from the top."""
        shape = op.input_shape

        def made(kind: str) -> Any:
            return lambda drawn: Call(op, drawn[0], kind, drawn[1])

        return gen.one_of(
            gen.tuples(self.valid(op.name, "", shape), gen.booleans()).map(made("valid")),
            gen.tuples(self.mutated(op), gen.booleans()).map(made("mutated")),
            gen.tuples(self.mutated(op), gen.booleans()).map(made("mutated")),
            gen.tuples(self.mutated(op), gen.booleans()).map(made("mutated")),
            gen.tuples(self.broken(op.name, "", shape), gen.booleans()).map(made("broken")),
        )

    def mutated(self, op: Operation) -> gen.Gen:
        return _mutations(self, op)

    # valid ------------------------------------------------------------------------------------

    @functools.cache  # noqa: B019 (one Strategies per run; the cache is the point)
    def valid(self, op: str, member: str, shape: Shape) -> gen.Gen:
        special = self._special(op, member, shape)
        return special if special is not None else self._modelled(op, member, shape)

    @functools.cache  # noqa: B019
    def _modelled(self, op: str, member: str, shape: Shape) -> gen.Gen:
        """Valid by the model's constraints alone."""
        kind = shape.type_name
        if kind == "structure":
            members = shape.members
            if shape.is_tagged_union:
                return gen.one_of(
                    *(gen.fixed_dictionaries({name: self.valid(op, name, m)}) for name, m in members.items())
                )
            required = set(shape.required_members)
            return gen.fixed_dictionaries(
                {name: self.valid(op, name, m) for name, m in members.items() if name in required},
                optional={
                    name: self.valid(op, name, m) for name, m in members.items() if name not in required
                },
            )
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if kind == "list":
            low = low or 0
            return gen.lists(
                self.valid(op, member, shape.member), min_size=low, max_size=min(high or low + 4, low + 4)
            )
        if kind == "map":
            low = low or 0
            return gen.dictionaries(
                self.valid(op, member, shape.key),
                self.valid(op, member, shape.value),
                min_size=low,
                max_size=low + 3,
            )
        if kind in ("integer", "long"):
            return gen.integers(-(2**31) if low is None else low, 2**31 - 1 if high is None else high)
        if kind == "boolean":
            return gen.booleans()
        if kind == "timestamp":
            return gen.integers(0, 2**31)
        return self._valid_string(shape)

    def _valid_string(self, shape: Shape) -> gen.Gen:
        meta = shape.metadata
        if "enum" in meta:
            return gen.sampled_from(meta["enum"])
        low, high = meta.get("min", 0), meta.get("max")
        pattern = meta.get("pattern")
        simple = _character_class(pattern) if pattern else None
        if pattern and simple is None:
            return gen.from_regex(pattern, fullmatch=True).filter(
                lambda s: low <= len(s) <= (high or 1 << 30)
            )
        alphabet = _alphabet(simple[0]) if simple else gen.characters(codec="utf-8")
        unit = simple[1] if simple else 1
        top = high if high is not None else low + 64
        lengths = [
            n for n in {low, top, min(top, low + 8), min(top, low + 32)} if n >= unit and n % unit == 0
        ]
        lengths += [n for n in range(max(low, unit), min(top, low + 40) + 1, unit)]
        return gen.sampled_from(sorted(set(lengths))).flatmap(lambda n: _text_of(alphabet, n))

    def _special(self, op: str, member: str, shape: Shape) -> gen.Gen | None:
        """Real values where the model's pattern alone would never reach the code behind."""
        name = shape.name
        pool = self.pool
        if name in IDENTIFIER_SHAPES:
            return self._identifier(op, member, name)
        if name == "AliasName":
            names = pool.victim_aliases if op in MUTATING else pool.aliases
            fresh = gen.from_regex(r"alias/fuzz-new-[a-z0-9]{1,8}", fullmatch=True)
            return gen.one_of(gen.sampled_from(names), fresh)
        if name == "CertificateType":
            return self.certificates
        if name == "ResourcePolicy":
            return self.policies
        if name == "ImportTokenId":
            return gen.sampled_from(pool.import_tokens)
        if name == "ExportTokenId":
            return gen.sampled_from(pool.export_tokens)
        if name == "Region":
            return gen.sampled_from(pool.regions)
        if name == "KeyAttributes" and op == "CreateKey":
            return gen.one_of(gen.sampled_from(CREATABLE), self._modelled(op, member, shape))
        if name == "Tr31WrappedKeyBlock":
            return gen.one_of(_tr31_blocks, self._valid_string(shape))
        return None

    def _identifier(self, op: str, member: str, shape_name: str) -> gen.Gen:
        pool = self.pool
        if op in MUTATING:
            arns, aliases = pool.victims, pool.victim_aliases
            preferred = arns
        else:
            arns, aliases = pool.crypto_arns, pool.aliases
            usages = MEMBER_KEYS.get(member) or (
                OPERATION_KEYS.get(op) if member == "KeyIdentifier" else None
            )
            preferred = pool.usage(*usages) if usages else arns
        absent = gen.sampled_from(arns).map(lambda arn: arn[:-4] + "ZZZZ")
        elsewhere = gen.sampled_from(arns).map(lambda arn: arn.replace(f":{pool.region}:", ":eu-west-1:"))
        choices = [gen.sampled_from(preferred)] * 6 + [gen.sampled_from(arns), absent, elsewhere]
        if shape_name == "KeyArnOrKeyAliasType":
            choices.append(gen.sampled_from(aliases))
            choices.append(
                gen.sampled_from(aliases).map(
                    lambda a: f"arn:aws:payment-cryptography:{pool.region}:{pool.account}:{a}"
                )
            )
        return gen.one_of(*choices)

    # broken -----------------------------------------------------------------------------------

    @functools.cache  # noqa: B019
    def broken(self, op: str, member: str, shape: Shape) -> gen.Gen:
        kind = shape.type_name
        specific = _BROKEN[kind](self, op, member, shape)
        if not member:  # the request itself: a body that is not an object is raw abuse's business
            return gen.one_of(*specific)
        return gen.one_of(gen.none(), WRONG.get(kind, anything), gen.one_of(deep, odd_numbers), *specific)

    def unknown_member(self) -> gen.Gen:
        names = gen.one_of(
            gen.sampled_from(UNKNOWN_NAMES),
            odd_text,
            gen.text(max_size=12),
            gen.sampled_from(self.enum_values),
        )
        return gen.tuples(names, gen.one_of(anything, anything, huge_text, gen.one_of(deep, odd_numbers)))


def _broken_structure(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    members = shape.members
    out: list[gen.Gen] = [gen.just({})] if shape.required_members else []

    def one_broken(forced: str) -> gen.Gen:
        """`forced` broken or null; every other member valid, broken, null or left out."""
        return gen.fixed_dictionaries(
            {forced: gen.one_of(s.broken(op, forced, members[forced]), gen.none())},
            optional={
                name: gen.one_of(s.valid(op, name, m), s.broken(op, name, m), gen.none())
                for name, m in members.items()
                if name != forced
            },
        )

    if members:
        out.append(gen.one_of(*(one_broken(name) for name in members)))
    valid = s.valid(op, member, shape)
    if shape.required_members:
        out.append(
            gen.tuples(valid, gen.sampled_from(shape.required_members)).map(
                lambda vr: {k: v for k, v in vr[0].items() if k != vr[1]}
            )
        )
    if shape.is_tagged_union and len(members) > 1:
        names = list(members)
        two = gen.lists(gen.sampled_from(names), min_size=2, max_size=len(names), unique=True).flatmap(
            lambda chosen: gen.fixed_dictionaries({name: s.valid(op, name, members[name]) for name in chosen})
        )
        out.append(two)
        null_and_one = gen.lists(gen.sampled_from(names), min_size=2, max_size=2, unique=True).flatmap(
            lambda pair: gen.fixed_dictionaries(
                {pair[0]: gen.none(), pair[1]: s.valid(op, pair[1], members[pair[1]])}
            )
        )
        out.append(null_and_one)
    # unknown members before (and after) the real ones: the order a dict keeps is the order sent
    out.append(gen.tuples(s.unknown_member(), valid, gen.booleans()).map(lambda d: _with_unknown(shape, *d)))
    return out


def _with_unknown(
    shape: Shape, unknown: tuple[str, Any], known: dict[str, Any], first: bool
) -> dict[str, Any]:
    """`known` with a member the shape does not have, before or after the others."""
    name, value = unknown
    while name in shape.members:
        name += "_"
    return {name: value, **known} if first else {**known, name: value}


def _broken_list(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max")
    item = s.valid(op, member, shape.member)
    out = [
        gen.lists(s.broken(op, member, shape.member), min_size=1, max_size=3),
        gen.lists(gen.one_of(item, gen.none()), min_size=1, max_size=3).filter(lambda xs: None in xs),
        gen.lists(gen.lists(item, max_size=2), min_size=1, max_size=2),
        gen.lists(item, min_size=(high or 0) + 1, max_size=(high or 0) + 1)
        if high
        else gen.lists(item, min_size=200, max_size=200),
    ]
    if low:
        out.append(gen.lists(item, min_size=low - 1, max_size=low - 1))
    return out


def _broken_map(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    key, value = shape.key, shape.value
    return [
        gen.dictionaries(
            s.broken(op, member, key).filter(lambda k: isinstance(k, str)),
            s.valid(op, member, value),
            min_size=1,
            max_size=2,
        ),
        gen.dictionaries(s.valid(op, member, key), s.broken(op, member, value), min_size=1, max_size=2),
        gen.dictionaries(gen.text(max_size=4), s.valid(op, member, value), min_size=60, max_size=60),
    ]


def _broken_string(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    meta = shape.metadata
    out: list[gen.Gen] = [huge_text, odd_text, gen.just("")]
    if "enum" in meta:
        values = meta["enum"]
        out += [
            gen.sampled_from(values).map(str.lower),
            gen.sampled_from(values).map(lambda v: v + " "),
            gen.sampled_from(values).map(lambda v: v[:-1]),
            gen.sampled_from(values).map(lambda v: "\u200b" + v),
            gen.sampled_from(s.enum_values),
        ]
        return out
    low, high = meta.get("min", 0), meta.get("max")
    pattern = meta.get("pattern")
    simple = _character_class(pattern) if pattern else None
    alphabet = _alphabet(simple[0]) if simple else gen.characters(codec="utf-8")
    if low > 1:
        out.append(_text_of(alphabet, low - 1))
    if high is not None:
        out.append(_text_of(alphabet, high + 1))
    valid = s._valid_string(shape)
    if pattern:
        offenders = gen.sampled_from(
            ["G", "z", " ", "-", "/", ":", "\u00e9", "\u0663", "\uff10", "\x00", "\n"]
        )
        out.append(gen.tuples(valid, gen.integers(0, 1 << 16), offenders).map(_replace_one))
        out.append(valid.map(lambda v: " " + v))
        out.append(valid.map(lambda v: v + "\n"))
    out.append(gen.tuples(valid, gen.integers(0, 1 << 16), gen.sampled_from(ODD)).map(_replace_one))
    return out


def _replace_one(drawn: tuple[str, int, str]) -> str:
    value, at, what = drawn
    if not value:
        return what
    at %= len(value)
    return value[:at] + what + value[at + 1 :]


def _broken_number(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    edges = [
        v for v in (None if low is None else low - 1, None if high is None else high + 1) if v is not None
    ]
    out: list[gen.Gen] = [gen.integers(-(2**70), 2**70)]
    if edges:
        out.append(gen.sampled_from(edges))
        out.append(gen.sampled_from([float(v) for v in edges] + [float(low or 0)]))
    return out


def _no_more(s: Strategies, op: str, member: str, shape: Shape) -> list[gen.Gen]:
    return []


_BROKEN = {
    "structure": _broken_structure,
    "list": _broken_list,
    "map": _broken_map,
    "string": _broken_string,
    "integer": _broken_number,
    "long": _broken_number,
    "boolean": _no_more,
    "timestamp": _no_more,
}


# --- mutations of valid requests -----------------------------------------------------------------

Spot = tuple[Any, Any, Shape, str]  # (container, key in it, shape of the value there, member name)


def _spots(value: Any, shape: Shape, member: str = "") -> Iterator[Spot]:
    """Every place in a request where a mutation can land, absent optional members included."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, child in shape.members.items():
            yield value, name, child, name
            if name in value:
                yield from _spots(value[name], child, name)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index, shape.member, member
            yield from _spots(item, shape.member, member)
    elif kind == "map" and isinstance(value, dict):
        for key in list(value):
            yield value, key, shape.value, member


MUTATION_COUNTS = (1, 1, 1, 1, 2, 2, 3, 5)
# A redrawn valid value (another key, another union member, hex of another length) gets past the
# validator into the crypto with data it does not expect: the commonest mutation.
ACTIONS = ("valid", "valid", "valid", "valid", "broken", "broken", "broken", "drop", "null", "unknown")


@gen.composite
def _mutations(draw: gen.DrawFn, s: Strategies, op: Operation) -> Any:
    value = copy.deepcopy(draw(s.valid(op.name, "", op.input_shape)))  # drawn values may be shared
    for _ in range(draw(gen.sampled_from(MUTATION_COUNTS))):
        spots = list(_spots(value, op.input_shape))
        if not spots:
            name, junk = draw(s.unknown_member())
            value[name] = junk
            continue
        container, key, shape, member = draw(gen.sampled_from(spots))
        action = draw(gen.sampled_from(ACTIONS))
        if action == "valid":
            container[key] = draw(s.valid(op.name, member, shape))
        elif action == "broken":
            container[key] = draw(s.broken(op.name, member, shape))
        elif action == "null":
            container[key] = None
        elif action == "drop":
            if isinstance(container, dict):
                container.pop(key, None)
            elif key < len(container):
                del container[key]
        elif isinstance(container, dict):
            name, junk = draw(s.unknown_member())
            first = draw(gen.booleans())
            items = list(container.items())
            container.clear()
            container.update([(name, junk), *items] if first else [*items, (name, junk)])
    return value


# --- realistic values for members a pattern alone never fills usefully ---------------------------

_TR31_HEADERS = (
    "D0112B0TX00E0000",
    "D0144K1AB00N0000",
    "B0080P0TE00N0000",
    "A0072C0TC00E0000",
    "D0112D0AB00E0100KS1800604B120F9292800000",
)
# A TR-31 header (version, length, usage, algorithm, mode, version number, exportability, optional
# blocks) and a body of whole 16-hex-digit blocks: what the parser sees before the MAC fails.
_tr31_blocks = gen.tuples(
    gen.sampled_from(_TR31_HEADERS),
    gen.integers(3, 12),
    gen.sampled_from(["0123456789ABCDEF", "FFFFFFFFFFFFFFFF", "00"]),
).map(lambda t: t[0] + _repeat(t[2], 16 * t[1]))


def _policies(pool: Pool) -> gen.Gen:
    """Resource policies: well-formed documents with odd statements, and broken ones."""
    principal = gen.sampled_from(
        [
            "*",
            {"AWS": f"arn:aws:iam::{pool.account}:root"},
            {"AWS": ["123456789012", "*"]},
            {"AWS": 9},
            {"Service": "x"},
        ]
    )
    condition = gen.one_of(
        gen.just({}),
        gen.dictionaries(
            gen.sampled_from(
                [
                    "StringEquals",
                    "NumericLessThan",
                    "DateGreaterThan",
                    "Bool",
                    "IpAddress",
                    "ArnLike",
                    "Null",
                    "ForAnyValue:StringLike",
                    "Bogus",
                ]
            ),
            gen.dictionaries(
                gen.sampled_from(
                    [
                        "aws:SourceIp",
                        "aws:CurrentTime",
                        "payment-cryptography:KeyUsage",
                        "aws:username",
                        "x:y",
                    ]
                ),
                gen.one_of(
                    gen.text(max_size=6),
                    gen.integers(),
                    gen.sampled_from(["9" * 5000, "1e999", "10.0.0.0/33", "NaN"]),
                    gen.lists(gen.text(max_size=4), max_size=2),
                ),
                max_size=2,
            ),
            max_size=2,
        ),
    )
    statement = gen.fixed_dictionaries(
        {"Effect": gen.sampled_from(["Allow", "Deny", "allow", "Maybe"])},
        optional={
            "Sid": gen.text(max_size=8),
            "Principal": principal,
            "NotPrincipal": principal,
            "Action": gen.sampled_from(
                ["payment-cryptography:*", "*", ["payment-cryptography:GetKey", "kms:*"], 7]
            ),
            "NotAction": gen.just("payment-cryptography:DeleteKey"),
            "Resource": gen.sampled_from(["*", list(pool.victims[:1]), "arn:aws:payment-cryptography:*"]),
            "Condition": condition,
        },
    )
    document = gen.fixed_dictionaries(
        {"Statement": gen.one_of(gen.lists(statement, min_size=1, max_size=3), statement, gen.just([]))},
        optional={
            "Version": gen.sampled_from(["2012-10-17", "2008-10-17", "1999-01-01"]),
            "Id": gen.text(max_size=5),
        },
    )
    as_text = document.map(lambda d: json.dumps(d))
    broken_text = gen.one_of(
        as_text.map(lambda t: t[: len(t) // 2]),
        gen.sampled_from(["9" * 5000, "[]", "null", "{}", '{"Statement": 1e999}']),
    )
    return gen.one_of(as_text, as_text, as_text, broken_text)


def _mutated_certificate(b64: str, at: int, byte: int, how: str) -> str:
    """A real certificate with one byte changed, cut short, or with its EC curve OID altered (a
    curve the library does not know)."""
    pem = base64.b64decode(b64)
    lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    der = bytearray(base64.b64decode(b"".join(lines)))
    p256 = bytes.fromhex("06082a8648ce3d030107")
    if how == "curve" and p256 in der:
        at = der.index(p256) + len(p256) - 1
        der[at] = byte if byte != 7 else 8
    elif how == "cut":
        der = der[: at % len(der)]
    else:
        der[at % len(der)] ^= byte or 1
    body = base64.encodebytes(bytes(der)).replace(b"\n", b"\n")
    out = b"-----BEGIN CERTIFICATE-----\n" + body + b"-----END CERTIFICATE-----\n"
    return base64.b64encode(out).decode()
