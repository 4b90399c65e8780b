"""GenerateMacEmvPinChange building blocks.

Sources of the known answers:
* pyemv 1.5.0 docstring examples: pyemv/sm.py (format 2 block 2C123456789012FF, VIS PIN block
  041234FF76543210, EMV-type encipherment 5A862D1381CCB94822CFDD706A376178, Mastercard-type
  encipherment 9859240AE52820C3) and pyemv/cvn.py VisaCVN18 PIN change command
  84240002182DC7A061323BA62472BC5308BD291B5F665B3A927E60661E.
* The guide's PIN-change example (seed-D G7) prints placeholder outputs (Mac 5652EEDF83EA0D84,
  EncryptedPinBlock F1A2B3C4D5E6F7A8); its inputs are checked for shape and against pyemv's
  composition of the standard steps.
pyemv (cvn.VisaCVN10, cvn.MasterCardCVN16, sm) and psec (ISO format 2) are the independent
oracles. Amex (VIS-style) and Emv2000 have no public vector: round trips and sensitivity only,
not independently verified.
"""

import psec.pinblock
import pyemv.cvn
import pyemv.kd
import pyemv.sm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import emv_keys, emv_mac
from paycrypt.crypto import emv_pin_change as pc

IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")

keys = st.binary(min_size=16, max_size=16)
pins = st.text("0123456789", min_size=4, max_size=12)
pans = st.text("0123456789", min_size=12, max_size=16)


def test_pyemv_docstring_blocks() -> None:
    assert pc.iso_format2_pin_block("123456789012").hex().upper() == "2C123456789012FF"
    assert pc.vis_pin_block(IMK, "1234").hex().upper() == "041234FF76543210"


def test_pyemv_docstring_encipherment() -> None:
    emv = pc.encrypt_pin_data(IMK, pc.iso_format2_pin_block("9999"), "CBC", "ISO_IEC_7816_4", "NONE")
    assert emv.hex().upper() == "5A862D1381CCB94822CFDD706A376178"
    mastercard = pc.encrypt_pin_data(IMK, bytes.fromhex("241234FFFFFFFFFF"), "CBC", "NO_PADDING", "NONE")
    assert mastercard.hex().upper() == "9859240AE52820C3"


def test_pyemv_docstring_visa_cvn18_pin_change() -> None:
    """Header 8424000218; the MAC covers header ‖ ATC ‖ ARQC ‖ enciphered block (VisaCVN18)."""
    result = pc.generate_mac_emv_pin_change(
        "Visa",
        pc.IssuerKeys(
            smi=bytes.fromhex("BB" * 16), smc=bytes.fromhex("CC" * 16), ac=bytes.fromhex("AA" * 16)
        ),
        pc.Card("1234567890123456", "00", "EMV_OPTION_B", application_transaction_counter="0FFF"),
        pc.PinChange("9999", "8424000218" + "0FFF" + "769577B5ABE9FE62"),
    )
    assert result.encrypted_pin_block == "2DC7A061323BA62472BC5308BD291B5F"
    assert result.mac == "665B3A927E60661E"


@given(pin=pins)
def test_format2_matches_psec_and_pyemv(pin: str) -> None:
    block = pc.iso_format2_pin_block(pin)
    assert block == psec.pinblock.encode_pinblock_iso_2(pin)
    assert block == pyemv.sm.format_iso9564_2_pin_block(pin)


@given(mk=keys, pin=pins, current=st.none() | pins)
def test_vis_block_matches_pyemv(mk: bytes, pin: str, current: str | None) -> None:
    assert pc.vis_pin_block(mk, pin, current) == pyemv.sm.format_vis_pin_block(mk, pin, current)


@given(sk=keys, block=st.binary(min_size=8, max_size=8))
def test_visa_encipherment_matches_pyemv(sk: bytes, block: bytes) -> None:
    expected = pyemv.sm.encrypt_command_data(sk, block, pyemv.sm.EncryptionType.VISA)
    assert pc.encrypt_pin_data(sk, block, "ECB", "ISO_IEC_7816_4", "FRONT_OF_PIN_BLOCK") == expected


