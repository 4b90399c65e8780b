"""TR-31 / ANSI X9.143 key blocks.

Vector sources:
- Published unwrap vectors (seed-B §5.2): the A, B and C rows are the "known values from 3rd
  parties" of the psec repository's tests/test_tr31.py; the D row is the TR-31:2018 example
  block. All five pass with psec 1.3.0 as well.
- Header-parse vectors: the 16-character headers printed in the AWS Payment Cryptography user
  guide (seed-B §5.2, [L1916], [L1962], [L2158], [L2691], [L2739]).
- Masked block lengths (0096, 0112, 0144): observed in the user guide's exported blocks
  (seed-B §5.1).
- Interoperability: psec.tr31 as an independent oracle, both directions, with hypothesis.
"""

from __future__ import annotations

import string

import psec.tr31
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paycrypt.crypto import tr31
from paycrypt.crypto.tr31 import Header, KeyBlockError

# (KBPK, clear key, key block) — seed-B §5.2; sources in the module docstring.
PUBLISHED = [
    pytest.param(
        "89E88CF7931444F334BD7547FC3F380C",
        "F039121BEC83D26B169BDCD5B22AAF8F",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
        id="A-psec-3rd-party",
    ),
    pytest.param(
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
        id="B-psec-3rd-party",
    ),
    pytest.param(
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "EDB380DD340BC2620247D445F5B8D678",
        "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C",
        id="C-psec-3rd-party-KS",
    ),
    pytest.param(
        "1D22BF32387C600AD97F9B97A51311AC",
        "E8BC63E5479455E26577F715D587FE68",
        "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627",
        id="B-psec-3rd-party-KS",
    ),
    pytest.param(
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
        id="D-TR-31-2018-example",
    ),
]


@pytest.mark.parametrize(("kbpk", "key", "block"), PUBLISHED)
def test_published_vectors_unwrap(kbpk: str, key: str, block: str) -> None:
    header, clear = tr31.unwrap(bytes.fromhex(kbpk), block)
    assert clear == bytes.fromhex(key)
    assert header.version_id == block[0]
    assert (header.key_usage, header.algorithm, header.mode_of_use) == (block[5:7], block[7], block[8])
    assert (header.key_version_number, header.exportability) == (block[9:11], block[11])


def test_published_vector_optional_block_parsed() -> None:
    """The KS block of the psec 3rd-party C vector (seed-B §5.2)."""
    header, _ = tr31.unwrap(bytes.fromhex("B8ED59E0A279A295E9F5ED7944FD06B9"), PUBLISHED[2].values[2])
    assert header.optional_blocks == (("KS", "00604B120F9292800000"),)
    assert header.optional_block("KS") == "00604B120F9292800000"
    assert header.optional_block("HM") is None


@pytest.mark.parametrize(("kbpk", "key", "block"), PUBLISHED)
def test_published_vectors_rewrap_round_trip(kbpk: str, key: str, block: str) -> None:
    """Re-wrapping the published header and key gives a block that both libraries unwrap.

    Versions A and C are import-only in the service but wrap trivially.
    """
    header, clear = tr31.unwrap(bytes.fromhex(kbpk), block)
    again = tr31.wrap(bytes.fromhex(kbpk), header, clear)
    assert tr31.unwrap(bytes.fromhex(kbpk), again) == (header, clear)
    assert psec.tr31.unwrap(bytes.fromhex(kbpk), again)[1] == clear


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("D0112K1TB00E0000", ("D", 112, "K1", "T", "B", "00", "E")),
        ("D0112B0AX00E0000", ("D", 112, "B0", "A", "X", "00", "E")),
        ("D0144K0AB00E0000", ("D", 144, "K0", "A", "B", "00", "E")),
        ("B0096B1TX00S0000", ("B", 96, "B1", "T", "X", "00", "S")),
        ("D0144K3EX00E0000", ("D", 144, "K3", "E", "X", "00", "E")),
        ("D0112K0TB00E0000", ("D", 112, "K0", "T", "B", "00", "E")),
    ],
)
def test_aws_guide_headers_parse(text: str, fields: tuple[object, ...]) -> None:
    """Header-parse vectors: the AWS user guide's truncated headers (seed-B §5.2)."""
    header, block_length, header_length = tr31.parse_header(text)
    assert (
        header.version_id,
        block_length,
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
        header.key_version_number,
        header.exportability,
    ) == fields
    assert header_length == 16
    assert header.optional_blocks == ()


