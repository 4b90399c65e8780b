"""EMV ICC master key and session key derivation.

Sources of the known answers:
* AWS Payment Cryptography User Guide, "Verify auth request (ARQC) cryptogram" examples: IMK
  0123456789ABCDEFFEDCBA9876543210 (KCV 08D7B4), PAN 9137631040001422, PSN 01, and the ICC MK /
  CSK values reproduced in digest seed-C §4.7 and seed-D Appendix C.
* pyemv 1.5.0 docstring examples (pyemv/kd.py): option A and B, common SK, EMV2000 tree.
* A published PBOC worked example ("金融IC卡 ARQC和ARPC计算方法和实例",
  https://cnblogs.com/1024Planet/p/6256545.html): IMK-AC F0C34A8124CEE0A91A0B034AA97D6EAC, PAN
  6228000100001, PSN 01, ATC 0240 — the UnionPay session key is checked through its ARQC in
  test_emv_cryptogram.py.
pyemv is the independent oracle for the hypothesis properties.
"""

import pyemv.kd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import emv_keys, kcv

IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")

keys = st.binary(min_size=16, max_size=16)
pans = st.text("0123456789", min_size=12, max_size=19)
psns = st.text("0123456789", min_size=2, max_size=2)
atcs = st.binary(min_size=2, max_size=2)


def test_guide_key_and_icc_master_key() -> None:
    assert kcv.ansi_x9_24(IMK).hex().upper() == "08D7B4"
    mk = emv_keys.derive_icc_master_key(IMK, "9137631040001422", "01", "EMV_OPTION_A")
    assert mk.hex().upper() == "B9EFDAD5D5F23BFB73526404C1C82046"


def test_guide_common_session_key() -> None:
    mk = bytes.fromhex("B9EFDAD5D5F23BFB73526404C1C82046")
    assert emv_keys.emv_common_session_key(mk, "000B").hex().upper() == "FD7FEF8A3164E043C78AE57FBF976B80"


@pytest.mark.parametrize(
    ("function", "pan", "psn", "expected"),
    [
        (
            emv_keys.derive_icc_master_key_option_a,
            "12345678901234567",
            "01",
            "73AD54688CEF2934B0979857E3C719F1",
        ),
        (
            emv_keys.derive_icc_master_key_option_a,
            "99012345678901234",
            "45",
            "67F8292358083E5EA7AB7FDA58D53B6B",
        ),
        (
            emv_keys.derive_icc_master_key_option_b,
            "12345678901234567",
            "01",
            "AD406D7F6D7570916D75E5DCAB8CF737",
        ),
    ],
)
def test_pyemv_docstring_master_keys(function, pan: str, psn: str, expected: str) -> None:
    assert function(IMK, pan, psn).hex().upper() == expected


def test_pyemv_docstring_session_keys() -> None:
    sk = emv_keys.common_session_key(IMK, bytes.fromhex("001C000000000000"))
    assert sk.hex().upper() == "E9FB384AF807B940FEDCEA613461B0C4"
    assert emv_keys.emv2000_tree_session_key(IMK, "001C").hex().upper() == "E5BF6D1067F194B0A89B7F5D83BC64A2"


@given(imk=keys, pan=pans, psn=psns)
def test_option_a_matches_pyemv(imk: bytes, pan: str, psn: str) -> None:
    assert emv_keys.derive_icc_master_key(imk, pan, psn, "A") == pyemv.kd.derive_icc_mk_a(imk, pan, psn)


@given(imk=keys, pan=pans, psn=psns)
def test_option_b_matches_pyemv(imk: bytes, pan: str, psn: str) -> None:
    assert emv_keys.derive_icc_master_key(imk, pan, psn, "EMV_OPTION_B") == pyemv.kd.derive_icc_mk_b(
        imk, pan, psn
    )


@given(imk=keys, pan=st.text("0123456789", min_size=12, max_size=16), psn=psns)
def test_option_b_is_option_a_up_to_16_digits(imk: bytes, pan: str, psn: str) -> None:
    a = emv_keys.derive_icc_master_key_option_a(imk, pan, psn)
    assert emv_keys.derive_icc_master_key_option_b(imk, pan, psn) == a


@given(mk=keys, r=st.binary(min_size=8, max_size=8))
def test_common_session_key_matches_pyemv(mk: bytes, r: bytes) -> None:
    assert emv_keys.common_session_key(mk, r) == pyemv.kd.derive_common_sk(mk, r)


@given(mk=keys, atc=atcs)
def test_emv_common_member_uses_atc_and_zeros(mk: bytes, atc: bytes) -> None:
    expected = pyemv.kd.derive_common_sk(mk, atc + bytes(6))
    assert emv_keys.AC_SESSION_KEYS["EmvCommon"](mk, atc.hex(), None) == expected


@given(mk=keys, atc=atcs, un=st.binary(min_size=4, max_size=4))
def test_mastercard_matches_pyemv(mk: bytes, atc: bytes, un: bytes) -> None:
    """R = ATC ‖ 00 00 ‖ UN, as pyemv's MasterCardCVN16/17 derive their AC session key."""
    expected = pyemv.kd.derive_common_sk(mk, atc + bytes(2) + un)
    assert emv_keys.mastercard_session_key(mk, atc.hex(), un.hex()) == expected


