"""EncryptData / DecryptData with EmvEncryptionAttributes.

No published vector exists for this exact composition (the guide's EMV encrypt example uses an
unknown key). The session key step is checked against pyemv's common session key and option A/B,
and the cipher against pyemv.tools' TDES (independent oracles); the rest is round trips and
sensitivity, not independently verified.
"""

import pyemv.kd
import pyemv.tools
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import emv_encryption as ee
from paycrypt.crypto import emv_keys

IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN, PSN, SDD = "4000123412341234", "00", "000B000000000000"

keys = st.binary(min_size=16, max_size=16)
blocks = st.integers(min_value=1, max_value=8).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n))


@given(
    imk=keys,
    pan=st.text("0123456789", min_size=12, max_size=19),
    sdd=st.binary(min_size=8, max_size=8),
    option=st.sampled_from(["EMV_OPTION_A", "EMV_OPTION_B"]),
)
def test_session_key_matches_pyemv(imk: bytes, pan: str, sdd: bytes, option: str) -> None:
    derive_mk = pyemv.kd.derive_icc_mk_a if option == "EMV_OPTION_A" else pyemv.kd.derive_icc_mk_b
    expected = pyemv.kd.derive_common_sk(derive_mk(imk, pan, "01"), sdd)
    assert ee.derive_emv_data_key(imk, option, pan, "01", sdd.hex()) == expected


@given(imk=keys, data=blocks, iv=st.binary(min_size=8, max_size=8))
def test_cbc_matches_pyemv_tdes(imk: bytes, data: bytes, iv: bytes) -> None:
    sk = pyemv.kd.derive_common_sk(pyemv.kd.derive_icc_mk_a(imk, PAN, PSN), bytes.fromhex(SDD))
    expected = pyemv.tools.encrypt_tdes_cbc(sk, iv, data).hex().upper()
    assert ee.encrypt(imk, "EMV_OPTION_A", PAN, PSN, SDD, data.hex(), "CBC", iv.hex()) == expected


@given(imk=keys, data=blocks)
def test_ecb_matches_pyemv_tdes(imk: bytes, data: bytes) -> None:
    sk = pyemv.kd.derive_common_sk(pyemv.kd.derive_icc_mk_a(imk, PAN, PSN), bytes.fromhex(SDD))
    expected = pyemv.tools.encrypt_tdes_ecb(sk, data).hex().upper()
    assert ee.encrypt(imk, "EMV_OPTION_A", PAN, PSN, SDD, data.hex(), "ECB") == expected


@given(
    imk=keys,
    data=blocks,
    mode=st.sampled_from(["ECB", "CBC"]),
    iv=st.none() | st.binary(min_size=8, max_size=8),
)
def test_round_trip(imk: bytes, data: bytes, mode: str, iv: bytes | None) -> None:
    iv_hex = None if iv is None else iv.hex()
    cipher = ee.encrypt(imk, "EMV_OPTION_B", PAN, PSN, SDD, data.hex(), mode, iv_hex)
    assert len(cipher) == 2 * len(data)
    assert ee.decrypt(imk, "EMV_OPTION_B", PAN, PSN, SDD, cipher, mode, iv_hex) == data.hex().upper()


def test_default_is_cbc_with_zero_iv() -> None:
    data = "00112233445566778899AABBCCDDEEFF"
    assert ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, data) == ee.encrypt(
        IMK, "EMV_OPTION_A", PAN, PSN, SDD, data, "CBC", "0000000000000000"
    )


def test_depends_on_every_input() -> None:
    """Sensitivity (not independently verified)."""
    data = "00112233445566778899AABBCCDDEEFF"
    base = ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, data)
    assert ee.encrypt(bytes(range(16)), "EMV_OPTION_A", PAN, PSN, SDD, data) != base
    assert ee.encrypt(IMK, "EMV_OPTION_A", "4000123412341235", PSN, SDD, data) != base
    assert ee.encrypt(IMK, "EMV_OPTION_A", PAN, "01", SDD, data) != base
    assert ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, "000C000000000000", data) != base
    assert ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, data, "CBC", "0000000000000001") != base
    assert ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, data, "ECB") != base


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, "0011"), "PlainText"),
        (lambda: ee.decrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, "00" * 9), "CipherText"),
        (lambda: ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, "00" * 8, "CFB"), "Mode"),
        (
            lambda: ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, SDD, "00" * 8, "CBC", "00" * 16),
            "InitializationVector",
        ),
        (lambda: ee.encrypt(IMK, "EMV_OPTION_A", PAN, PSN, "000B", "00" * 8), "SessionDerivationData"),
    ],
)
def test_bad_input_is_rejected(call, message: str) -> None:
    with pytest.raises(emv_keys.EmvInputError, match=message):
        call()