# --- Key-length masking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "kbpk_len", "algorithm", "key_len", "length"),
    [
        ("B", 16, "T", 16, 96),  # B0096B1TX… for a 16-byte IPEK (seed-B §5.1, [L2739])
        ("D", 32, "T", 16, 112),  # D0112K1TB… for TDES ([L1962])
        ("D", 32, "A", 16, 144),  # D0144K0AB… for AES ([L2691])
        ("D", 32, "A", 32, 144),
    ],
)
def test_default_masking_matches_aws_lengths(
    version: str, kbpk_len: int, algorithm: str, key_len: int, length: int
) -> None:
    block = tr31.wrap(bytes(range(kbpk_len)), Header(version, "K1", algorithm, "B"), b"\x11" * key_len)
    assert len(block) == length
    assert block[1:5] == f"{length:04d}"


def test_explicit_mask_and_no_mask() -> None:
    """masked_key_len=0 turns masking off; a mask shorter than the key never truncates it."""
    kbpk = bytes(range(32))
    header = Header("D", "D0", "A", "B")
    unmasked = tr31.wrap(kbpk, header, b"\x22" * 16, masked_key_len=0)
    assert len(unmasked) == 16 + 64 + 32  # 2 + 16 bytes padded to 32
    short_mask = tr31.wrap(kbpk, header, b"\x22" * 32, masked_key_len=16)
    assert tr31.unwrap(kbpk, short_mask)[1] == b"\x22" * 32
    with pytest.raises(KeyBlockError):
        tr31.wrap(kbpk, header, b"\x22" * 16, masked_key_len=-1)


def test_padding_is_random() -> None:
    """Key padding and PB data come from `secrets`: two wraps of the same input differ."""
    kbpk = bytes(range(32))
    plain = Header("D", "D0", "A", "B")
    first, second = (tr31.wrap(kbpk, plain, b"\x33" * 16) for _ in range(2))
    assert first != second  # no optional blocks: only the key padding can differ
    assert tr31.unwrap(kbpk, first) == tr31.unwrap(kbpk, second) == (plain, b"\x33" * 16)
    with_blocks = Header("D", "D0", "A", "B", optional_blocks=(("KS", "ABC"),))
    pads = {
        tr31.unwrap(kbpk, tr31.wrap(kbpk, with_blocks, b"\x33"))[0].optional_block("PB") for _ in range(4)
    }
    assert len(pads) > 1


# --- Every key the vault stores under the AES-256 master key -------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "key_len"),
    [("T", 16), ("T", 24), ("A", 16), ("A", 24), ("A", 32), ("H", 28), ("H", 32), ("H", 48), ("H", 64)],
)
def test_vault_key_lengths_round_trip(algorithm: str, key_len: int) -> None:
    """Version D under an AES-256 KBPK for each stored key length, checked with psec as oracle."""
    kbpk = bytes(range(0x40, 0x60))
    key = bytes((7 * i + key_len) % 256 for i in range(key_len))
    header = Header("D", "M7" if algorithm == "H" else "D0", algorithm, "C" if algorithm == "H" else "B")
    block = tr31.wrap(kbpk, header, key)
    assert tr31.unwrap(kbpk, block) == (header, key)
    assert psec.tr31.unwrap(kbpk, block)[1] == key
    masked = max(key_len, {"T": 24, "A": 32}.get(algorithm, 0))
    assert len(block) == 16 + 2 * (-(-(2 + masked) // 16) * 16) + 32


# --- Interop with psec (independent oracle) ------------------------------------------------------

_BLOCK_IDS = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=2, max_size=2).filter(
    lambda s: s != "PB"
)
_BLOCK_VALUES = st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], max_size=300)
_OPTIONAL_BLOCKS = st.lists(st.tuples(_BLOCK_IDS, _BLOCK_VALUES), max_size=4, unique_by=lambda b: b[0])
_KBPK_SIZES = {"A": [16, 24], "B": [16, 24], "C": [16, 24], "D": [16, 24, 32]}


