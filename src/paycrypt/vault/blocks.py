"""The storage key block: X9.143 version D, bound to its key record, naming its protection key.

Every stored key is an X9.143 version D key block under a key block protection key (KBPK) that
only the vault holds. Two proprietary optional blocks bind the block to its record: '01' carries
the key ARN and '02' a digest of the immutable attributes, so a block copied to another row, or a
row whose usage or exportability was edited in the database, fails to unseal instead of lending
its key to the wrong rules.

The standard optional block 'KP' (X9.143: the key check value of the KBPK) names the key the
block is sealed under: "01" (the CMAC method) and the leftmost five bytes of AES-CMAC of the zero
block under the KBPK (X9.24-1:2017 Annex A allows CMAC check values of up to 40 bits). It sits in
the authenticated header, so a vault that holds several protection keys (master-key rotation)
knows which one opens a block without trying each, and a block cannot claim another key. Blocks
written before KP was added have none; `sealed_under` answers None for them, and the vault that
wrote them decides which of its keys that means.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from paycrypt.crypto import primitives, tr31
from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord

KBPK_CHECK_VALUE_BLOCK = "KP"
CMAC_METHOD = "01"  # X9.143's KCV algorithm identifier for the CMAC method
CHECK_VALUE_BYTES = 5


def usage_code(key_usage: str) -> str:
    """'TR31_C0_CARD_VERIFICATION_KEY' -> 'C0'."""
    return key_usage.split("_")[1]


def binding_digest(record: KeyRecord) -> str:
    immutable: dict[str, Any] = {
        "arn": record.arn,
        "attributes": record.key_attributes,
        "exportable": record.exportable,
        "origin": record.key_origin,
        "derive": record.derive_key_usage,
    }
    canonical = json.dumps(immutable, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:32].upper()


def check_value(kbpk: bytes) -> str:
    """The KBPK's check value as KP carries it (CMAC method, five bytes, upper-case hex)."""
    return primitives.aes_cmac(kbpk, bytes(16))[:CHECK_VALUE_BYTES].hex().upper()


def seal(kbpk: bytes, kbpk_id: str, record: KeyRecord, material: bytes) -> str:
    """The block holding `material` for `record` under `kbpk`, which KP names by its check value
    `kbpk_id` (the vault keeps it, rather than a CMAC per seal)."""
    attributes = record.key_attributes
    header = tr31.Header(
        version_id="D",
        key_usage=usage_code(attributes["KeyUsage"]),
        algorithm=tr31.algorithm_letter(attributes["KeyAlgorithm"]),
        mode_of_use="N",
        exportability="E" if record.exportable else "N",
        optional_blocks=(
            ("01", record.arn),
            ("02", binding_digest(record)),
            (KBPK_CHECK_VALUE_BLOCK, CMAC_METHOD + kbpk_id),
        ),
    )
    return tr31.wrap(kbpk, header, material)


def sealed_under(block: str) -> str | None:
    """The check value of the key a block names in KP, read from the clear header; None if it has
    no KP (written before KP existed). Authenticated only once the block is unsealed."""
    try:
        header = tr31.parse_header(block).header
    except tr31.KeyBlockError as exc:
        raise InternalServer("Stored key material is not a key block.") from exc
    value = header.optional_block(KBPK_CHECK_VALUE_BLOCK)
    if value is None:
        return None
    if not value.startswith(CMAC_METHOD) or len(value) != len(CMAC_METHOD) + 2 * CHECK_VALUE_BYTES:
        raise InternalServer("Stored key material names its protection key in an unknown form.")
    return value[len(CMAC_METHOD) :]


def unseal(kbpk: bytes, record: KeyRecord, block: str) -> bytes:
    """The material of `block`, checked against `record`; InternalServer if it does not verify."""
    try:
        header, material = tr31.unwrap(kbpk, block)
    except tr31.KeyBlockError as exc:
        raise InternalServer("Stored key material failed its integrity check.") from exc
    if header.optional_block("01") != record.arn or header.optional_block("02") != binding_digest(record):
        raise InternalServer("Stored key material does not belong to this key record.")
    return material
