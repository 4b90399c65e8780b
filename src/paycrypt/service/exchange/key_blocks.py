"""TR-31 key blocks at the service layer: header ↔ KeyAttributes, unwrapping under a KBPK, and
the headers ExportKey writes.

ImportKey (Tr31KeyBlock, DiffieHellmanTr31KeyBlock, and the header inside a Tr34KeyBlock),
dynamic keys, TranslateKeyMaterial and ExportKey all read and write headers through here, so
one mapping serves them all (seed-B §5, §12):

- usage `XY` ↔ the KeyUsage `TR31_XY_…` of the key-attribute table (`combinations.RULES`);
- algorithm `T` + key length 16/24 ↔ TDES_2KEY/TDES_3KEY, `A` + 16/24/32 ↔ AES_128/192/256,
  `H` + the HM optional block (20/21/22/23) ↔ HMAC_SHA224/256/384/512; an `H` block without HM,
  or with a hash the API has no KeyAlgorithm for (SHA-1, SHA-3, SHAKE), is refused: such a key
  could be stored but never named or used; an HMAC key shorter than 16 bytes is refused
  (`combinations.check_material_length`, the guide's 128-bit minimum);
- mode of use ↔ KeyModesOfUse through `tr31.MODES_OF_USE` (B, E, D, C, G, V, S, X, N, T);
- exportability `E`/`S` ↔ Exportable true, `N` ↔ false; the letter itself is kept with the key
  so that a key received as `E` ("key blocks only") is never sent out as an RSA cryptogram.

The block's MAC is verified by `tr31.unwrap` before any field of the block is used, and a
version must fit its KBPK: A, B and C need a TDES KBPK, D an AES one. The KBPK must be at least
as strong as the key it carries (seed-B §2, `certificates.strong_enough`). Optional blocks are
retained except PB (padding), HM (re-derived from the algorithm) and KP: KP (the KBPK's check
value) is ignored and dropped, because the MAC has already proved the KBPK, and HSMs differ in
how they compute KP, so checking it could only refuse genuine blocks.

On export only HM and PB are computed. Every other block the caller asks for (KP, BI, IK, KS,
KC, proprietary ones) is written as given, checked against the model's shapes only: the guide's
"Common Headers" table says AWS "does not parse or utilize" the common headers except HM, and
fills PB itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from paycrypt.crypto import certificates, tr31
from paycrypt.errors import ValidationError
from paycrypt.service.rules import combinations

# TR-31 usage code → API KeyUsage, from the one attribute table.
USAGES: dict[str, str] = {usage.split("_")[1]: usage for usage in combinations.RULES}

_LENGTHS: dict[str, dict[int, str]] = {
    "T": {16: "TDES_2KEY", 24: "TDES_3KEY"},
    "A": {16: "AES_128", 24: "AES_192", 32: "AES_256"},
}
# X9.143 HM optional block (seed-B §5.4) ↔ the API's HMAC key algorithms.
HMAC_HASHES: dict[str, str] = {
    "20": "HMAC_SHA224",
    "21": "HMAC_SHA256",
    "22": "HMAC_SHA384",
    "23": "HMAC_SHA512",
}
_HM_CODES = {algorithm: code for code, algorithm in HMAC_HASHES.items()}
NOT_RETAINED = frozenset({"PB", "KP", "HM"})
COMPUTED_ON_EXPORT = frozenset({"PB", "HM"})

# The KBPK family each key block version needs.
_VERSION_FAMILY = {
    "A": combinations.TDES,
    "B": combinations.TDES,
    "C": combinations.TDES,
    "D": combinations.AES,
}

# Exportability letters, least to most permissive, and the API's names for them.
EXPORTABILITY_ORDER = {"N": 0, "E": 1, "S": 2}
API_EXPORTABILITY = {"NON_EXPORTABLE": "N", "EXPORTABLE": "E", "SENSITIVE": "S"}
MAX_OPTIONAL_BLOCK_CHARS = 112  # the API's limit for KeyBlockHeaders.OptionalBlocks, IDs and lengths included


@dataclass(frozen=True)
class BlockKey:
    """A key taken out of a verified key block, with the attributes its header gives it."""

    material: bytes = field(repr=False)
    header: tr31.Header
    attributes: dict[str, Any]
    exportability: str  # the header's E, N or S
    optional_blocks: dict[str, str]  # retained blocks (PB, KP and HM dropped)

    @property
    def exportable(self) -> bool:
        return self.exportability != "N"

    def extra(self) -> dict[str, Any]:
        """What a stored key keeps of its block: the exportability letter and the optional blocks."""
        return {"Tr31Exportability": self.exportability, "OptionalBlocks": dict(self.optional_blocks)}


def attributes_from_header(header: tr31.Header, key_length: int, member: str) -> dict[str, Any]:
    """The KeyAttributes a TR-31 header gives a key of `key_length` bytes (validity not checked here)."""
    usage = USAGES.get(header.key_usage)
    if usage is None:
        raise ValidationError(f"{member}: TR-31 key usage {header.key_usage} is not supported.")
    algorithm = _algorithm(header, key_length, member)
    combinations.check_material_length(algorithm, key_length, member)
    modes = tr31.MODES_OF_USE.get(header.mode_of_use)
    if modes is None:
        raise ValidationError(f"{member}: TR-31 mode of use {header.mode_of_use} is not supported.")
    return {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": combinations.normalized_modes({mode: True for mode in modes}),
    }


def _algorithm(header: tr31.Header, key_length: int, member: str) -> str:
    letter = header.algorithm
    if letter == "H":
        hm = header.optional_block("HM")
        if hm is None:
            raise ValidationError(f"{member}: an HMAC key block (algorithm H) needs an HM optional block.")
        if hm not in HMAC_HASHES:
            raise ValidationError(
                f"{member}: HM {hm} names a hash this service has no HMAC key algorithm for "
                f"(supported: {', '.join(sorted(HMAC_HASHES))})."
            )
        return HMAC_HASHES[hm]
    lengths = _LENGTHS.get(letter)
    if lengths is None:
        raise ValidationError(f"{member}: TR-31 algorithm {letter} is not supported for import.")
    algorithm = lengths.get(key_length)
    if algorithm is None:
        raise ValidationError(f"{member}: a {key_length}-byte key does not fit TR-31 algorithm {letter}.")
    return algorithm


def check_kbpk(version_id: str, kbpk_algorithm: str, member: str) -> None:
    family = _VERSION_FAMILY.get(version_id)
    if family is None:
        raise ValidationError(f"{member}: key block version {version_id} is not supported.")
    if kbpk_algorithm not in family:
        kind = "an AES" if version_id == "D" else "a TDES"
        raise ValidationError(
            f"{member}: a version {version_id} key block needs {kind} wrapping key, not {kbpk_algorithm}."
        )


def check_strength(wrapping_algorithm: str, protected_algorithm: str, what: str) -> None:
    """Seed-B §2: a wrapping key must be at least as strong as the key it protects.

    `what` names the wrapping key in the message, e.g. "KeyMaterial.Tr31KeyBlock: the wrapping key".
    """
    if not certificates.strong_enough(wrapping_algorithm, protected_algorithm):
        raise ValidationError(
            f"{what} ({wrapping_algorithm}) is weaker than the key it protects ({protected_algorithm})."
        )


def unwrap(kbpk: bytes, kbpk_algorithm: str, block: str, member: str) -> BlockKey:
    """Verify and open a TR-31 block under a KBPK of `kbpk_algorithm`; `member` names the input."""
    try:
        parsed = tr31.parse_header(block)
    except tr31.KeyBlockError as exc:
        raise ValidationError(f"{member} is not a valid TR-31 key block: {exc}.") from None
    check_kbpk(parsed.header.version_id, kbpk_algorithm, member)
    try:
        header, material = tr31.unwrap(kbpk, block)
    except tr31.KeyBlockError as exc:
        raise ValidationError(f"{member} cannot be unwrapped: {exc}.") from None
    opened = from_header(header, material, member)
    check_strength(kbpk_algorithm, opened.attributes["KeyAlgorithm"], f"{member}: the wrapping key")
    return opened


def from_header(header: tr31.Header, material: bytes, member: str) -> BlockKey:
    """A key and the header that binds it (from a TR-31 block, or the signed header of a TR-34 block)."""
    attributes = attributes_from_header(header, len(material), member)
    retained = {bid: value for bid, value in header.optional_blocks if bid not in NOT_RETAINED}
    return BlockKey(material, header, attributes, header.exportability, retained)


# --- export ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSource:
    """What ExportKey knows about the key it sends: attributes, the most permissive exportability
    it may carry, the letter to use when the request names none, and the blocks it arrived with."""

    attributes: dict[str, Any]
    usage_code: str
    ceiling: str
    default_exportability: str
    retained_blocks: Mapping[str, str]
    allowed_mode_sets: frozenset[frozenset[str]] | None = None  # for a NoRestrictions key


def export_header(
    version_id: str, source: ExportSource, headers: dict[str, Any] | None, member: str
) -> tr31.Header:
    """The header of an exported key block, with the request's KeyBlockHeaders applied.

    Mode of use and exportability may only be narrowed (seed-B §5.3); key version defaults to 00;
    requested optional blocks are appended to the ones the key carries, as given; HM is added for
    HMAC keys and PB by `tr31.wrap`.
    """
    headers = headers or {}
    path = f"{member}.KeyBlockHeaders"
    modes = combinations.modes_set(source.attributes["KeyModesOfUse"])
    requested_modes = headers.get("KeyModesOfUse")
    if requested_modes is not None:
        modes = _narrowed_modes(modes, combinations.modes_set(requested_modes), source, path)
    try:
        mode_letter = tr31.mode_of_use_letter(modes)
    except ValueError:
        raise ValidationError(f"{path}.KeyModesOfUse has no TR-31 mode of use.") from None
    exportability = source.default_exportability
    if headers.get("KeyExportability") is not None:
        exportability = API_EXPORTABILITY[headers["KeyExportability"]]
        if EXPORTABILITY_ORDER[exportability] > EXPORTABILITY_ORDER[source.ceiling]:
            raise ValidationError(
                f"{path}.KeyExportability {headers['KeyExportability']} is less restrictive than the "
                f"key allows."
            )
    algorithm = source.attributes["KeyAlgorithm"]
    blocks = dict(source.retained_blocks)
    if algorithm in _HM_CODES:
        blocks["HM"] = _HM_CODES[algorithm]
    requested_blocks = headers.get("OptionalBlocks") or {}
    if sum(4 + len(value) for value in requested_blocks.values()) > MAX_OPTIONAL_BLOCK_CHARS:
        raise ValidationError(f"{path}.OptionalBlocks exceed {MAX_OPTIONAL_BLOCK_CHARS} characters.")
    for block_id, value in requested_blocks.items():
        if block_id in COMPUTED_ON_EXPORT:
            raise ValidationError(f"{path}.OptionalBlocks may not set {block_id}: it is computed.")
        if blocks.get(block_id, value) != value:
            raise ValidationError(f"{path}.OptionalBlocks.{block_id} is already set on the key.")
        blocks[block_id] = value
    try:
        return tr31.Header(
            version_id=version_id,
            key_usage=source.usage_code,
            algorithm=tr31.algorithm_letter(algorithm),
            mode_of_use=mode_letter,
            key_version_number=headers.get("KeyVersion") or "00",
            exportability=exportability,
            optional_blocks=tuple(blocks.items()),
        )
    except (tr31.KeyBlockError, ValueError) as exc:
        raise ValidationError(f"{path} cannot form a TR-31 header: {exc}.") from None


def _narrowed_modes(
    current: frozenset[str], requested: frozenset[str], source: ExportSource, path: str
) -> frozenset[str]:
    if not requested:
        raise ValidationError(f"{path}.KeyModesOfUse sets no mode.")
    if "NoRestrictions" in current:
        allowed = source.allowed_mode_sets
        if allowed is None or requested in allowed:
            return requested
    elif requested <= current and "NoRestrictions" not in requested:
        return requested
    raise ValidationError(f"{path}.KeyModesOfUse must be the key's modes or a subset of them.")


def source_for(record_attributes: dict[str, Any], extra: Mapping[str, Any], exportable: bool) -> ExportSource:
    """The export view of a stored key: a key received as E stays E; one created here may go out as S."""
    letter = extra.get("Tr31Exportability")
    usage = record_attributes["KeyUsage"]
    rule = combinations.RULES.get(usage)
    return ExportSource(
        attributes=record_attributes,
        usage_code=usage.split("_")[1],
        ceiling=letter if letter in ("E", "S") else ("S" if exportable else "N"),
        default_exportability="E",
        retained_blocks=dict(extra.get("OptionalBlocks") or {}),
        allowed_mode_sets=rule.modes if rule else None,
    )