@st.composite
def _cases(draw: st.DrawFn, versions: str = "BD") -> tuple[bytes, Header, bytes]:
    version = draw(st.sampled_from(versions))
    size = draw(st.sampled_from(_KBPK_SIZES[version]))
    kbpk = draw(st.binary(min_size=size, max_size=size))
    header = Header(
        version,
        draw(st.sampled_from(["D0", "K0", "K1", "P0", "B0", "M3", "M7", "V2", "C0"])),
        draw(st.sampled_from("TAH")),
        draw(st.sampled_from("BCDEGNVX")),
        draw(st.text(alphabet=string.digits, min_size=2, max_size=2)),
        draw(st.sampled_from("ENS")),
        tuple(draw(_OPTIONAL_BLOCKS)),
    )
    key = draw(st.binary(min_size=1, max_size=64))
    return kbpk, header, key


def _psec_header(header: Header) -> psec.tr31.Header:
    ph = psec.tr31.Header(
        header.version_id,
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
        header.key_version_number,
        header.exportability,
    )
    for block_id, value in header.optional_blocks:
        ph.blocks[block_id] = value
    return ph


@settings(max_examples=150, deadline=None)
@given(case=_cases())
def test_paycrypt_wraps_psec_unwraps(case: tuple[bytes, Header, bytes]) -> None:
    kbpk, header, key = case
    block = tr31.wrap(kbpk, header, key)
    ph, clear = psec.tr31.unwrap(kbpk, block)
    assert clear == key
    assert (ph.version_id, ph.key_usage, ph.algorithm, ph.mode_of_use) == (
        header.version_id,
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
    )
    assert (ph.version_num, ph.exportability) == (header.key_version_number, header.exportability)
    assert list(ph.blocks.items()) == list(header.optional_blocks)
    assert tr31.unwrap(kbpk, block) == (tr31.parse_header(block).header, key)
    assert tr31.unwrap(kbpk, block)[0].without_padding() == header


@settings(max_examples=150, deadline=None)
@given(case=_cases(versions="ABCD"))
def test_psec_wraps_paycrypt_unwraps(case: tuple[bytes, Header, bytes]) -> None:
    kbpk, header, key = case
    block = psec.tr31.wrap(kbpk, _psec_header(header), key)
    parsed, clear = tr31.unwrap(kbpk, block)
    assert clear == key
    assert parsed.without_padding() == header


def test_extended_length_block_from_psec() -> None:
    """A block over 255 characters uses the '00' extended length form (psec as oracle)."""
    kbpk = bytes(range(32))
    ph = psec.tr31.Header("D", "B0", "A", "X", "00", "N")
    ph.blocks["KS"] = "A" * 400
    block = psec.tr31.wrap(kbpk, ph, b"\x44" * 16)
    assert block[16:22] == "KS0002"
    header, key = tr31.unwrap(kbpk, block)
    assert header.optional_block("KS") == "A" * 400
    assert key == b"\x44" * 16


@pytest.mark.parametrize(("value_len", "prefix"), [(251, "KSFF"), (252, "KS00020106"), (400, "KS0002019A")])
def test_extended_length_block_to_psec(value_len: int, prefix: str) -> None:
    """Up to 255 characters a block length is 2 hex digits; beyond, '00' ‖ '02' ‖ 4 hex digits
    (X9.143 optional-block length), read back by psec as oracle."""
    kbpk = bytes(range(32))
    header = Header("D", "B0", "A", "X", optional_blocks=(("KS", "B" * value_len), ("HM", "21")))
    block = tr31.wrap(kbpk, header, b"\x44" * 16)
    assert block[16 : 16 + len(prefix)] == prefix
    ph, key = psec.tr31.unwrap(kbpk, block)
    assert (dict(ph.blocks), key) == ({"KS": "B" * value_len, "HM": "21"}, b"\x44" * 16)
    assert tr31.unwrap(kbpk, block)[0].without_padding() == header


