"""TR-31 optional blocks through boto3 (issue 12 items 4 and 5).

Export: the guide's "Common Headers" table (user guide, key block headers) says AWS "does not
parse or utilize" the common headers except HM, and fills PB itself; so a caller's KP, BI, IK,
KS, KC … travel as given, checked only against the model's OptionalBlockId/OptionalBlockValue
shapes, and only HM and PB are computed. Import: a PB block may be empty (`PB04`) or filled with
zeros (what psec writes); neither carries information and both are accepted.

Oracle: psec (an independent TR-31 implementation) unwraps what paycrypt exports and writes the
header paycrypt's must equal, PB content aside. The one block psec cannot write, an empty PB04,
is sealed by `seal_version_d` below with plain `cryptography`, following the version D binding of
ANSI X9.143 (§5.3.2.3; the same steps as TR-31:2018): KBEK and KBAK by AES-CMAC counter-mode
derivation, the MAC by AES-CMAC over header ‖ clear key data, AES-CBC with the MAC as IV.
"""

from __future__ import annotations

import secrets

import psec
import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests import kx_partner as kp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_known_key_via_api

WRAP = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
KBPK_USAGE = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
# X9.143 version D key derivation: algorithm indicator and length in bits, by KBPK length.
_D_KDF = {16: b"\x00\x02\x00\x80", 24: b"\x00\x03\x00\xc0", 32: b"\x00\x04\x01\x00"}


def _aes_cmac(key: bytes, data: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def seal_version_d(kbpk: bytes, header_tail: str, key: bytes) -> str:
    """A version D block for `header_tail` (the header from key usage on, optional blocks
    included, as given: this is how a block with an empty PB04 is made), key masked to 32 bytes."""
    derived = {}
    for name, usage in (("kbek", b"\x00\x00"), ("kbak", b"\x00\x01")):
        tail = usage + b"\x00" + _D_KDF[len(kbpk)]
        derived[name] = b"".join(_aes_cmac(kbpk, bytes([n]) + tail) for n in (1, 2))[: len(kbpk)]
    padded = 2 + 32 + (-(2 + 32) % 16)
    key_data = (8 * len(key)).to_bytes(2, "big") + key + secrets.token_bytes(padded - 2 - len(key))
    header = f"D{5 + len(header_tail) + 2 * (len(key_data) + 16):04d}{header_tail}"
    mac = _aes_cmac(derived["kbak"], header.encode() + key_data)
    encryptor = Cipher(algorithms.AES(derived["kbek"]), modes.CBC(mac)).encryptor()
    return header + (encryptor.update(key_data) + encryptor.finalize()).hex().upper() + mac.hex().upper()


@pytest.fixture(scope="module")
def kek(control) -> tuple[str, bytes]:
    """An AES-256 KBPK shared with the partner, imported the user's way."""
    clear = secrets.token_bytes(32)
    return import_known_key_via_api(control, clear, KBPK_USAGE, "AES_256", WRAP)["KeyArn"], clear


@pytest.fixture(scope="module")
def tdes_kek(control) -> tuple[str, bytes]:
    """A TDES_3KEY KBPK: ExportKey writes version B under it (8-byte padding), D under AES."""
    clear = secrets.token_bytes(24)
    return import_known_key_via_api(control, clear, KBPK_USAGE, "TDES_3KEY", WRAP)["KeyArn"], clear


def _bdk(control) -> tuple[str, bytes]:
    clear = secrets.token_bytes(16)
    key = import_known_key_via_api(
        control, clear, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True}
    )
    return key["KeyArn"], clear


def _export(control, key_arn: str, kek_arn: str, headers: dict) -> str:
    return control.export_key(
        ExportKeyIdentifier=key_arn,
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "KeyBlockHeaders": headers}},
    )["WrappedKey"]["KeyMaterial"]


# --- export: the common headers pass through ------------------------------------------------------


