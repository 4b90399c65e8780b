"""AES DUKPT, ANSI X9.24-3-2017.

Known answers come from the X9.24-3-2017 supplement test vectors published by X9
(x9.org, "X9.24-3-2017-Test-Vectors-20180129"):

* initial keys, and intermediate derivation keys for counters 1–8, 0x1FFFE, 0x20000, 0x20001 and
  the last four counters, for the AES-128 and AES-256 BDKs, as reproduced in openemv/dukpt
  test/dukpt_aes_test.c, test/dukpt_aes128_test.c and test/dukpt_aes256_test.c;
* working keys (every usage for AES-128 at counter 1; PIN keys at counters 2, 3 and 8; the
  TDES-2KEY and TDES-3KEY working keys from the AES-128 BDK; AES-256 working keys), as reproduced
  in public DUKPT test suites (the CryptoScript `DukptAesWorkingKeyTests` "Annex B" cases and a
  payments knowledge base that tabulates the same supplement).

psec and pyemv have no DUKPT, so these vectors are the only oracle.
"""

import pytest

from paycrypt.crypto import dukpt_aes
from paycrypt.crypto.dukpt_aes import KeyType, KeyUsage

BDK_128 = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
BDK_256 = BDK_128 * 2
INITIAL_KEY_ID = bytes.fromhex("1234567890123456")
IK_128 = bytes.fromhex("1273671EA26AC29AFA4D1084127652A1")
IK_256 = bytes.fromhex("CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F")
KSN_1 = bytes.fromhex("123456789012345600000001")


def _ksn(counter: int) -> bytes:
    return INITIAL_KEY_ID + counter.to_bytes(4, "big")


# (counter, AES-128 derivation key, AES-256 derivation key) from the X9.24-3-2017 supplement
DERIVATION_KEYS = [
    (
        0x00000001,
        "4F21B565BAD9835E112B6465635EAE44",
        "54AC2B32B145EA4A554CB8BC44B17467063A799856B1CCC2A138D36E8DBF78B3",
    ),
    (
        0x00000002,
        "2F34D68DE10F68D38091A73B9E7C437C",
        "5DD5A0253842BBBE1D7C0DA27021412C6F1FAB53FB928DEAE56DA06090A9DE97",
    ),
    (
        0x00000003,
        "031504E530365CF81264238540518318",
        "8EEEF7C464AE415BB1D73FAED21993CD669F7999092A579EC6DD3CC680C65171",
    ),
    (
        0x00000004,
        "0EEFC7ADA628BA68878DA9165A8A1887",
        "C18CBED570B3B89ECADA7CEC9C224CD5A86ECF3DE377D3EFAB720F8C4D76B9D0",
    ),
    (
        0x00000005,
        "C2A7AC328A5DA2D6002D62465BFC028B",
        "6B3C3C93307151C25DC2309456F01C5C3108DAD571C321899A9B7E0C009FD2EB",
    ),
    (
        0x00000006,
        "D30F7D9351DA58448A2F5E92B4EE3B7D",
        "B8BB61AE3E2D5CD8C699E0C578FB2C7B89B0C0CF02DBAB60864D8049C986C844",
    ),
    (
        0x00000007,
        "A8253CEED9AC042C54F75D35C8352278",
        "88D0ACA287B3066F5DE0C93396337D4C2DA8D92C1F720A576D62CEB4C979E01E",
    ),
    (
        0x00000008,
        "718EE6CF0B27E53D5F7AF99C4D8146A2",
        "20A796D5077D51B8E7613893A4F095B134E02917DC84BD391F3661D0873FF308",
    ),
    (
        0x0001FFFE,
        "E21E8C8D347F8561A2BE752DAA85A111",
        "A289508CBF1228452CD86AB77B15CB35577AC828C18BB66681E5A16D6C9CCED3",
    ),
    (
        0x00020000,
        "F7AE9025468A25D37B7249CFFED224C8",
        "D62DDA94A47D7DA5D763443B4ECB15EA8DD62E0E4F915958BA459591F8312E37",
    ),
    (
        0x00020001,
        "692C8EA4013645135B36497131DF9D2C",
        "44110A1102748D4A3AC326F53D8CAC650212590CA7126D54546DDE0F20E89CEE",
    ),
    (
        0xFFFE2000,
        "48E585B694EB0B18D5C35443E163C0BA",
        "4625EB06E4886D4AFCC9AE37ED4F4E4E1653C9E60E3F24742A87A26AA96AB7A6",
    ),
    (
        0xFFFE4000,
        "396C2C7CA1EA701C03B86B7D41F0C562",
        "FF20E1BB575539ACCB44E3111BE8757F83AE8549A2DD71B441A4A424F7FFD4B1",
    ),
    (
        0xFFFE8000,
        "0387625F189B58AE03EF0E8CCA41105E",
        "630535C9C53E1EC6524016930B56F6728909C45403536B419AEBCB25B7351C07",
    ),
    (
        0xFFFF0000,
        "F6BA59389BD14A9855BE9727E7C52E3C",
        "6D6DB7AAAE8B3EA90E57A39E4BBA71E173B21B446B30A78D64BFC6A8806C55EE",
    ),
]