@given(
    imks=st.tuples(keys, keys, keys),
    pan=pans,
    pin=pins,
    current=st.none() | pins,
    atc=st.binary(min_size=2, max_size=2),
)
def test_visa_member_matches_pyemv_cvn10(
    imks: tuple[bytes, bytes, bytes], pan: str, pin: str, current: str | None, atc: bytes
) -> None:
    imk_ac, imk_smi, imk_smc = imks
    arqc = bytes(range(8))
    card = pyemv.cvn.VisaCVN10(imk_ac, imk_smi, imk_smc, pan, "00")
    command = card.generate_pin_change_command(pin, arqc, atc, current)
    header = command[:5]
    result = pc.generate_mac_emv_pin_change(
        "Visa",
        pc.IssuerKeys(imk_smi, imk_smc, imk_ac),
        pc.Card(pan, "00", "EMV_OPTION_A", application_transaction_counter=atc.hex()),
        pc.PinChange(pin, (header + atc + arqc).hex(), current),
    )
    assert result.encrypted_pin_block == command[5:21].hex().upper()
    assert result.mac == command[21:].hex().upper()


@given(imks=st.tuples(keys, keys, keys), pan=pans, pin=pins, arqc=st.binary(min_size=8, max_size=8))
def test_mastercard_member_matches_pyemv_cvn16(
    imks: tuple[bytes, bytes, bytes], pan: str, pin: str, arqc: bytes
) -> None:
    imk_ac, imk_smi, imk_smc = imks
    atc = bytes.fromhex("0001")
    command = pyemv.cvn.MasterCardCVN16(imk_ac, imk_smi, imk_smc, pan, "00").generate_pin_change_command(
        pin, arqc, atc
    )
    header = command[:5]
    result = pc.generate_mac_emv_pin_change(
        "Mastercard",
        pc.IssuerKeys(imk_smi, imk_smc),
        pc.Card(pan, "00", "EMV_OPTION_A", application_cryptogram=arqc.hex()),
        pc.PinChange(pin, (header + atc + arqc).hex()),
    )
    assert result.encrypted_pin_block == command[5:13].hex().upper()
    assert result.mac == command[13:].hex().upper()


def test_guide_g7_emv_common_shape_and_composition() -> None:
    """seed-D G7 inputs (EmvCommon, CBC, NONE, NO_PADDING); outputs checked against pyemv steps."""
    message = "00A4040008A000000004101080D80500000001010A04000000000000"
    ac = "1234567890123457"
    imk_smc = bytes(range(16))
    result = pc.generate_mac_emv_pin_change(
        "EmvCommon",
        pc.IssuerKeys(IMK, imk_smc),
        pc.Card("171234567890123", "00", "EMV_OPTION_A", application_cryptogram=ac),
        pc.PinChange("1234", message),
        pc.Encipherment("CBC", "NO_PADDING", "NONE"),
    )
    assert len(result.mac) == 16 and len(result.encrypted_pin_block) == 16
    sk_smc = pyemv.kd.derive_common_sk(
        pyemv.kd.derive_icc_mk_a(imk_smc, "171234567890123", "00"), bytes.fromhex(ac)
    )
    sk_smi = pyemv.kd.derive_common_sk(
        pyemv.kd.derive_icc_mk_a(IMK, "171234567890123", "00"), bytes.fromhex(ac)
    )
    enc = pyemv.sm.encrypt_command_data(
        sk_smc, bytes.fromhex("241234FFFFFFFFFF"), pyemv.sm.EncryptionType.MASTERCARD
    )
    assert result.encrypted_pin_block == enc.hex().upper()
    assert result.mac == pyemv.sm.generate_command_mac(sk_smi, bytes.fromhex(message) + enc).hex().upper()


