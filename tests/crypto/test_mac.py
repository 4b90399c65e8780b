"""MAC dispatch for GenerateMac / VerifyMac.

Oracles: psec.mac (ISO 9797-1 algorithms 1 and 3, padding method 1) on random inputs; NIST SP
800-38B Appendix D and RFC 4493 §4 CMAC examples (AES-128 D.1, three-key TDEA D.4, two-key TDEA
D.5); RFC 4231 §4 HMAC-SHA-224/256/384/512 test cases 1, 2 and 5 (truncation).
"""

import psec.mac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import mac

M64 = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
AES_128 = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
TDES_3KEY = bytes.fromhex("8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5")
TDES_2KEY_AS_3KEY = bytes.fromhex("4cf15134a2850dd58a3d10ba80570d384cf15134a2850dd5")


@pytest.mark.parametrize(
    ("key", "key_algorithm", "length", "tag"),
    [
        # RFC 4493 §4 / SP 800-38B D.1 (AES-128), examples 1-4
        (AES_128, "AES_128", 0, "bb1d6929e95937287fa37d129b756746"),
        (AES_128, "AES_128", 16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (AES_128, "AES_128", 40, "dfa66747de9ae63030ca32611497c827"),
        (AES_128, "AES_128", 64, "51f0bebf7e3b9d92fc49741779363cfe"),
        # SP 800-38B D.4 (three-key TDEA), examples 13-16
        (TDES_3KEY, "TDES_3KEY", 0, "b7a688e122ffaf95"),
        (TDES_3KEY, "TDES_3KEY", 8, "8e8f293136283797"),
        (TDES_3KEY, "TDES_3KEY", 20, "743ddbe0ce2dc2ed"),
        (TDES_3KEY, "TDES_3KEY", 32, "33e6b1092400eae5"),
        # SP 800-38B D.5 (two-key TDEA, K3 = K1), examples 17-20
        (TDES_2KEY_AS_3KEY[:16], "TDES_2KEY", 0, "bd2ebf9a3ba00361"),
        (TDES_2KEY_AS_3KEY[:16], "TDES_2KEY", 8, "4ff2ab813c53ce83"),
        (TDES_2KEY_AS_3KEY[:16], "TDES_2KEY", 20, "62dd1b471902bd4e"),
        (TDES_2KEY_AS_3KEY[:16], "TDES_2KEY", 32, "31b1e431dabc4eb8"),
    ],
)
def test_cmac_nist_vectors(key: bytes, key_algorithm: str, length: int, tag: str) -> None:
    assert mac.generate("CMAC", key, key_algorithm, M64[:length]).hex() == tag
    assert mac.verify("CMAC", key, key_algorithm, M64[:length], bytes.fromhex(tag))


RFC4231 = [
    # (key, data, {hash: tag}) test cases 1 and 2
    (
        bytes([0x0B] * 20),
        b"Hi There",
        {
            "HMAC_SHA224": "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
            "HMAC_SHA256": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "HMAC_SHA384": "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6",
            "HMAC_SHA512": "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        },
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        {
            "HMAC_SHA224": "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            "HMAC_SHA256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "HMAC_SHA384": "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
            "8e2240ca5e69e2c78b3239ecfab21649",
            "HMAC_SHA512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        },
    ),
]


@pytest.mark.parametrize(("key", "data", "tags"), RFC4231)
def test_hmac_rfc4231(key: bytes, data: bytes, tags: dict[str, str]) -> None:
    for key_algorithm, tag in tags.items():
        assert mac.generate("HMAC", key, key_algorithm, data).hex() == tag
        assert mac.generate(key_algorithm, key, key_algorithm, data).hex() == tag
        assert mac.verify(key_algorithm, key, key_algorithm, data, bytes.fromhex(tag))


def test_hmac_truncation_rfc4231_case5() -> None:
    """RFC 4231 test case 5: HMAC-SHA-256 truncated to 128 bits."""
    key, data = bytes([0x0C] * 20), b"Test With Truncation"
    tag = bytes.fromhex("a3b6167473100ee06e0c796c2955552b")
    assert mac.generate("HMAC_SHA256", key, "HMAC_SHA256", data, mac_length=16) == tag
    assert mac.verify("HMAC", key, "HMAC_SHA256", data, tag)
    assert mac.verify("HMAC", key, "HMAC_SHA256", data, tag, mac_length=16)


@given(data=st.binary(min_size=1, max_size=80), key=st.binary(min_size=16, max_size=16))
def test_iso9797_algorithm1_matches_psec(data: bytes, key: bytes) -> None:
    """Unaligned data gets padding method 1; psec pads it the same way."""
    assert mac.generate("ISO9797_ALGORITHM1", key, "TDES_2KEY", data) == psec.mac.generate_cbc_mac(
        key, data, 1
    )


@given(data=st.binary(min_size=1, max_size=80), key=st.binary(min_size=16, max_size=16))
def test_iso9797_algorithm3_matches_psec(data: bytes, key: bytes) -> None:
    expected = psec.mac.generate_retail_mac(key[:8], key[8:], data, 1)
    assert mac.generate("ISO9797_ALGORITHM3", key, "TDES_2KEY", data) == expected
    assert mac.verify("ISO9797_ALGORITHM3", key, "TDES_2KEY", data, expected[:4])


def test_iso9797_algorithm1_three_key_matches_psec() -> None:
    key, data = bytes(range(1, 25)), b"three-key CBC-MAC"
    assert mac.generate("ISO9797_ALGORITHM1", key, "TDES_3KEY", data) == psec.mac.generate_cbc_mac(
        key, data, 1
    )


def test_iso9797_algorithm1_with_aes_is_the_cbc_mac_sp800_38a() -> None:
    """ISO/IEC 9797-1 algorithm 1 with AES (IV zero) is the last block of AES-CBC. NIST SP 800-38A
    F.2.1 (CBC-AES128.Encrypt, IV 000102…0F) gives it: CBC with that IV equals CBC with a zero IV
    over P1 ⊕ IV ‖ P2 ‖ P3 ‖ P4, whose last ciphertext block is 3FF1CAA1681FAC09120ECA307586E1A7."""
    key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = int("000102030405060708090A0B0C0D0E0F", 16)
    p1 = (int("6BC1BEE22E409F96E93D7E117393172A", 16) ^ iv).to_bytes(16)
    rest = bytes.fromhex(
        "AE2D8A571E03AC9C9EB76FAC45AF8E5130C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710"
    )
    tag = mac.generate("ISO9797_ALGORITHM1", key, "AES_128", p1 + rest)
    assert tag.hex().upper() == "3FF1CAA1681FAC09120ECA307586E1A7"
    # unaligned data is zero-padded to the 16-byte AES block (padding method 1)
    assert mac.generate("ISO9797_ALGORITHM1", key, "AES_128", b"abc") == mac.generate(
        "ISO9797_ALGORITHM1", key, "AES_128", b"abc" + bytes(13)
    )


def test_aligned_data_is_not_padded() -> None:
    """A block-aligned message gets no extra block (padding method 1); psec as oracle."""
    key, data = bytes(range(16)), bytes(range(16))
    assert mac.generate("ISO9797_ALGORITHM1", key, "TDES_2KEY", data) == psec.mac.generate_cbc_mac(
        key, data, 1
    )


def test_mac_length_truncates() -> None:
    full = mac.generate("CMAC", AES_128, "AES_128", M64)
    assert mac.generate("CMAC", AES_128, "AES_128", M64, mac_length=4) == full[:4]
    assert mac.generate("CMAC", AES_128, "AES_128", M64, mac_length=16) == full
    with pytest.raises(ValueError, match="MacLength"):
        mac.generate("CMAC", AES_128, "AES_128", M64, mac_length=17)
    with pytest.raises(ValueError, match="MacLength"):
        mac.generate("CMAC", AES_128, "AES_128", M64, mac_length=3)
    sha512 = mac.generate("HMAC", b"k", "HMAC_SHA512", M64, mac_length=32)
    assert len(sha512) == 32


def test_verify_rejects_wrong_mac() -> None:
    tag = mac.generate("CMAC", AES_128, "AES_128", M64)
    for position in range(len(tag)):
        wrong = bytearray(tag)
        wrong[position] ^= 0x01
        assert not mac.verify("CMAC", AES_128, "AES_128", M64, bytes(wrong))
    assert not mac.verify("CMAC", AES_128, "AES_128", M64 + b"\x00", tag)
    assert not mac.verify("CMAC", AES_128, "AES_128", M64, tag[:8], mac_length=12)
    with pytest.raises(ValueError, match="at least 4"):
        mac.verify("CMAC", AES_128, "AES_128", M64, tag[:3])
    with pytest.raises(ValueError, match="longer"):
        mac.verify("CMAC", AES_128, "AES_128", M64, tag + b"\x00")


@pytest.mark.parametrize(
    ("algorithm", "key_algorithm", "key_length", "message"),
    [
        ("HMAC_SHA384", "HMAC_SHA256", 32, "does not match"),
        ("HMAC", "AES_128", 16, "needs an HMAC key"),
        ("ISO9797_ALGORITHM3", "AES_256", 32, "cannot be computed"),
        ("CMAC", "HMAC_SHA256", 32, "cannot be computed"),
        ("AS2805_4_1", "TDES_2KEY", 16, "unsupported"),
        ("CMAC", "RSA_2048", 16, "cannot compute"),
        ("CMAC", "AES_256", 16, "does not match"),
    ],
)
def test_algorithm_and_key_must_agree(
    algorithm: str, key_algorithm: str, key_length: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        mac.generate(algorithm, bytes(range(key_length)), key_algorithm, b"data")