# --- Optional blocks and the PB block ----------------------------------------------------------


@pytest.mark.parametrize(("version", "kbpk_len", "align"), [("B", 16, 8), ("D", 32, 16), ("C", 24, 8)])
@pytest.mark.parametrize("value_len", range(0, 17))
def test_padding_block_aligns_header(version: str, kbpk_len: int, align: int, value_len: int) -> None:
    kbpk = bytes(range(kbpk_len))
    header = Header(version, "D0", "T", "B", optional_blocks=(("KS", "7" * value_len),))
    block = tr31.wrap(kbpk, header, b"\x55" * 16)
    parsed, _, header_length = tr31.parse_header(block)
    assert header_length % align == 0
    ids = [block_id for block_id, _ in parsed.optional_blocks]
    if (20 + value_len) % align == 0:
        assert ids == ["KS"]
    else:
        assert ids == ["KS", "PB"]
        pb_value = parsed.optional_block("PB")
        assert pb_value and all(c in string.ascii_uppercase + string.digits for c in pb_value)
    assert block[12:14] == f"{len(ids):02d}"


def test_rewrap_replaces_padding_block() -> None:
    kbpk = bytes(range(32))
    header = Header("D", "D0", "A", "B", optional_blocks={"HM": "21"})
    parsed, key = tr31.unwrap(kbpk, tr31.wrap(kbpk, header, b"\x66" * 32))
    assert [b[0] for b in parsed.optional_blocks] == ["HM", "PB"]
    again, _ = tr31.unwrap(kbpk, tr31.wrap(kbpk, parsed, key))
    assert [b[0] for b in again.optional_blocks] == ["HM", "PB"]
    appended = Header("D", "D0", "A", "B", optional_blocks=(*parsed.optional_blocks, ("KS", "123")))
    last, _ = tr31.unwrap(kbpk, tr31.wrap(kbpk, appended, key))
    assert [b[0] for b in last.optional_blocks] == ["HM", "KS", "PB"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version_id": "E"},
        {"version_id": "1"},
        {"key_usage": "D"},
        {"key_usage": "D-"},
        {"algorithm": "TT"},
        {"mode_of_use": ""},
        {"key_version_number": "0"},
        {"exportability": "X"},
        {"reserved": "0"},
        {"optional_blocks": (("K", "x"),)},
        {"optional_blocks": (("K!", "x"),)},
        {"optional_blocks": (("KS", "\x01"),)},
        {"optional_blocks": (("KS", "é"),)},
        {"optional_blocks": (("KS", "a"), ("KS", "b"))},
        {"optional_blocks": ("KS",)},
        {"optional_blocks": (("KS", 1),)},
    ],
)
def test_invalid_header_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "version_id": "D",
        "key_usage": "D0",
        "algorithm": "A",
        "mode_of_use": "B",
    }
    fields.update(kwargs)
    with pytest.raises(KeyBlockError):
        Header(**fields)  # type: ignore[arg-type]


# --- Tampering and malformed blocks --------------------------------------------------------------

KBPKS = {"A": bytes(range(16)), "B": bytes(range(24)), "C": bytes(range(16)), "D": bytes(range(32))}
SECRET_KEY = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")


def _sample(version: str, blocks: tuple[tuple[str, str], ...] = (("KS", "00604B120F9292800000"),)) -> str:
    return tr31.wrap(KBPKS[version], Header(version, "P0", "T", "E", "01", "E", blocks), SECRET_KEY)


def _rejected(kbpk: bytes, block: str) -> str:
    """Unwrap must fail with KeyBlockError, and the message must name no key material."""
    with pytest.raises(KeyBlockError) as err:
        tr31.unwrap(kbpk, block)
    message = str(err.value)
    for secret in (kbpk, SECRET_KEY):
        assert secret.hex().upper() not in message.upper()
    return message


def _changed(char: str) -> str:
    """A different character of the same class (hex digit or header letter)."""
    return "0" if char != "0" else "1"


