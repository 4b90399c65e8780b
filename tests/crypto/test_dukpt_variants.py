"""The DukptKeyVariant / purpose table and its defaults.

The expected keys are the published vectors already used in test_dukpt_tdes and test_dukpt_aes
(ANSI X9.24-1:2009 Annex A.4; ANSI X9.24-3-2017 supplement): this file checks that each API
combination lands on the key the table documents.
"""

import pytest

from paycrypt.crypto import dukpt_tdes, iso9797
from paycrypt.crypto import primitives as p
from paycrypt.crypto.dukpt_variants import (
    TABLE,
    Purpose,
    derive,
    full_ksn,
    transaction_secret,
    working_key,
)

TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TDES_KSN = bytes.fromhex("FFFF9876543210E00001")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
AES_KSN = bytes.fromhex("123456789012345600000001")
MESSAGE = iso9797.pad_method1(b"4012345678909D987")


def test_table_covers_every_purpose_and_variant() -> None:
    assert set(TABLE) == {
        (purpose, v) for purpose in Purpose for v in ("BIDIRECTIONAL", "REQUEST", "RESPONSE")
    }


def test_tdes_pin_key_for_every_variant() -> None:
    """X9.24-1:2009 A.4.2: PIN block 041274EDCBA9876F encrypts to 1B9C1845EB993A7A at counter 1."""
    for variant in (None, "BIDIRECTIONAL", "REQUEST", "RESPONSE"):
        key = derive(TDES_BDK, "TDES_2KEY", TDES_KSN, Purpose.PIN, variant)
        assert key.key_type == "TDES_2KEY"
        assert (
            p.tdes_ecb_encrypt(key.key, bytes.fromhex("041274EDCBA9876F")).hex().upper() == "1B9C1845EB993A7A"
        )


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (None, "9CCC78173FC4FB64"),
        ("BIDIRECTIONAL", "9CCC78173FC4FB64"),
        ("REQUEST", "9CCC78173FC4FB64"),
        ("RESPONSE", "20364223C1FF00FA"),
    ],
)
def test_tdes_mac_variants(variant: str | None, expected: str) -> None:
    """X9.24-1:2009 A.4.2 MAC request / response values at counter 1."""
    key = derive(TDES_BDK, "TDES_2KEY", TDES_KSN, Purpose.MAC, variant)
    assert iso9797.mac_algorithm3(key.key, MESSAGE).hex().upper() == expected


@pytest.mark.parametrize(
    ("variant", "expected_prefix"),
    [(None, "FC0D53B7EA1FDA9E"), ("REQUEST", "FC0D53B7EA1FDA9E"), ("RESPONSE", "1FCC89AF66222F27")],
)
def test_tdes_data_variants(variant: str | None, expected_prefix: str) -> None:
    """X9.24-1:2009 A.4.2 data request / response values at counter 1 (first block)."""
    key = derive(TDES_BDK, "TDES_2KEY", TDES_KSN, Purpose.DATA, variant)
    assert p.tdes_cbc_encrypt(key.key, MESSAGE)[:8].hex().upper() == expected_prefix


@pytest.mark.parametrize(
    ("purpose", "variant", "expected"),
    [
        (Purpose.PIN, None, "AF8CB133A78F8DC2D1359F18527593FB"),
        (Purpose.MAC, "REQUEST", "A2DC23DE6FDE0824A2BC321E08E4B8B7"),
        (Purpose.MAC, "RESPONSE", "DBB463945B286C07CD3AD82EE96FD9C9"),
        (Purpose.MAC, "BIDIRECTIONAL", "85675439D18D7F1158BD8E3EAA3D502B"),
        (Purpose.MAC, None, "85675439D18D7F1158BD8E3EAA3D502B"),
        (Purpose.DATA, "REQUEST", "A35C412EFD41FDB98B69797C02DCD08F"),
        (Purpose.DATA, "RESPONSE", "16292C6EA8F64C5420A0584BFBC577BE"),
        (Purpose.DATA, None, "A308E080DD15A1B741F1721BF67DE11C"),
    ],
)
def test_aes_usages(purpose: Purpose, variant: str | None, expected: str) -> None:
    """X9.24-3-2017 supplement, AES-128 BDK, counter 1; the default type is the BDK's."""
    key = derive(AES_BDK, "AES_128", AES_KSN, purpose, variant)
    assert key.key_type == "AES_128"
    assert key.family == "AES"
    assert key.key.hex().upper() == expected