def _kp(kbpk: bytes) -> str:
    """The KP block the guide describes: method 01 (CMAC) and the KBPK's check value."""
    return "01" + kp.kcv_aes(kbpk)


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param(lambda kbpk, key: {"KP": _kp(kbpk)}, id="KP"),
        pytest.param(lambda kbpk, key: {"BI": "00ABCDEFABCD", "KP": _kp(kbpk)}, id="BI-KP"),
        pytest.param(lambda kbpk, key: {"KS": "FFFF9876543210E00000"}, id="KS"),
        pytest.param(lambda kbpk, key: {"IK": "1234567890123456"}, id="IK"),
        pytest.param(lambda kbpk, key: {"KC": "00" + kp.kcv_tdes(key), "KP": _kp(kbpk)}, id="KC-KP"),
        pytest.param(lambda kbpk, key: {"KP": "00ABCD", "T1": "anything2"}, id="KP-unchecked"),
    ],
)
def test_export_passes_the_callers_blocks_through(control, kek, blocks) -> None:
    kek_arn, kbpk = kek
    bdk_arn, clear = _bdk(control)
    given = blocks(kbpk, clear)
    headers = {"KeyVersion": "02", "KeyExportability": "NON_EXPORTABLE", "OptionalBlocks": given}
    block = _export(control, bdk_arn, kek_arn, headers)
    header, key = psec.tr31.unwrap(kbpk, block)
    assert key == clear
    assert (header.key_usage, header.version_num, header.exportability) == ("B0", "02", "N")
    assert list(header.blocks.items()) == list(given.items())  # as given, in order (PB dropped by psec)


def test_export_computes_hm_and_pb_only(server, control, kek) -> None:
    """Refusal X11: PB and HM are the service's; a block the key arrived with may be repeated,
    not changed (the guide's header table: optional blocks "Can append")."""
    kek_arn, kbpk = kek
    bdk_arn, _ = _bdk(control)
    ks = "FFFF9876543210E00000"
    block = psec.tr31.wrap(kbpk, f"D0000P0TB00E0100KS18{ks}", secrets.token_bytes(16))
    carried = control.import_key(
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "WrappedKeyBlock": block}}
    )["Key"]["KeyArn"]
    same = _export(control, carried, kek_arn, {"OptionalBlocks": {"KS": ks, "KP": _kp(kbpk)}})
    assert list(psec.tr31.unwrap(kbpk, same)[0].blocks.items()) == [("KS", ks), ("KP", _kp(kbpk))]
    before = db_snapshot(server.data_dir)
    response = expect_error(
        _export, "ValidationException", 400, control, carried, kek_arn, {"OptionalBlocks": {"KS": "0" * 20}}
    )
    assert "OptionalBlocks.KS is already set on the key" in response["Error"]["Message"]
    for block_id in ("PB", "HM"):
        response = expect_error(
            _export,
            "ValidationException",
            400,
            control,
            bdk_arn,
            kek_arn,
            {"OptionalBlocks": {block_id: "21"}},
        )
        assert f"may not set {block_id}: it is computed" in response["Error"]["Message"]
    for bad in ({"kp": "0112AB34"}, {"KP": "01-12AB34"}, {"KP": "0" * 109}):  # the model's shapes
        expect_error(_export, "ValidationException", 400, control, bdk_arn, kek_arn, {"OptionalBlocks": bad})
    assert db_snapshot(server.data_dir) == before


# --- the exported header is psec's, PB content aside --------------------------------------------


def _header_blanking_pb(block: str) -> str:
    """The header text (fixed part and optional blocks) with the PB block's data blanked and its
    length kept: PB is random in paycrypt's blocks and zeros in psec's, by design."""
    pos, parts = 16, [block[:16]]
    for _ in range(int(block[12:14])):
        block_id, length = block[pos : pos + 2], int(block[pos + 2 : pos + 4], 16)
        data = block[pos + 4 : pos + length]
        parts.append(block_id + block[pos + 2 : pos + 4] + ("." * len(data) if block_id == "PB" else data))
        pos += length
    return "".join(parts)


