"""TR-31 / ANSI X9.143 key blocks: versions A, B, C and D.

Why this module matters twice: the vault keeps every key of the service as a version D block
under the master key, and ImportKey/ExportKey exchange working keys with other HSMs as TR-31
blocks (A, B, C and D in; B and D out).

A key block is ASCII: a 16-character header, optional blocks, the encrypted key data as
uppercase hex, and the MAC as uppercase hex. Layout and bindings follow ANSI X9.143-2022 /
ASC X9 TR-31:2018:

- Version B (§5.3.2.1): KBEK and KBAK derived from a TDES KBPK with TDES-CMAC, TDES-CMAC over
  header ‖ clear key data (8 bytes), TDES-CBC with the MAC as IV.
- Version D (§5.3.2.3): the same with AES-CMAC and AES-CBC, a 16-byte MAC.
- Versions A and C (the key variant binding of TR-31:2005/2010): KBEK = KBPK ⊕ 45…,
  KBAK = KBPK ⊕ 4D…, TDES-CBC with the first 8 header bytes as IV, and a 4-byte ISO 9797-1
  algorithm 1 CBC-MAC over header ‖ *encrypted* key data.

Clear key data is the key length in bits (2 bytes, big-endian) ‖ key ‖ random padding up to the
masked key length and then to the cipher block.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import NamedTuple

from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p


class KeyBlockError(ValueError):
    """A key block or header that is malformed, fails its MAC, or does not fit its KBPK."""


FIXED_HEADER_LENGTH = 16
# X9.143 caps a key block at 9992 characters (the 4-digit length field, kept block-aligned).
MAX_BLOCK_LENGTH = 9992
PADDING_BLOCK_ID = "PB"

_ALNUM = frozenset(string.ascii_letters + string.digits)
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
_UPPER_HEX = frozenset("0123456789ABCDEF")
_PB_ALPHABET = string.ascii_uppercase + string.digits

# X9.143 fixed header (seed-B §5.1): the fields and their sizes. Version and exportability
# have closed sets; the others are open (numeric values are proprietary), so only their
# character set is checked.
_VERSIONS = frozenset("ABCD")
_EXPORTABILITY = frozenset("ENS")
_FIELD_FORMATS: tuple[tuple[str, int], ...] = (
    ("key_usage", 2),
    ("algorithm", 1),
    ("mode_of_use", 1),
    ("key_version_number", 2),
    ("reserved", 2),
)

# Key-length masking (X9.143 lets the sender pad the key field so the block hides the key's true
# length): the clear key is
# padded to the longest key of its algorithm, as AWS Payment Cryptography does (seed-B §5.1:
# B0096 for a 16-byte TDES key, D0144 for AES). Other algorithms (HMAC, RSA, ECC) have no
# fixed maximum, so they are not masked by default.
_MASK_LENGTHS: Mapping[str, int] = MappingProxyType({"T": 24, "A": 32})


@dataclass(frozen=True)
class Header:
    """The key block header without its length field, which is computed when wrapping.

    `optional_blocks` keeps the blocks in order as (block_id, value) pairs. A parsed header keeps
    its PB padding block as it was received; `wrap` drops any PB and builds a fresh one.
    """

    version_id: str
    key_usage: str
    algorithm: str
    mode_of_use: str
    key_version_number: str = "00"
    exportability: str = "N"
    optional_blocks: tuple[tuple[str, str], ...] = ()
    reserved: str = "00"

    def __post_init__(self) -> None:
        object.__setattr__(self, "optional_blocks", _as_pairs(self.optional_blocks))
        if self.version_id not in _VERSIONS:
            raise KeyBlockError("unsupported key block version (expected A, B, C or D)")
        if self.exportability not in _EXPORTABILITY:
            raise KeyBlockError("exportability must be E, N or S")
        for name, size in _FIELD_FORMATS:
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) != size or not set(value) <= _ALNUM:
                raise KeyBlockError(f"header field {name} must be {size} ASCII letters or digits")
        _check_optional_blocks(self.optional_blocks)

    def optional_block(self, block_id: str) -> str | None:
        """The value of one optional block (e.g. HM, KS, BI), or None when absent."""
        return dict(self.optional_blocks).get(block_id)

    def without_padding(self) -> Header:
        """The same header with its PB block removed, as a service retains optional blocks."""
        blocks = tuple(b for b in self.optional_blocks if b[0] != PADDING_BLOCK_ID)
        return replace(self, optional_blocks=blocks)


class ParsedHeader(NamedTuple):
    header: Header
    block_length: int  # the declared length of the whole key block
    header_length: int  # characters of fixed header plus optional blocks


# --- Optional blocks -------------------------------------------------------------------------


def _as_pairs(blocks: object) -> tuple[tuple[str, str], ...]:
    """Accept a mapping or a sequence of pairs, as callers naturally hold optional blocks."""
    items = blocks.items() if isinstance(blocks, Mapping) else blocks
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise KeyBlockError("optional blocks must be (block_id, value) pairs")
    pairs = []
    for item in items:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise KeyBlockError("optional blocks must be (block_id, value) pairs")
        if not isinstance(item[0], str) or not isinstance(item[1], str):
            raise KeyBlockError("optional block IDs and values must be strings")
        pairs.append((item[0], item[1]))
    return tuple(pairs)


def _check_optional_blocks(blocks: tuple[tuple[str, str], ...]) -> None:
    """X9.143 optional blocks: 2-character IDs, printable ASCII data, each ID once, at most 99."""
    if len(blocks) > 99:
        raise KeyBlockError("a key block holds at most 99 optional blocks")
    seen: set[str] = set()
    for block_id, value in blocks:
        if len(block_id) != 2 or not set(block_id) <= _ALNUM:
            raise KeyBlockError("an optional block ID must be 2 ASCII letters or digits")
        if not set(value) <= _PRINTABLE:
            raise KeyBlockError("optional block data must be printable ASCII")
        if block_id in seen:
            raise KeyBlockError("optional block IDs must be unique")
        seen.add(block_id)


def _encode_block(block_id: str, value: str) -> str:
    """ID ‖ length ‖ data; the length counts the whole block.

    Past 255 characters X9.143 uses the extended form: length '00', then the length of the
    length in bytes ('02'), then a 4-hex-digit length.
    """
    short_length = len(value) + 4
    if short_length <= 0xFF:
        return f"{block_id}{short_length:02X}{value}"
    long_length = len(value) + 10
    if long_length > 0xFFFF:
        raise KeyBlockError("optional block is too long")
    return f"{block_id}0002{long_length:04X}{value}"


def _padding_block(section_length: int, block_size: int) -> str:
    """A PB block that brings the optional-block section to a multiple of the cipher block.

    X9.143 fills PB with printable ASCII; random characters carry no information. The data
    is never empty (a whole extra block instead), as some receivers reject empty blocks.
    """
    if section_length % block_size == 0:
        return ""
    fill = -(section_length + 4) % block_size or block_size
    data = "".join(secrets.choice(_PB_ALPHABET) for _ in range(fill))
    return _encode_block(PADDING_BLOCK_ID, data)


def _read_hex(text: str, start: int, size: int, what: str) -> int:
    field = text[start : start + size]
    if len(field) != size:
        raise KeyBlockError(f"key block is truncated in {what}")
    if not set(field) <= _UPPER_HEX:
        raise KeyBlockError(f"{what} is not uppercase hex")
    return int(field, 16)


def _parse_blocks(text: str, count: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """Read `count` optional blocks after the fixed header; return them and where they end."""
    blocks: list[tuple[str, str]] = []
    pos = FIXED_HEADER_LENGTH
    for _ in range(count):
        if len(text) < pos + 4:
            raise KeyBlockError("key block is truncated in an optional block")
        block_id = text[pos : pos + 2]
        length = _read_hex(text, pos + 2, 2, "optional block length")
        data_start = pos + 4
        if length == 0:
            length_of_length = _read_hex(text, pos + 4, 2, "optional block length of length")
            if length_of_length == 0:
                raise KeyBlockError("optional block length of length must not be zero")
            length = _read_hex(text, pos + 6, 2 * length_of_length, "optional block extended length")
            data_start = pos + 6 + 2 * length_of_length
        end = pos + length
        if end < data_start:
            raise KeyBlockError("optional block length is shorter than its own ID and length")
        if end > len(text):
            raise KeyBlockError("key block is truncated in an optional block")
        blocks.append((block_id, text[data_start:end]))
        pos = end
    return tuple(blocks), pos


# --- Header parsing and rendering ------------------------------------------------------------


def _check_ascii(text: str) -> None:
    if not isinstance(text, str):
        raise KeyBlockError("key block must be a string")
    if not set(text) <= _PRINTABLE:
        raise KeyBlockError("key block contains non-ASCII or non-printable characters")


def _read_decimal(text: str, start: int, size: int, what: str) -> int:
    field = text[start : start + size]
    if len(field) != size or not field.isascii() or not field.isdigit():
        raise KeyBlockError(f"{what} is not {size} decimal digits")
    return int(field)


def parse_header(block: str) -> ParsedHeader:
    """Parse the header and optional blocks of a key block, or of a header alone.

    The declared length is returned, not checked against the text, so that a bare 16-character
    header (as the AWS guide prints them) parses too; `unwrap` does the check.
    """
    _check_ascii(block)
    if len(block) < FIXED_HEADER_LENGTH:
        raise KeyBlockError("key block is truncated: shorter than the 16-character header")
    if block[0] not in _VERSIONS:
        raise KeyBlockError("unsupported key block version (expected A, B, C or D)")
    block_length = _read_decimal(block, 1, 4, "key block length field")
    block_count = _read_decimal(block, 12, 2, "number of optional blocks")
    optional_blocks, header_length = _parse_blocks(block, block_count)
    header = Header(
        version_id=block[0],
        key_usage=block[5:7],
        algorithm=block[7],
        mode_of_use=block[8],
        key_version_number=block[9:11],
        exportability=block[11],
        optional_blocks=optional_blocks,
        reserved=block[14:16],
    )
    return ParsedHeader(header, block_length, header_length)


def _render_header(header: Header, block_size: int, body_length: int) -> str:
    """The header text with a fresh PB block and the total length filled in."""
    blocks = [b for b in header.optional_blocks if b[0] != PADDING_BLOCK_ID]
    section = "".join(_encode_block(block_id, value) for block_id, value in blocks)
    padding = _padding_block(len(section), block_size)
    count = len(blocks) + (1 if padding else 0)
    if count > 99:
        raise KeyBlockError("a key block holds at most 99 optional blocks")
    total = FIXED_HEADER_LENGTH + len(section) + len(padding) + body_length
    if total > MAX_BLOCK_LENGTH:
        raise KeyBlockError("key block would exceed 9992 characters")
    return (
        f"{header.version_id}{total:04d}{header.key_usage}{header.algorithm}{header.mode_of_use}"
        f"{header.key_version_number}{header.exportability}{count:02d}{header.reserved}"
        f"{section}{padding}"
    )


# --- Cryptographic bindings ------------------------------------------------------------------

_KDF_ENCRYPTION = b"\x00\x00"
_KDF_MAC = b"\x00\x01"

# TR-31:2018 §5.3.2.1 (B) and §5.3.2.3 (D): KDF algorithm indicator and derived length in bits,
# by KBPK length in bytes.
_B_KDF: Mapping[int, bytes] = MappingProxyType(
    {16: b"\x00\x00\x00\x80", 24: b"\x00\x01\x00\xc0"},
)
_D_KDF: Mapping[int, bytes] = MappingProxyType(
    {16: b"\x00\x02\x00\x80", 24: b"\x00\x03\x00\xc0", 32: b"\x00\x04\x01\x00"},
)

Cmac = Callable[[bytes, bytes], bytes]
Cbc = Callable[[bytes, bytes, bytes], bytes]


@dataclass(frozen=True)
class _DerivationSuite:
    """One cipher family of the key derivation binding method (versions B and D)."""

    kdf: Mapping[int, bytes]
    cmac: Cmac
    encrypt: Cbc
    decrypt: Cbc

    def keys(self, kbpk: bytes) -> tuple[bytes, bytes]:
        return self._derive(kbpk, _KDF_ENCRYPTION), self._derive(kbpk, _KDF_MAC)

    def _derive(self, kbpk: bytes, usage: bytes) -> bytes:
        """NIST SP 800-108 counter-mode KDF with CMAC, one call per output block.

        Input: counter ‖ key usage ‖ 00 separator ‖ algorithm ‖ length in bits.
        """
        tail = usage + b"\x00" + self.kdf[len(kbpk)]
        derived = b""
        counter = 1
        while len(derived) < len(kbpk):
            derived += self.cmac(kbpk, bytes([counter]) + tail)
            counter += 1
        return derived[: len(kbpk)]


_TDES_SUITE = _DerivationSuite(_B_KDF, p.tdes_cmac, p.tdes_cbc_encrypt, p.tdes_cbc_decrypt)
_AES_SUITE = _DerivationSuite(_D_KDF, p.aes_cmac, p.aes_cbc_encrypt, p.aes_cbc_decrypt)


def _mac_failure() -> KeyBlockError:
    return KeyBlockError("key block MAC verification failed (wrong KBPK or altered block)")


def _seal_derivation(
    suite: _DerivationSuite, kbpk: bytes, header: bytes, key_data: bytes
) -> tuple[bytes, bytes]:
    kbek, kbak = suite.keys(kbpk)
    mac = suite.cmac(kbak, header + key_data)
    return suite.encrypt(kbek, key_data, mac), mac


def _open_derivation(
    suite: _DerivationSuite, kbpk: bytes, header: bytes, ciphertext: bytes, mac: bytes
) -> bytes:
    """Decrypt, then check the MAC over the clear data before anything reads it."""
    kbek, kbak = suite.keys(kbpk)
    key_data = suite.decrypt(kbek, ciphertext, mac)
    if not p.constant_time_equal(suite.cmac(kbak, header + key_data), mac):
        raise _mac_failure()
    return key_data


def _variant_keys(kbpk: bytes) -> tuple[bytes, bytes]:
    return p.xor(kbpk, b"\x45" * len(kbpk)), p.xor(kbpk, b"\x4d" * len(kbpk))


def _variant_mac(kbak: bytes, header: bytes, ciphertext: bytes) -> bytes:
    return iso9797.mac_algorithm1(kbak, header + ciphertext)[:4]


def _seal_variant(kbpk: bytes, header: bytes, key_data: bytes) -> tuple[bytes, bytes]:
    kbek, kbak = _variant_keys(kbpk)
    ciphertext = p.tdes_cbc_encrypt(kbek, key_data, header[:8])
    return ciphertext, _variant_mac(kbak, header, ciphertext)


def _open_variant(kbpk: bytes, header: bytes, ciphertext: bytes, mac: bytes) -> bytes:
    """The variant MAC covers the ciphertext, so it is checked before decrypting."""
    kbek, kbak = _variant_keys(kbpk)
    if not p.constant_time_equal(_variant_mac(kbak, header, ciphertext), mac):
        raise _mac_failure()
    return p.tdes_cbc_decrypt(kbek, ciphertext, header[:8])


@dataclass(frozen=True)
class _Version:
    block_size: int
    mac_size: int
    kbpk_sizes: tuple[int, ...]
    kbpk_description: str
    seal: Callable[[bytes, bytes, bytes], tuple[bytes, bytes]]
    open: Callable[[bytes, bytes, bytes, bytes], bytes]


_TDES_KBPK = "a 16- or 24-byte TDES KBPK"
_VERSION_TABLE: Mapping[str, _Version] = MappingProxyType(
    {
        "A": _Version(8, 4, (16, 24), _TDES_KBPK, _seal_variant, _open_variant),
        "B": _Version(
            8,
            8,
            (16, 24),
            _TDES_KBPK,
            partial(_seal_derivation, _TDES_SUITE),
            partial(_open_derivation, _TDES_SUITE),
        ),
        "C": _Version(8, 4, (16, 24), _TDES_KBPK, _seal_variant, _open_variant),
        "D": _Version(
            16,
            16,
            (16, 24, 32),
            "a 16-, 24- or 32-byte AES KBPK",
            partial(_seal_derivation, _AES_SUITE),
            partial(_open_derivation, _AES_SUITE),
        ),
    }
)


def _version_for(version_id: str, kbpk: bytes) -> _Version:
    version = _VERSION_TABLE.get(version_id)
    if version is None:
        raise KeyBlockError("unsupported key block version (expected A, B, C or D)")
    if not isinstance(kbpk, bytes | bytearray) or len(kbpk) not in version.kbpk_sizes:
        raise KeyBlockError(f"version {version_id} key blocks need {version.kbpk_description}")
    return version


# --- Wrap and unwrap -------------------------------------------------------------------------


def _key_data(key: bytes, masked_length: int, block_size: int) -> bytes:
    """Length in bits ‖ key ‖ random padding to the masked length, then to the cipher block."""
    padded = 2 + max(len(key), masked_length)
    padded += -padded % block_size
    return (8 * len(key)).to_bytes(2, "big") + key + secrets.token_bytes(padded - 2 - len(key))


def wrap(kbpk: bytes, header: Header, key: bytes, *, masked_key_len: int | None = None) -> str:
    """Wrap `key` under `kbpk` into a key block of `header.version_id`.

    `masked_key_len` is the key length (bytes) to pad to so the block does not reveal the true
    length; by default the longest key of the header's algorithm (TDES 24, AES 32), none for
    others. A key longer than the mask is never truncated: it is simply not padded.
    """
    if not isinstance(header, Header):
        raise KeyBlockError("header must be a Header")
    version = _version_for(header.version_id, kbpk)
    if not isinstance(key, bytes | bytearray) or not key or 8 * len(key) > 0xFFFF:
        raise KeyBlockError("key must be 1 to 8191 bytes")
    mask = _MASK_LENGTHS.get(header.algorithm, 0) if masked_key_len is None else masked_key_len
    if mask < 0:
        raise KeyBlockError("masked key length must not be negative")
    key_data = _key_data(bytes(key), mask, version.block_size)
    text = _render_header(header, version.block_size, 2 * (len(key_data) + version.mac_size))
    ciphertext, mac = version.seal(bytes(kbpk), text.encode("ascii"), key_data)
    return text + ciphertext.hex().upper() + mac.hex().upper()


def render_header(header: Header, key_length: int, *, masked_key_len: int | None = None) -> str:
    """The header text (length field filled in, a fresh PB block) of the block `wrap` would make
    for a key of `key_length` bytes: the clear header a TR-34 block carries (seed-B §7.3: AWS
    sends `D0112K0TB00E0000` for a TDES key, the length of the equivalent version D block)."""
    version = _VERSION_TABLE.get(header.version_id)
    if version is None:
        raise KeyBlockError("unsupported key block version (expected A, B, C or D)")
    mask = _MASK_LENGTHS.get(header.algorithm, 0) if masked_key_len is None else masked_key_len
    padded = 2 + max(key_length, mask)
    padded += -padded % version.block_size
    return _render_header(header, version.block_size, 2 * (padded + version.mac_size))


def unwrap(kbpk: bytes, block: str) -> tuple[Header, bytes]:
    """Verify and unwrap a version A, B, C or D key block; return its header and the key.

    Every structural check runs before any cryptography, and the MAC is verified (in constant
    time) before the decrypted key length is read.
    """
    header, block_length, header_length = parse_header(block)
    version = _version_for(header.version_id, kbpk)
    if block_length != len(block):
        raise KeyBlockError("key block length field does not match the block's length (truncated?)")
    if block_length > MAX_BLOCK_LENGTH:
        raise KeyBlockError("key block exceeds 9992 characters")
    if header_length % version.block_size:
        raise KeyBlockError("optional blocks are not padded to the cipher block size")
    body = block[header_length:]
    if not set(body) <= _UPPER_HEX:
        raise KeyBlockError("encrypted key data and MAC must be uppercase hex")
    mac_hex = 2 * version.mac_size
    ciphertext_hex = len(body) - mac_hex
    if ciphertext_hex <= 0 or ciphertext_hex % (2 * version.block_size):
        raise KeyBlockError("encrypted key data is not a whole number of cipher blocks")
    ciphertext = bytes.fromhex(body[:ciphertext_hex])
    mac = bytes.fromhex(body[ciphertext_hex:])
    key_data = version.open(bytes(kbpk), block[:header_length].encode("ascii"), ciphertext, mac)
    key_bits = int.from_bytes(key_data[:2], "big")
    if key_bits == 0 or key_bits % 8 or key_bits // 8 > len(key_data) - 2:
        raise KeyBlockError("key length field is out of range")
    return header, key_data[2 : 2 + key_bits // 8]


# --- Header fields ↔ AWS Payment Cryptography API --------------------------------------------

# seed-B §12: TR-31 mode of use ↔ the KeyModesOfUse flags that are true.
MODES_OF_USE: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "B": frozenset({"Encrypt", "Decrypt", "Wrap", "Unwrap"}),
        "E": frozenset({"Encrypt", "Wrap"}),
        "D": frozenset({"Decrypt", "Unwrap"}),
        "C": frozenset({"Generate", "Verify"}),
        "G": frozenset({"Generate"}),
        "V": frozenset({"Verify"}),
        "S": frozenset({"Sign"}),
        "X": frozenset({"DeriveKey"}),
        "N": frozenset({"NoRestrictions"}),
        "T": frozenset({"Sign", "Decrypt"}),
    }
)
_MODE_LETTERS: Mapping[frozenset[str], str] = MappingProxyType({v: k for k, v in MODES_OF_USE.items()})

# seed-B §12: API KeyAlgorithm ↔ TR-31 algorithm letter (the key length tells 2- from 3-key TDES).
ALGORITHM_LETTERS: Mapping[str, str] = MappingProxyType(
    {
        "TDES_2KEY": "T",
        "TDES_3KEY": "T",
        "AES_128": "A",
        "AES_192": "A",
        "AES_256": "A",
        "HMAC_SHA224": "H",
        "HMAC_SHA256": "H",
        "HMAC_SHA384": "H",
        "HMAC_SHA512": "H",
        "RSA_2048": "R",
        "RSA_3072": "R",
        "RSA_4096": "R",
        "ECC_NIST_P256": "E",
        "ECC_NIST_P384": "E",
        "ECC_NIST_P521": "E",
    }
)


def mode_of_use_letter(modes: Iterable[str]) -> str:
    """The TR-31 mode letter for the set of true KeyModesOfUse flags."""
    letter = _MODE_LETTERS.get(frozenset(modes))
    if letter is None:
        raise ValueError("no TR-31 mode of use matches these KeyModesOfUse")
    return letter


def algorithm_letter(key_algorithm: str) -> str:
    """The TR-31 algorithm letter for an API KeyAlgorithm."""
    letter = ALGORITHM_LETTERS.get(key_algorithm)
    if letter is None:
        raise ValueError("unknown KeyAlgorithm")
    return letter
