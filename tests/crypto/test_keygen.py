"""Key generation: lengths, TDES parity and distinct parts, asymmetric keys as PKCS#8 (sealing is
tested in tests/vault/test_sealing.py)."""

from __future__ import annotations

import pytest

from paycrypt.crypto import keygen, primitives


@pytest.mark.parametrize(("algorithm", "length"), list(keygen.SYMMETRIC_LENGTHS.items()))
def test_symmetric_lengths(algorithm: str, length: int) -> None:
    assert len(keygen.generate(algorithm)) == length


@pytest.mark.parametrize("algorithm", ["TDES_2KEY", "TDES_3KEY"])
def test_tdes_odd_parity_and_distinct_parts(algorithm: str) -> None:
    for _ in range(50):
        key = keygen.generate(algorithm)
        assert primitives.has_odd_parity(key)
        parts = [key[i : i + 8] for i in range(0, len(key), 8)]
        assert len(set(parts)) == len(parts)


def test_parity_helpers() -> None:
    assert primitives.set_odd_parity(bytes.fromhex("0001FEFF")) == bytes.fromhex("0101FEFE")
    assert primitives.has_odd_parity(bytes.fromhex("0123456789ABCDEF"))
    assert not primitives.has_odd_parity(bytes.fromhex("0023456789ABCDEF"))


@pytest.mark.parametrize("algorithm", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P521"])
def test_asymmetric_keys_are_pkcs8(algorithm: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(keygen.generate(algorithm), password=None)
    assert key.key_size >= 256
