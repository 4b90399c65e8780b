"""MAC generation and verification as GenerateMac / VerifyMac name the algorithms.

    ISO9797_ALGORITHM1   ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC), TDES 8-byte or AES 16-byte tag
    ISO9797_ALGORITHM3   ISO/IEC 9797-1 MAC algorithm 3 (ANSI X9.19 retail MAC), TDES, 8-byte tag
    CMAC                 NIST SP 800-38B (ISO/IEC 9797-1 algorithm 5), TDES 8-byte or AES 16-byte tag
    HMAC, HMAC_SHAnnn    RFC 2104 / FIPS 198-1 with SHA-224/256/384/512, tag = digest

The ISO 9797 algorithms pad unaligned data with ISO/IEC 9797-1 padding method 1 (zeros) to the
cipher's block and leave aligned data alone. Algorithm 1 is defined for any n-bit block cipher, and
the guide gives its AES block size (L4760: "16 bytes/32 characters for AES"), so an AES key runs it
as the AES CBC-MAC (the API reaches this with an AES DUKPT key only: static M1 keys are TDES).
Algorithm 3 needs a second key K' for its output transformation, which an AES working key does
not have, so it stays TDES. The guide states this at L4760 and contradicts it at L4807 ("All others
require that the data be padded"); paycrypt follows the explicit rule (seed-C A-MAC-1), which is
also what the X9.24-1 DUKPT MAC test vectors use. CMAC and HMAC take any length.

`Algorithm=HMAC` uses the hash the key was created with; `HMAC_SHAnnn` must name that same hash
(seed-C A-MAC-3). The DUKPT MACs (DukptIso9797Algorithm1/3, DukptCmac) are these same algorithms
over a key from `dukpt_variants`. MacLength (4–32 bytes in the model) keeps the leftmost bytes of
the tag and may not exceed it. Verification compares in constant time against the leftmost
len(mac) bytes (or MacLength, when given, which the MAC's length must then equal); a MAC shorter
than 4 bytes, the model's smallest MacLength, is refused as input rather than checked.
"""

from __future__ import annotations

from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p

MIN_MAC_BYTES = 4
AES_BLOCK = 16
MAX_MAC_BYTES = 32

ALGORITHMS = (
    "ISO9797_ALGORITHM1",
    "ISO9797_ALGORITHM3",
    "CMAC",
    "HMAC",
    "HMAC_SHA224",
    "HMAC_SHA256",
    "HMAC_SHA384",
    "HMAC_SHA512",
)

# key algorithm (SymmetricKeyAlgorithm / DukptDerivationType name) -> cipher family or hash
_FAMILY = {
    "TDES_2KEY": "TDES",
    "TDES_3KEY": "TDES",
    "AES_128": "AES",
    "AES_192": "AES",
    "AES_256": "AES",
    "HMAC_SHA224": "sha224",
    "HMAC_SHA256": "sha256",
    "HMAC_SHA384": "sha384",
    "HMAC_SHA512": "sha512",
}
_KEY_LENGTHS = {"TDES_2KEY": (16,), "TDES_3KEY": (24,), "AES_128": (16,), "AES_192": (24,), "AES_256": (32,)}


def _iso9797_1(key: bytes, data: bytes) -> bytes:
    return iso9797.mac_algorithm1(key, iso9797.pad_method1(data))


def _iso9797_1_aes(key: bytes, data: bytes) -> bytes:
    return p.aes_cbc_encrypt(key, iso9797.pad_method1(data, AES_BLOCK))[-AES_BLOCK:]


def _iso9797_3(key: bytes, data: bytes) -> bytes:
    return iso9797.mac_algorithm3(key, iso9797.pad_method1(data))


# (algorithm, family) -> tag function; a pair missing here is a key that cannot run the algorithm
_TAGS = {
    ("ISO9797_ALGORITHM1", "TDES"): _iso9797_1,
    ("ISO9797_ALGORITHM1", "AES"): _iso9797_1_aes,
    ("ISO9797_ALGORITHM3", "TDES"): _iso9797_3,
    ("CMAC", "TDES"): p.tdes_cmac,
    ("CMAC", "AES"): p.aes_cmac,
}


def generate(
    algorithm: str, key: bytes, key_algorithm: str, data: bytes, mac_length: int | None = None
) -> bytes:
    """The MAC of `data`, truncated to `mac_length` bytes when given."""
    tag = _tag(algorithm, key, key_algorithm, data)
    if mac_length is None:
        return tag
    if not MIN_MAC_BYTES <= mac_length <= min(MAX_MAC_BYTES, len(tag)):
        raise ValueError(f"MacLength must be between {MIN_MAC_BYTES} and {len(tag)} bytes for {algorithm}")
    return tag[:mac_length]


def verify(
    algorithm: str, key: bytes, key_algorithm: str, data: bytes, mac: bytes, mac_length: int | None = None
) -> bool:
    """Whether `mac` is the (leftmost part of the) MAC of `data`, compared in constant time."""
    if len(mac) < MIN_MAC_BYTES:
        raise ValueError(f"Mac must be at least {MIN_MAC_BYTES} bytes")
    expected = generate(algorithm, key, key_algorithm, data, mac_length)
    if mac_length is None:
        if len(mac) > len(expected):
            raise ValueError(f"Mac is longer than the {len(expected)}-byte {algorithm} tag")
        expected = expected[: len(mac)]
    return len(mac) == len(expected) and p.constant_time_equal(expected, mac)


def _tag(algorithm: str, key: bytes, key_algorithm: str, data: bytes) -> bytes:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported MAC algorithm {algorithm}")
    family = _FAMILY.get(key_algorithm)
    if family is None:
        raise ValueError(f"a {key_algorithm} key cannot compute a MAC")
    if key_algorithm in _KEY_LENGTHS and len(key) not in _KEY_LENGTHS[key_algorithm]:
        raise ValueError(f"key length does not match its algorithm {key_algorithm}")
    if algorithm.startswith("HMAC"):
        return _hmac(algorithm, key, key_algorithm, data)
    tag_function = _TAGS.get((algorithm, family))
    if tag_function is None:
        raise ValueError(f"{algorithm} cannot be computed with a {key_algorithm} key")
    return tag_function(key, data)


def _hmac(algorithm: str, key: bytes, key_algorithm: str, data: bytes) -> bytes:
    if not key_algorithm.startswith("HMAC_"):
        raise ValueError(f"{algorithm} needs an HMAC key, not {key_algorithm}")
    if algorithm != "HMAC" and algorithm != key_algorithm:
        raise ValueError(f"{algorithm} does not match the key's algorithm {key_algorithm}")
    return p.hmac_digest(key, data, _FAMILY[key_algorithm])
