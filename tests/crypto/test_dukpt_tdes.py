"""TDES DUKPT, ANSI X9.24-1:2009.

Known answers: every published Annex A.4 value for BDK 0123456789ABCDEFFEDCBA9876543210 and
initial KSN FFFF9876543210E00000: the IPEK (A.4.1), the transaction keys and encrypted PIN blocks
of the initial (A.4.2) and rollover (A.4.3) sequences, as reproduced in openemv/dukpt
test/dukpt_tdes_test.c; and the A.4.2 MAC request/response and data request/response values of
the first five transactions, as reproduced in moov-io/dukpt pkg/des/des_test.go. The Annex A test
data are PIN 1234, PAN 4012345678909 (ISO format 0 block 041274EDCBA9876F) and the message
"4012345678909D987", zero-padded (ISO 9797-1 padding method 1); MACs are ANSI X9.19 (ISO 9797-1
algorithm 3) and data are TDES-CBC with a zero IV. psec and pyemv have no DUKPT, so these
vectors are the only oracle.
"""

import pytest

from paycrypt.crypto import dukpt_tdes, iso9797
from paycrypt.crypto import primitives as p

BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
IPEK = bytes.fromhex("6AC292FAA1315B4D858AB3A3D7D5933A")
PIN_BLOCK = bytes.fromhex("041274EDCBA9876F")
MESSAGE = iso9797.pad_method1(b"4012345678909D987")

# ANSI X9.24-1:2009 A.4.2 initial sequence: (KSN, transaction key, PIN block under the PIN key)
INITIAL_SEQUENCE = [
    ("FFFF9876543210E00001", "042666B49184CFA368DE9628D0397BC9", "1B9C1845EB993A7A"),
    ("FFFF9876543210E00002", "C46551CEF9FD24B0AA9AD834130D3BC7", "10A01C8D02C69107"),
    ("FFFF9876543210E00003", "0DF3D9422ACA56E547676D07AD6BADFA", "18DC07B94797B466"),
    ("FFFF9876543210E00004", "279C0F6AEED0BE652B2C733E1383AE91", "0BC79509D5645DF7"),
    ("FFFF9876543210E00005", "5F8DC6D2C845C125508DDC048093B83F", "5BC0AF22AD87B327"),
    ("FFFF9876543210E00006", "5E415CB0BAF9F03CD0C14B63FB62FF43", "A16DF70AE36158D8"),
    ("FFFF9876543210E00007", "0C8F780B7C8B49D0AE84A9EB2A6CE660", "27711C16CB257F8E"),
    ("FFFF9876543210E00008", "27F66D5244FF62E1AA6F6120EDEB4280", "50E55547A5027551"),
    ("FFFF9876543210E00009", "27E31064FDC565698900E2057F658E7E", "536CF7F678ACFC8D"),
    ("FFFF9876543210E0000A", "6CF2500A22507C7CC776CEADC1E33014", "EDABBA23221833FE"),
    ("FFFF9876543210E0000B", "3E8260BA04B2D620C01482B3819A18B7", "2328981C57B4BDBA"),
    ("FFFF9876543210E0000C", "B716E1E11CF53D80726CAEE75C3A624F", "038D03CC926CF286"),
    ("FFFF9876543210E0000D", "E072EDF95340535FB6C581C58FBF2533", "6C8AA97088B62C68"),
    ("FFFF9876543210E0000E", "A80046087F5B8F245AAD95E18429084F", "F17C9E1D72CD4950"),
    ("FFFF9876543210E0000F", "93DD5B956C4878472E453AAEFD32A5AA", "B170F6E7F7F2F64A"),
    ("FFFF9876543210E00010", "59598DCBD9BD94C094165CE453585F57", "D5D9638559EF53D6"),
    ("FFFF9876543210E00011", "2B5F01F4F0CC05EA639D523231BF1BA2", "D544F8CDD292C863"),
    ("FFFF9876543210E00012", "9CF640F279C2AEE615F725EEEAC2CBAF", "7A21BD10F36DC41D"),
    ("FFFF9876543210E00013", "C3DF489FDF1153B4F03DE97C27DC4C2F", "78649BD17D0DFA60"),
    ("FFFF9876543210E00014", "658488507721B3F14737FA93F923CBD2", "7E7E16EA0C31AD56"),
    ("FFFF9876543210E00015", "E161D1956A61F6D2F37AFD7F9CC3699A", "72105C22EBC791E6"),
]
# ANSI X9.24-1:2009 A.4.3 rollover sequence
ROLLOVER_SEQUENCE = [
    ("FFFF9876543210EFF800", "F9CDFEBF4F5B1D9EB3EC12454527E176", "33365F5CC6F23C35"),
    ("FFFF9876543210EFF801", "5BEE92627E97825C911BF619DF72CA3B", "3A86BF003F835C9D"),
    ("FFFF9876543210EFF802", "64CA2F8AB93F61B01620B00BF77C7301", "3DB977D05C36DF3F"),
    ("FFFF9876543210EFF804", "35A168695B3BA83307E871C42021DD37", "BA83243305712099"),
    ("FFFF9876543210EFF808", "12C380FCB72ED3C26FC6079AF63F4787", "B0DA04AC90A36D85"),
    ("FFFF9876543210EFF810", "D8007C833A1E3C49C6889B97A68C54FF", "2CF02BD9C309EEDA"),
    ("FFFF9876543210EFF820", "A9C9FF9B735FDD49591F296B0BF0FD70", "9D1E2F77AEEE81C6"),
    ("FFFF9876543210EFF840", "0E3E221062CB5E03A384602783A004FA", "40870B0F8BA2011C"),
    ("FFFF9876543210EFF880", "CA8225C587124DFBB87F279C0BE29727", "22E340D6ABB40981"),
    ("FFFF9876543210EFF900", "906AAC1751D4971A144D52C76C6E1F97", "1A4C10AFBA03A430"),
    ("FFFF9876543210EFFA00", "2B9E2CE7C2750337E10B54D2989EA6AF", "849763B43E5F9CFF"),
    ("FFFF9876543210EFFC00", "F9430DF975082491C77BE4EF4FDB91EE", "DEFC6F09F8927B71"),
    ("FFFF9876543210F00000", "AA4D58DB653EC74A48C75F2F047DD2B5", "73EC88AD0AC5830E"),
]

