"""Which KeyCheckValueAlgorithm each key algorithm computes, and its default: one table.

Decision (docs/decisions/keys.md): each key family has the KCV methods its standards define, the first one
its default. A TDES key takes ANSI_X9_24 (default) or CMAC (TDES-CMAC, the X9.24-1:2017
alternative); an AES key takes CMAC only (X9.24-1:2017 and PCI PIN 15-1: "AES must only use the
CMAC method"); an HMAC key takes HMAC; RSA and ECC keys take SHA_1. A KeyCheckValueAlgorithm the
family does not define is not refused: the model does not restrict the member, AWS's own samples
send ANSI_X9_24 and CMAC on RSA and ECC imports, and they work against AWS. The family's default
is computed instead and the answer's KeyCheckValueAlgorithm names it, so a caller comparing values
can see which method produced the one it got.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paycrypt.crypto import kcv
from paycrypt.crypto.keygen import public_key_der
from paycrypt.errors import ValidationError
from paycrypt.service.rules.combinations import AES, ASYMMETRIC, HMAC, TDES

_HASH = {"HMAC_SHA224": "sha224", "HMAC_SHA256": "sha256", "HMAC_SHA384": "sha384", "HMAC_SHA512": "sha512"}

Compute = Callable[[str, bytes], bytes]

_TABLE: list[tuple[frozenset[str], dict[str, Compute]]] = [
    (TDES, {"ANSI_X9_24": lambda a, k: kcv.ansi_x9_24(k), "CMAC": lambda a, k: kcv.tdes_cmac(k)}),
    (AES, {"CMAC": lambda a, k: kcv.aes_cmac(k)}),
    (HMAC, {"HMAC": lambda a, k: kcv.hmac(k, _HASH[a])}),
    (ASYMMETRIC, {"SHA_1": lambda a, k: kcv.sha1_public_key(public_key_der(k))}),
]


def _entry(algorithm: str) -> dict[str, Compute]:
    for algorithms, methods in _TABLE:
        if algorithm in algorithms:
            return methods
    raise ValidationError(f"KeyAlgorithm {algorithm} has no key check value algorithm.")


def resolve(algorithm: str, kcv_algorithm: str | None) -> str:
    """The KCV method used for a key of `algorithm`: the requested one if the family defines it,
    else the family's default."""
    return _pick(_entry(algorithm), kcv_algorithm)


def _pick(methods: Mapping[str, Any], kcv_algorithm: str | None) -> str:
    return kcv_algorithm if kcv_algorithm in methods else next(iter(methods))


def compute(algorithm: str, kcv_algorithm: str | None, material: bytes) -> tuple[str, str]:
    """(KeyCheckValue hex, KeyCheckValueAlgorithm actually used) for key material of `algorithm`."""
    methods = _entry(algorithm)
    name = _pick(methods, kcv_algorithm)
    return methods[name](algorithm, material).hex().upper(), name