# (BDK, KSN counter, usage, working key type, expected working key) from the supplement
WORKING_KEYS = [
    (BDK_128, 1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128, "AF8CB133A78F8DC2D1359F18527593FB"),
    (BDK_128, 1, KeyUsage.MAC_GENERATION, KeyType.AES_128, "A2DC23DE6FDE0824A2BC321E08E4B8B7"),
    (BDK_128, 1, KeyUsage.MAC_VERIFICATION, KeyType.AES_128, "DBB463945B286C07CD3AD82EE96FD9C9"),
    (BDK_128, 1, KeyUsage.MAC_BOTH_WAYS, KeyType.AES_128, "85675439D18D7F1158BD8E3EAA3D502B"),
    (BDK_128, 1, KeyUsage.DATA_ENCRYPT, KeyType.AES_128, "A35C412EFD41FDB98B69797C02DCD08F"),
    (BDK_128, 1, KeyUsage.DATA_DECRYPT, KeyType.AES_128, "16292C6EA8F64C5420A0584BFBC577BE"),
    (BDK_128, 1, KeyUsage.DATA_BOTH_WAYS, KeyType.AES_128, "A308E080DD15A1B741F1721BF67DE11C"),
    (BDK_128, 1, KeyUsage.KEY_ENCRYPTION_KEY, KeyType.AES_128, "36A724B7BEFA5A25F5E7B5782A4554A2"),
    (BDK_128, 2, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128, "D30BDC73EC9714B000BEC66BDB7B6D09"),
    (BDK_128, 3, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128, "7D69F01F3B45449F62C7816ECE723268"),
    (BDK_128, 8, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128, "4D9DF3FBEE3448FC3E676D04320A90F5"),
    (BDK_128, 8, KeyUsage.MAC_GENERATION, KeyType.AES_128, "6FD572E5D59E618875F193484F9178FB"),
    (BDK_128, 8, KeyUsage.DATA_ENCRYPT, KeyType.AES_128, "650F34204ABD4E57764D61AC3D266FB1"),
    (BDK_128, 1, KeyUsage.PIN_ENCRYPTION, KeyType.TDES_2KEY, "630C706D9546E47D4449313F61C4D4AB"),
    (BDK_128, 1, KeyUsage.MAC_GENERATION, KeyType.TDES_2KEY, "5D8FD787E8A796D07035FFCA9B5800BB"),
    (BDK_128, 1, KeyUsage.DATA_ENCRYPT, KeyType.TDES_2KEY, "BD44121C223F831446A01EE3A4CB58D2"),
    (
        BDK_128,
        1,
        KeyUsage.PIN_ENCRYPTION,
        KeyType.TDES_3KEY,
        "EA8B3F37EB9B15831167EF2977FD8762D9B5913F35766F6A",
    ),
    (
        BDK_128,
        1,
        KeyUsage.MAC_GENERATION,
        KeyType.TDES_3KEY,
        "2A1061A6EAC2C14FAC3758EA07B3648A624B24E942785BF1",
    ),
    (
        BDK_128,
        1,
        KeyUsage.DATA_ENCRYPT,
        KeyType.TDES_3KEY,
        "F716DFBC6B2D2D5825B694EEEE181A013F2F1C09380BBE0C",
    ),
    (
        BDK_256,
        1,
        KeyUsage.PIN_ENCRYPTION,
        KeyType.AES_256,
        "8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502",
    ),
    (
        BDK_256,
        1,
        KeyUsage.MAC_GENERATION,
        KeyType.AES_256,
        "61DABDF4B340CF461EE860B1D1AB55357142BD2D6977306859CF49AEFE8F1549",
    ),
    (
        BDK_256,
        1,
        KeyUsage.DATA_ENCRYPT,
        KeyType.AES_256,
        "71EB36C9A6B7F801D1D1700C29741FC5A5C4E9B45D742DA7AF6992B8AA29AF58",
    ),
]


def test_initial_keys() -> None:
    assert dukpt_aes.derive_initial_key(BDK_128, INITIAL_KEY_ID) == IK_128
    assert dukpt_aes.derive_initial_key(BDK_256, INITIAL_KEY_ID) == IK_256


@pytest.mark.parametrize(("counter", "key_128", "key_256"), DERIVATION_KEYS)
def test_intermediate_derivation_keys(counter: int, key_128: str, key_256: str) -> None:
    assert dukpt_aes.intermediate_derivation_key(IK_128, _ksn(counter)).hex().upper() == key_128
    assert dukpt_aes.intermediate_derivation_key(IK_256, _ksn(counter)).hex().upper() == key_256