# ANSI X9.24-1:2009 A.4.2: (KSN, data request, data response, MAC request, MAC response)
MAC_AND_DATA = [
    (
        "FFFF9876543210E00001",
        "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F",
        "1FCC89AF66222F27B903898BB2BC8589CDBFDE5EC6AFCC25",
        "9CCC78173FC4FB64",
        "20364223C1FF00FA",
    ),
    (
        "FFFF9876543210E00002",
        "A2B4E70F846E63D68775B7215EB4563DFD3037244C61CC13",
        "5B692A6B1FDD5E25B0DEFAFDE1672E402F8011360CFF3508",
        "F608A9BCA6FFC311",
        "D1FCA6BEF05D24D2",
    ),
    (
        "FFFF9876543210E00003",
        "BD751E65F10E75B6C1D5B1D283496A36C2DE21D993C387A7",
        "345992D4163E4926C927BFD8ABD5D76F087A9CE81D5A27B8",
        "20B59A4FEAC937E3",
        "BAD4CC9CC2AE326C",
    ),
    (
        "FFFF9876543210E00004",
        "1118F50947441BBDA3C8C70220021A12EC31CC473F7215F4",
        "418C7413576C0D1819E785D3807AF32334231FDEC23414DB",
        "C7BFA6CC44161828",
        "1EB08AEECE6FF0C2",
    ),
    (
        "FFFF9876543210E00005",
        "9FD7BD1EC28845ACA93367A9DA9317BD555C6B33AE22D365",
        "7D4C109E49E83355A556AE949EED359F4404E7A2F0167C00",
        "0202B96339022058",
        "5CBE3E81D1D2A0FB",
    ),
]


