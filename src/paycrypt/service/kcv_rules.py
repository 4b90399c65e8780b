"""Which KeyCheckValueAlgorithm each key algorithm takes, and the default: one table.

Decision (README): a TDES key takes ANSI_X9_24 (default) or CMAC (TDES-CMAC, the X9.24-1:2017
alternative); an AES key takes CMAC only; an HMAC key takes HMAC only; RSA and ECC keys take
SHA_1 only. Any other pairing is rejected with ValidationException rather than computed, because
a KCV computed by an algorithm the partner does not expect only looks like a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable

from paycrypt.crypto import kcv
from paycrypt.crypto.keygen import public_key_der
from paycrypt.errors import ValidationError
from paycrypt.service.key_rules import AES, ASYMMETRIC, HMAC, TDES

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


def check(algorithm: str, kcv_algorithm: str | None) -> str:
    """The KCV algorithm to use for `algorithm`: the requested one if it applies, else the default."""
    methods = _entry(algorithm)
    name = kcv_algorithm or next(iter(methods))
    if name not in methods:
        raise ValidationError(
            f"KeyCheckValueAlgorithm {name} does not apply to {algorithm} keys; use {', '.join(methods)}."
        )
    return name


def compute(algorithm: str, kcv_algorithm: str | None, material: bytes) -> tuple[str, str]:
    """(KeyCheckValue hex, KeyCheckValueAlgorithm) for key material of `algorithm`."""
    name = check(algorithm, kcv_algorithm)
    return _entry(algorithm)[name](algorithm, material).hex().upper(), name