@pytest.mark.parametrize(
    ("mode", "padding", "position", "size"),
    [
        ("ECB", "NO_PADDING", "NONE", 8),
        ("CBC", "NO_PADDING", "NONE", 8),
        ("ECB", "ISO_IEC_7816_4", "NONE", 16),
        ("CBC", "ISO_IEC_7816_4", "FRONT_OF_PIN_BLOCK", 16),
    ],
)
def test_emv_common_encipherment_options(mode: str, padding: str, position: str, size: int) -> None:
    """Output length per option and decryptability (not independently verified)."""
    from paycrypt.crypto import primitives as p

    block = pc.iso_format2_pin_block("4321")
    enc = pc.encrypt_pin_data(IMK, block, mode, padding, position)
    assert len(enc) == size
    clear = p.tdes_ecb_decrypt(IMK, enc) if mode == "ECB" else p.tdes_cbc_decrypt(IMK, enc)
    assert block in clear


def test_front_position_without_padding_is_rejected() -> None:
    with pytest.raises(emv_keys.EmvInputError, match="ISO_IEC_7816_4"):
        pc.encrypt_pin_data(IMK, bytes(8), "CBC", "NO_PADDING", "FRONT_OF_PIN_BLOCK")


def _change(member: str, **overrides) -> pc.PinChangeResult:
    args = {
        "imk_smi": IMK,
        "imk_smc": bytes(range(16)),
        "imk_ac": bytes(range(16, 32)),
        "major_mode": "EMV_OPTION_A",
        "pan": "4000123412341234",
        "psn": "00",
        "new_pin": "1234",
        "message_data": "8424000210",
        "application_cryptogram": "0102030405060708",
        "application_transaction_counter": "0001",
        "mode": "CBC",
        "padding_type": "NO_PADDING",
        "length_position": "NONE",
    }
    args.update(overrides)
    return pc.generate_mac_emv_pin_change(
        member,
        pc.IssuerKeys(args["imk_smi"], args["imk_smc"], args["imk_ac"]),
        pc.Card(
            args["pan"],
            args["psn"],
            args["major_mode"],
            args["application_cryptogram"],
            args["application_transaction_counter"],
        ),
        pc.PinChange(args["new_pin"], args["message_data"], args.get("current_pin")),
        pc.Encipherment(args["mode"], args["padding_type"], args["length_position"]),
    )


@pytest.mark.parametrize("member", sorted(pc.SCHEMES))
def test_every_member_depends_on_every_input(member: str) -> None:
    """Sensitivity (not independently verified for Amex and Emv2000)."""
    scheme = pc.SCHEMES[member]
    base = _change(member)
    assert _change(member, new_pin="1235") != base
    assert _change(member, pan="4000123412341235") != base
    assert _change(member, imk_smi=bytes(16)).mac != base.mac
    assert _change(member, imk_smc=bytes(16)).encrypted_pin_block != base.encrypted_pin_block
    assert _change(member, message_data="8424000211").mac != base.mac
    if scheme.uses_ac:
        assert _change(member, application_cryptogram="0102030405060709") != base
    else:
        assert _change(member, application_transaction_counter="0002") != base
    if scheme.vis_block:
        assert _change(member, imk_ac=bytes(16)) != base
        assert _change(member, current_pin="9876") != base


def test_amex_is_vis_style() -> None:
    """Decision: Amex follows VIS for the PIN block and SM keys (not independently verified)."""
    assert _change("Amex") == _change("Visa")


@pytest.mark.parametrize(
    ("member", "overrides", "message"),
    [
        ("Visa", {"imk_ac": None}, "IMK-AC"),
        ("EmvCommon", {"application_cryptogram": None}, "ApplicationCryptogram"),
        ("Emv2000", {"application_transaction_counter": None}, "ApplicationTransactionCounter"),
        ("EmvCommon", {"mode": None}, "Mode"),
        ("EmvCommon", {"mode": "CFB"}, "Mode"),
        ("Nope", {}, "member"),
        ("Mastercard", {"new_pin": "123"}, "PIN"),
        ("Visa", {"new_pin": "123"}, "PIN"),
        ("Visa", {"current_pin": "12a4"}, "current PIN"),
    ],
)
def test_bad_input_is_rejected_without_echoing_it(member: str, overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        _change(member, **overrides)
    assert "4000123412341234" not in str(info.value)


def test_sm_keys_are_those_of_emv_mac() -> None:
    assert set(s.sm_mode for s in pc.SCHEMES.values()) <= set(emv_mac.SM_SESSION_KEYS)