def test_ipek_annex_a() -> None:
    """X9.24-1:2009 A.4.1; the counter is ignored, so any KSN of the device gives the IPEK."""
    assert dukpt_tdes.derive_ipek(BDK, bytes.fromhex("FFFF9876543210E00000")) == IPEK
    assert dukpt_tdes.derive_ipek(BDK, bytes.fromhex("FFFF9876543210E00015")) == IPEK


@pytest.mark.parametrize(("ksn", "transaction_key", "pin_block"), INITIAL_SEQUENCE + ROLLOVER_SEQUENCE)
def test_transaction_keys_and_pin_blocks_annex_a(ksn: str, transaction_key: str, pin_block: str) -> None:
    ksn_bytes = bytes.fromhex(ksn)
    assert dukpt_tdes.derive_transaction_key(IPEK, ksn_bytes).hex().upper() == transaction_key
    pin_key = dukpt_tdes.derive_working_key(BDK, ksn_bytes, dukpt_tdes.Usage.PIN)
    assert p.tdes_ecb_encrypt(pin_key, PIN_BLOCK).hex().upper() == pin_block


@pytest.mark.parametrize(
    ("ksn", "data_request", "data_response", "mac_request", "mac_response"), MAC_AND_DATA
)
def test_mac_and_data_keys_annex_a(
    ksn: str, data_request: str, data_response: str, mac_request: str, mac_response: str
) -> None:
    ksn_bytes = bytes.fromhex(ksn)
    cases = [
        (dukpt_tdes.Usage.DATA_REQUEST, p.tdes_cbc_encrypt, data_request),
        (dukpt_tdes.Usage.DATA_RESPONSE, p.tdes_cbc_encrypt, data_response),
        (dukpt_tdes.Usage.MAC_REQUEST, iso9797.mac_algorithm3, mac_request),
        (dukpt_tdes.Usage.MAC_RESPONSE, iso9797.mac_algorithm3, mac_response),
    ]
    for usage, function, expected in cases:
        key = dukpt_tdes.derive_working_key(BDK, ksn_bytes, usage)
        assert function(key, MESSAGE).hex().upper() == expected, usage


def test_working_key_from_ipek_equals_from_bdk() -> None:
    ksn = bytes.fromhex("FFFF9876543210E00008")
    for usage in dukpt_tdes.Usage:
        assert dukpt_tdes.working_key_from_ipek(IPEK, ksn, usage) == dukpt_tdes.derive_working_key(
            BDK, ksn, usage
        )


def test_ksn_counter_validation() -> None:
    assert dukpt_tdes.ksn_counter(bytes.fromhex("FFFF9876543210E00001")) == 1
    assert dukpt_tdes.ksn_counter(bytes.fromhex("FFFF9876543210EFFC00")) == 0x0FFC00
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="counter is 0"):
        dukpt_tdes.ksn_counter(bytes.fromhex("FFFF9876543210E00000"))
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="more than 10 one-bits"):
        dukpt_tdes.ksn_counter(bytes.fromhex("FFFF9876543210E007FF"))  # 11 one-bits
    with pytest.raises(dukpt_tdes.InvalidKsnError, match="20 hex"):
        dukpt_tdes.ksn_counter(bytes.fromhex("9876543210E00001"))
    with pytest.raises(dukpt_tdes.InvalidKsnError):
        dukpt_tdes.derive_working_key(BDK, bytes.fromhex("FFFF9876543210E00000"), dukpt_tdes.Usage.PIN)


def test_bdk_must_be_two_key() -> None:
    with pytest.raises(ValueError, match="two-key"):
        dukpt_tdes.derive_ipek(BDK + BDK[:8], bytes.fromhex("FFFF9876543210E00001"))


def test_errors_carry_no_key_material() -> None:
    with pytest.raises(ValueError) as info:
        dukpt_tdes.derive_ipek(BDK[:8], bytes.fromhex("FFFF9876543210E00001"))
    assert BDK[:8].hex() not in str(info.value).lower()