@pytest.mark.parametrize("version", "ABCD")
def test_every_character_is_authenticated(version: str) -> None:
    """Changing any one character (header, optional block, encrypted key, MAC) fails unwrap."""
    block = _sample(version)
    kbpk = KBPKS[version]
    assert tr31.unwrap(kbpk, block)[1] == SECRET_KEY
    for i, char in enumerate(block):
        _rejected(kbpk, block[:i] + _changed(char) + block[i + 1 :])


@pytest.mark.parametrize("version", "ABCD")
def test_position_classes_fail_mac(version: str) -> None:
    """A well-formed change in each region is caught by the MAC check itself."""
    block = _sample(version)
    kbpk = KBPKS[version]
    _, _, header_length = tr31.parse_header(block)
    mac_length = {"A": 8, "B": 16, "C": 8, "D": 32}[version]
    positions = {
        "header": 9,  # key version number
        "optional block": 20,  # KS data
        "encrypted key": header_length + 3,
        "MAC": len(block) - mac_length + 1,
    }
    for position in positions.values():
        tampered = block[:position] + _changed(block[position]) + block[position + 1 :]
        assert "MAC" in _rejected(kbpk, tampered)


@pytest.mark.parametrize("version", "ABCD")
def test_wrong_kbpk(version: str) -> None:
    block = _sample(version)
    wrong = bytes(b ^ 0x02 for b in KBPKS[version])  # not 0x01: DES ignores the parity bits
    assert "MAC" in _rejected(wrong, block)


@pytest.mark.parametrize("version", "ABCD")
def test_every_truncation_rejected(version: str) -> None:
    block = _sample(version)
    for end in range(len(block)):
        _rejected(KBPKS[version], block[:end])
    _rejected(KBPKS[version], block + "00")


@pytest.mark.parametrize(
    ("version", "kbpk"),
    [
        ("B", bytes(32)),
        ("A", bytes(32)),
        ("C", bytes(32)),
        ("C", bytes(8)),
        ("D", bytes(8)),
        ("D", bytes(20)),
        ("B", bytes(15)),
    ],
)
def test_kbpk_type_must_fit_version(version: str, kbpk: bytes) -> None:
    other = {"A": "B", "B": "D", "C": "D", "D": "B"}[version]
    block = _sample(other)
    block = version + block[1:]
    assert "KBPK" in _rejected(kbpk, block)
    with pytest.raises(KeyBlockError):
        tr31.wrap(kbpk, Header(version, "D0", "T", "B"), SECRET_KEY)


def test_aes_kbpk_on_tdes_block_of_same_length_fails_mac() -> None:
    """A 16-byte key is a valid size for both B and D; the MAC tells them apart."""
    kbpk = bytes(range(16))
    block = tr31.wrap(kbpk, Header("B", "D0", "T", "B"), SECRET_KEY, masked_key_len=0)
    assert tr31.unwrap(kbpk, block)[1] == SECRET_KEY
    assert len(block) == 16 + 48 + 16  # as D: 32 hex of key data and a 32-hex MAC
    assert "MAC" in _rejected(kbpk, "D" + block[1:])


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda b: "E" + b[1:], "version"),
        (lambda b: "1" + b[1:], "version"),
        (lambda b: b[0] + "01x2" + b[5:], "length field"),
        (lambda b: b[0] + f"{len(b) - 2:04d}" + b[5:], "length"),
        (lambda b: b[:-1] + "é", "non-ASCII"),
        (lambda b: b[:-1] + "\n", "non-ASCII"),
        (lambda b: b[:-1] + "a", "hex"),
        (lambda b: b[:-1] + "G", "hex"),
        (lambda b: b[:12] + "0x" + b[14:], "optional blocks"),
        (lambda b: b[:12] + "99" + b[14:], "optional block"),
        (lambda b: b[:18] + "0Z" + b[20:], "optional block length"),
        (lambda b: b[:18] + "03" + b[20:], "optional block length"),
        (lambda b: b[:18] + "0000" + b[22:], "length of length"),
    ],
)
def test_malformed_blocks_name_the_problem(mutate: object, fragment: str) -> None:
    block = _sample("B")
    assert fragment.lower() in _rejected(KBPKS["B"], mutate(block)).lower()  # type: ignore[operator]