@pytest.mark.parametrize(("bdk", "counter", "usage", "key_type", "expected"), WORKING_KEYS)
def test_working_keys(bdk: bytes, counter: int, usage: KeyUsage, key_type: KeyType, expected: str) -> None:
    assert dukpt_aes.derive_working_key(bdk, _ksn(counter), usage, key_type).hex().upper() == expected


def test_working_key_from_initial_key_equals_from_bdk() -> None:
    assert dukpt_aes.working_key_from_initial_key(
        IK_128, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128
    ) == dukpt_aes.derive_working_key(BDK_128, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_128)


def test_working_key_from_derivation_key_equals_from_bdk() -> None:
    """The last derivation step alone, from the kept intermediate derivation key (same vectors)."""
    derivation_key = dukpt_aes.intermediate_derivation_key(IK_128, KSN_1)
    assert dukpt_aes.working_key_from_derivation_key(
        derivation_key, KSN_1, KeyUsage.MAC_GENERATION, KeyType.AES_128
    ) == dukpt_aes.derive_working_key(BDK_128, KSN_1, KeyUsage.MAC_GENERATION, KeyType.AES_128)
    with pytest.raises(ValueError, match="stronger"):
        dukpt_aes.working_key_from_derivation_key(
            derivation_key, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_256
        )


def test_working_key_lengths_for_every_type() -> None:
    """Length of each DukptDerivationType from an AES-256 BDK; not independently verified."""
    lengths = {
        KeyType.TDES_2KEY: 16,
        KeyType.TDES_3KEY: 24,
        KeyType.AES_128: 16,
        KeyType.AES_192: 24,
        KeyType.AES_256: 32,
    }
    keys = {
        key_type: dukpt_aes.derive_working_key(BDK_256, KSN_1, KeyUsage.DATA_BOTH_WAYS, key_type)
        for key_type in lengths
    }
    assert {key_type: len(key) for key_type, key in keys.items()} == lengths
    assert len(set(keys.values())) == len(keys)


def test_aes_192_bdk_round_trip_sensitivity() -> None:
    """AES-192 BDKs have no public vector: check length and that BDK, KSN and usage all matter.

    Not independently verified.
    """
    bdk = bytes(range(24))
    key = dukpt_aes.derive_working_key(bdk, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_192)
    assert len(key) == 24
    assert key != dukpt_aes.derive_working_key(
        bdk[:-1] + b"\x00", KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_192
    )
    assert key != dukpt_aes.derive_working_key(bdk, _ksn(2), KeyUsage.PIN_ENCRYPTION, KeyType.AES_192)
    assert key != dukpt_aes.derive_working_key(bdk, KSN_1, KeyUsage.DATA_ENCRYPT, KeyType.AES_192)
    assert key != dukpt_aes.derive_working_key(
        bdk, bytes.fromhex("123456789012345700000001"), KeyUsage.PIN_ENCRYPTION, KeyType.AES_192
    )


def test_working_key_may_not_be_stronger_than_bdk() -> None:
    with pytest.raises(ValueError, match="stronger"):
        dukpt_aes.derive_working_key(BDK_128, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_192)
    with pytest.raises(ValueError, match="stronger"):
        dukpt_aes.derive_working_key(BDK_128, KSN_1, KeyUsage.PIN_ENCRYPTION, KeyType.AES_256)


def test_derivation_usages_are_not_working_keys() -> None:
    with pytest.raises(ValueError, match="internal"):
        dukpt_aes.derive_working_key(BDK_128, KSN_1, KeyUsage.KEY_DERIVATION, KeyType.AES_128)


def test_ksn_counter_validation() -> None:
    assert dukpt_aes.ksn_counter(_ksn(0xFFFF0000)) == 0xFFFF0000
    with pytest.raises(dukpt_aes.InvalidKsnError, match="counter is 0"):
        dukpt_aes.ksn_counter(_ksn(0))
    with pytest.raises(dukpt_aes.InvalidKsnError, match="more than 16 one-bits"):
        dukpt_aes.ksn_counter(_ksn(0x0001FFFF))  # 17 one-bits: the supplement marks it unused
    with pytest.raises(dukpt_aes.InvalidKsnError, match="24 hex"):
        dukpt_aes.ksn_counter(bytes.fromhex("FFFF9876543210E00001"))
    with pytest.raises(dukpt_aes.InvalidKsnError):
        dukpt_aes.derive_working_key(BDK_128, _ksn(0), KeyUsage.PIN_ENCRYPTION, KeyType.AES_128)


def test_bdk_must_be_aes() -> None:
    with pytest.raises(ValueError, match="AES key"):
        dukpt_aes.derive_initial_key(bytes(20), INITIAL_KEY_ID)