def test_mastercard_short_un_is_right_justified() -> None:
    """Decision for pre-1.44 clients (2–8 hex UN); not independently verified."""
    mk = bytes(range(16))
    assert emv_keys.mastercard_session_key(mk, "0001", "AB") == emv_keys.mastercard_session_key(
        mk, "0001", "000000AB"
    )


@given(mk=keys, atc=atcs, shape=st.sampled_from([(4, 8), (2, 16)]))
def test_emv2000_tree_matches_pyemv(mk: bytes, atc: bytes, shape: tuple[int, int]) -> None:
    b, h = shape
    assert emv_keys.emv2000_tree_session_key(mk, atc.hex(), b, h) == pyemv.kd.derive_emv2000_tree_sk(
        mk, atc, h, b
    )


def test_emv2000_member_uses_b4_h8() -> None:
    mk = bytes(range(16))
    assert emv_keys.AC_SESSION_KEYS["Emv2000"](mk, "1234", None) == emv_keys.emv2000_tree_session_key(
        mk, "1234", 4, 8
    )


def test_union_pay_session_key_halves() -> None:
    """PBOC process key: each half is TDES of 00×6 ‖ ATC / 00×6 ‖ ¬ATC (computed here with
    pyemv.tools.encrypt_tdes_ecb as the independent TDES)."""
    from pyemv.tools import adjust_key_parity, encrypt_tdes_ecb

    mk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    expected = adjust_key_parity(encrypt_tdes_ecb(mk, bytes.fromhex("0000000000000240" + "000000000000FDBF")))
    assert emv_keys.union_pay_session_key(mk, "0240") == expected


@pytest.mark.parametrize("member", ["Visa", "Amex"])
def test_visa_and_amex_use_the_icc_master_key(member: str) -> None:
    mk = emv_keys.derive_icc_master_key_option_a(IMK, "9137631040001422", "01")
    assert emv_keys.derive_ac_key(IMK, "EMV_OPTION_A", member, "9137631040001422", "01") == mk


@given(imk=keys, atc=atcs)
def test_every_member_depends_on_pan_and_psn(imk: bytes, atc: bytes) -> None:
    """Sensitivity to the card inputs (not independently verified)."""
    for member in emv_keys.AC_SESSION_KEYS:
        base = emv_keys.derive_ac_key(
            imk, "EMV_OPTION_A", member, "5413123456784808", "00", atc.hex(), "01020304"
        )
        other_pan = emv_keys.derive_ac_key(
            imk, "EMV_OPTION_A", member, "5413123456784809", "00", atc.hex(), "01020304"
        )
        other_psn = emv_keys.derive_ac_key(
            imk, "EMV_OPTION_A", member, "5413123456784808", "01", atc.hex(), "01020304"
        )
        assert len(base) == 16
        assert base != other_pan
        assert base != other_psn


@pytest.mark.parametrize("member", ["EmvCommon", "Mastercard", "Emv2000", "UnionPay"])
def test_atc_members_depend_on_atc(member: str) -> None:
    """Sensitivity to the ATC (not independently verified for Emv2000 parameters / UnionPay)."""
    one = emv_keys.derive_ac_key(IMK, "EMV_OPTION_A", member, "4000123412341234", "00", "0001", "01020304")
    two = emv_keys.derive_ac_key(IMK, "EMV_OPTION_A", member, "4000123412341234", "00", "0002", "01020304")
    assert one != two


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: emv_keys.derive_icc_master_key(IMK, "41111111111x", "00", "A"), "PrimaryAccountNumber"),
        (lambda: emv_keys.derive_icc_master_key(IMK, "4111111111111111", "1", "A"), "PanSequenceNumber"),
        (
            lambda: emv_keys.derive_icc_master_key(IMK, "4111111111111111", "00", "C"),
            "MajorKeyDerivationMode",
        ),
        (lambda: emv_keys.derive_icc_master_key(IMK[:8], "4111111111111111", "00", "A"), "issuer master key"),
        (lambda: emv_keys.emv_common_session_key(IMK, "0B"), "ApplicationTransactionCounter"),
        (lambda: emv_keys.emv_common_session_key(IMK, "00B"), "ApplicationTransactionCounter"),
        (lambda: emv_keys.derive_ac_key(IMK, "A", "EmvCommon", "4111111111111111", "00"), "needs"),
        (lambda: emv_keys.derive_ac_key(IMK, "A", "Bogus", "4111111111111111", "00"), "member"),
        (lambda: emv_keys.emv2000_tree_session_key(IMK, "0001", 2, 8), "65535"),
    ],
)
def test_bad_input_is_rejected_without_echoing_it(call, message: str) -> None:
    with pytest.raises(emv_keys.EmvInputError, match=message) as info:
        call()
    assert "4111111111111111" not in str(info.value)
    assert "0123456789ABCDEF" not in str(info.value).upper()