@pytest.mark.parametrize(
    ("blocks", "version", "exportability"),
    [
        pytest.param(lambda kbpk, key: {}, "00", "E", id="none"),
        pytest.param(lambda kbpk, key: {"KP": _kp(kbpk)}, "00", "E", id="KP"),
        pytest.param(
            lambda kbpk, key: {"KC": "00" + kp.kcv_tdes(key), "KP": _kp(kbpk)}, "07", "N", id="KC-KP"
        ),
        pytest.param(lambda kbpk, key: {"BI": "00ABCDEFABCD"}, "02", "N", id="BI-no-PB"),  # 16 characters
        pytest.param(
            lambda kbpk, key: {"KS": "FFFF9876543210E00000", "KC": "00" + kp.kcv_tdes(key)},
            "01",
            "E",
            id="KS-KC",
        ),
    ],
)
@pytest.mark.parametrize("block_version", ["D", "B"])
def test_exported_header_equals_psecs(
    request, control, blocks, version, exportability, block_version
) -> None:
    kek_arn, kbpk = request.getfixturevalue("kek" if block_version == "D" else "tdes_kek")
    bdk_arn, clear = _bdk(control)
    given = blocks(kbpk, clear)
    headers: dict = {"KeyVersion": version, "OptionalBlocks": given} if given else {"KeyVersion": version}
    if exportability == "N":
        headers["KeyExportability"] = "NON_EXPORTABLE"
    exported = _export(control, bdk_arn, kek_arn, headers)
    theirs = psec.tr31.Header(block_version, "B0", "T", "X", version, exportability)
    for block_id, value in given.items():
        theirs.blocks[block_id] = value
    reference = psec.tr31.wrap(kbpk, theirs, clear)
    assert _header_blanking_pb(exported) == _header_blanking_pb(reference)
    assert len(exported) == len(reference)
    assert psec.tr31.unwrap(kbpk, exported)[1] == clear


# --- import: empty and zero-filled PB blocks ---------------------------------------------------


def test_import_accepts_empty_and_zero_padding_blocks(control, kek) -> None:
    kek_arn, kbpk = kek
    clear = secrets.token_bytes(16)
    zeros = psec.tr31.wrap(kbpk, "D0000P0TB00E0100KS18FFFF9876543210E00000", clear)
    assert "PB080000" in zeros  # psec pads KS (24 characters) with four zeros
    empty = seal_version_d(kbpk, "P0TB00E0200T10CABCDEFGHPB04", clear)  # 12 + 4 = 16: PB04 is all it needs
    assert psec.tr31.unwrap(kbpk, empty)[1] == clear  # the independent sealer is right
    for block, kept in ((zeros, {"KS": "FFFF9876543210E00000"}), (empty, {"T1": "ABCDEFGH"})):
        key = control.import_key(
            KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "WrappedKeyBlock": block}}
        )["Key"]
        assert key["KeyCheckValue"] == kp.kcv_tdes(clear)
        assert key["KeyAttributes"]["KeyUsage"] == "TR31_P0_PIN_ENCRYPTION_KEY"
        again = _export(control, key["KeyArn"], kek_arn, {})
        header, unwrapped = psec.tr31.unwrap(kbpk, again)
        assert unwrapped == clear and dict(header.blocks) == kept  # the blocks kept, PB renewed


def test_optional_blocks_may_fill_112_characters(control, kek) -> None:
    """The model's limit (KeyBlockHeaders.OptionalBlocks: "as long as the combined length does not
    increase 112 characters", IDs and lengths included) is reached, not passed: two blocks of
    4 + 52 characters travel; one character more is refusal X23 (tests/api/test_refusals.py)."""
    kek_arn, kbpk = kek
    bdk_arn, clear = _bdk(control)
    given = {"T1": "A" * 52, "T2": "B" * 52}
    header, key = psec.tr31.unwrap(kbpk, _export(control, bdk_arn, kek_arn, {"OptionalBlocks": given}))
    assert key == clear and dict(header.blocks) == given