def test_aes_bdk_with_tdes_working_key() -> None:
    """X9.24-3-2017 supplement: TDES-2KEY PIN key from the AES-128 BDK at counter 1."""
    key = derive(AES_BDK, "AES_128", AES_KSN, Purpose.PIN, None, "TDES_2KEY")
    assert key.family == "TDES"
    assert key.key.hex().upper() == "630C706D9546E47D4449313F61C4D4AB"


def test_ksn_length_must_match_bdk() -> None:
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="24-hex"):
        derive(AES_BDK, "AES_128", TDES_KSN, Purpose.PIN)
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="20-hex"):
        derive(TDES_BDK, "TDES_2KEY", AES_KSN, Purpose.PIN)
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="24-hex"):
        derive(AES_BDK, "AES_128", AES_KSN[:8], Purpose.PIN)  # AES DUKPT has no 16-hex KSN


def test_a_16_hex_tdes_ksn_is_the_f_padded_80_bit_ksn() -> None:
    """X9.24-1 pads a KSN shorter than 80 bits on the left with F: the 16-hex `9876543210E00001`
    is the published test KSN FFFF9876543210E00001, and derives its PIN key (A.4.2: PIN block
    041274EDCBA9876F encrypts to 1B9C1845EB993A7A at counter 1)."""
    short = TDES_KSN[2:]
    assert full_ksn(short, "TDES_2KEY") == TDES_KSN
    assert full_ksn(AES_KSN[:8], "AES_128") == AES_KSN[:8]  # no padding convention for AES
    key = derive(TDES_BDK, "TDES_2KEY", short, Purpose.PIN)
    assert p.tdes_ecb_encrypt(key.key, bytes.fromhex("041274EDCBA9876F")).hex().upper() == "1B9C1845EB993A7A"


def test_invalid_members_rejected() -> None:
    with pytest.raises(ValueError, match="TDES_2KEY working keys only"):
        derive(TDES_BDK, "TDES_2KEY", TDES_KSN, Purpose.PIN, None, "AES_128")
    with pytest.raises(ValueError, match="stronger"):
        derive(AES_BDK, "AES_128", AES_KSN, Purpose.PIN, None, "AES_256")
    with pytest.raises(ValueError, match="DukptKeyVariant"):
        derive(AES_BDK, "AES_128", AES_KSN, Purpose.PIN, "SIDEWAYS")
    with pytest.raises(ValueError, match="cannot be a DUKPT BDK"):
        derive(TDES_BDK + TDES_BDK[:8], "TDES_3KEY", TDES_KSN, Purpose.PIN)


def test_one_transaction_secret_gives_every_working_key() -> None:
    """The two-step path (kept per KSN by the service) lands on the same published keys.

    AES: X9.24-3-2017 supplement, AES-128 BDK, counter 1 (the values of test_aes_usages).
    TDES: X9.24-1:2009 A.4.2 at counter 1, PIN block 041274EDCBA9876F → 1B9C1845EB993A7A and
    MAC response 20364223C1FF00FA.
    """
    secret = transaction_secret(AES_BDK, "AES_128", AES_KSN)
    expected = {
        (Purpose.PIN, None): "AF8CB133A78F8DC2D1359F18527593FB",
        (Purpose.MAC, "REQUEST"): "A2DC23DE6FDE0824A2BC321E08E4B8B7",
        (Purpose.DATA, "RESPONSE"): "16292C6EA8F64C5420A0584BFBC577BE",
    }
    for (purpose, variant), key in expected.items():
        assert working_key(secret, "AES_128", AES_KSN, purpose, variant).key.hex().upper() == key
    secret_key = transaction_secret(TDES_BDK, "TDES_2KEY", TDES_KSN)
    pin = working_key(secret_key, "TDES_2KEY", TDES_KSN, Purpose.PIN)
    assert p.tdes_ecb_encrypt(pin.key, bytes.fromhex("041274EDCBA9876F")).hex().upper() == "1B9C1845EB993A7A"
    response = working_key(secret_key, "TDES_2KEY", TDES_KSN, Purpose.MAC, "RESPONSE")
    assert iso9797.mac_algorithm3(response.key, MESSAGE).hex().upper() == "20364223C1FF00FA"


def test_transaction_secret_checks_the_ksn() -> None:
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="counter is 0"):
        transaction_secret(TDES_BDK, "TDES_2KEY", bytes.fromhex("FFFF9876543210E00000"))
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="24-hex"):
        transaction_secret(AES_BDK, "AES_128", TDES_KSN)