def test_misaligned_optional_blocks_rejected() -> None:
    """A D block whose optional blocks are padded to 8, not 16 (built with the B header)."""
    block = _sample("B", blocks=(("KS", "0123"),))  # 16 + 8 = 24 header characters
    assert tr31.parse_header(block).header_length == 24
    assert "padded" in _rejected(bytes(32), "D" + block[1:])


def test_non_string_block_rejected() -> None:
    with pytest.raises(KeyBlockError):
        tr31.unwrap(KBPKS["D"], b"D0112P0AE00E0000")  # type: ignore[arg-type]


@pytest.mark.parametrize("key_bits", [0, 4, 8 * 31, 8 * 40, 0xFFFF])
def test_key_length_field_out_of_range(key_bits: int) -> None:
    """Not independently verified: a correctly MACed D block with a bad key length field.

    Built with the module's own sealing step (the only way to MAC a bad length field); the
    check under test is the length validation, which runs only after the MAC verifies.
    """
    kbpk = KBPKS["D"]
    key_data = key_bits.to_bytes(2, "big") + bytes(30)
    text = "D0112P0AE00E0000"
    ciphertext, mac = tr31._VERSION_TABLE["D"].seal(kbpk, text.encode(), key_data)
    block = text + ciphertext.hex().upper() + mac.hex().upper()
    assert len(block) == 112
    assert "key length" in _rejected(kbpk, block)


def test_wrap_rejects_bad_keys() -> None:
    for key in (b"", bytes(8192)):
        with pytest.raises(KeyBlockError):
            tr31.wrap(KBPKS["D"], Header("D", "D0", "A", "B"), key)
    with pytest.raises(KeyBlockError, match="9992"):
        tr31.wrap(KBPKS["D"], Header("D", "D0", "H", "C"), bytes(5000))


# --- Header fields ↔ AWS API ---------------------------------------------------------------------


def test_modes_of_use_table_matches_seed() -> None:
    """seed-B §12 mapping table, and the examples it is confirmed by (K1TB, K3EX)."""
    assert tr31.MODES_OF_USE["B"] == {"Encrypt", "Decrypt", "Wrap", "Unwrap"}
    assert tr31.MODES_OF_USE["X"] == {"DeriveKey"}
    assert tr31.MODES_OF_USE["C"] == {"Generate", "Verify"}
    assert tr31.MODES_OF_USE["T"] == {"Sign", "Decrypt"}
    assert set(tr31.MODES_OF_USE) == set("BEDCGVSXNT")
    for letter, modes in tr31.MODES_OF_USE.items():
        assert tr31.mode_of_use_letter(modes) == letter
        assert tr31.mode_of_use_letter(sorted(modes)) == letter
    with pytest.raises(ValueError):
        tr31.mode_of_use_letter({"Encrypt", "Sign"})
    with pytest.raises(ValueError):
        tr31.mode_of_use_letter(set())


@pytest.mark.parametrize(
    ("algorithm", "letter"),
    [
        ("TDES_2KEY", "T"),
        ("TDES_3KEY", "T"),
        ("AES_128", "A"),
        ("AES_192", "A"),
        ("AES_256", "A"),
        ("HMAC_SHA224", "H"),
        ("HMAC_SHA256", "H"),
        ("HMAC_SHA384", "H"),
        ("HMAC_SHA512", "H"),
        ("RSA_2048", "R"),
        ("RSA_3072", "R"),
        ("RSA_4096", "R"),
        ("ECC_NIST_P256", "E"),
        ("ECC_NIST_P384", "E"),
        ("ECC_NIST_P521", "E"),
    ],
)
def test_algorithm_letter(algorithm: str, letter: str) -> None:
    assert tr31.algorithm_letter(algorithm) == letter


def test_algorithm_letter_unknown() -> None:
    with pytest.raises(ValueError):
        tr31.algorithm_letter("DES")
