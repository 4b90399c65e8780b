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

A vault whose master key stays in an HSM (vault/pkcs11.py) seals each block under a KBPK of its
own and keeps that KBPK, wrapped by the master key, in the proprietary optional block '03' (the
envelope): the method "01" (AES key wrap with padding, RFC 5649, which PKCS#11 calls
CKM_AES_KEY_WRAP_PAD), the master key's check value, then the wrapped KBPK in hex. KP then names
the block's own KBPK, as X9.143 defines it, and `sealed_under` answers the master key named in the
envelope: the key a vault needs to open the block. The envelope is in the authenticated header,
and key wrap authenticates the KBPK itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from paycrypt.crypto import primitives, tr31
from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord

KBPK_CHECK_VALUE_BLOCK = "KP"
CMAC_METHOD = "01"  # X9.143's KCV algorithm identifier for the CMAC method
CHECK_VALUE_BYTES = 5
ENVELOPE_BLOCK = "03"
KEY_WRAP_PAD_METHOD = "01"  # the envelope's method: AES key wrap with padding (RFC 5649)
_CHECK_VALUE_HEX = 2 * CHECK_VALUE_BYTES


class Envelope(NamedTuple):
    """A block's own KBPK, wrapped by the master key `master_id` names (its check value)."""

    master_id: str
    wrapped_kbpk: bytes

    def value(self) -> str:
        """The optional block's value."""
        return KEY_WRAP_PAD_METHOD + self.master_id + self.wrapped_kbpk.hex().upper()


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


def seal(
    kbpk: bytes, kbpk_id: str, record: KeyRecord, material: bytes, envelope: Envelope | None = None
) -> str:
    """The block holding `material` for `record` under `kbpk`, which KP names by its check value
    `kbpk_id` (the vault keeps it, rather than a CMAC per seal); with `envelope`, the block carries
    `kbpk` wrapped by the master key."""
    attributes = record.key_attributes
    wrapped = () if envelope is None else ((ENVELOPE_BLOCK, envelope.value()),)
    header = tr31.Header(
        version_id="D",
        key_usage=usage_code(attributes["KeyUsage"]),
        algorithm=tr31.algorithm_letter(attributes["KeyAlgorithm"]),
        mode_of_use="N",
        exportability="E" if record.exportable else "N",
        optional_blocks=(
            ("01", record.arn),
            ("02", binding_digest(record)),
            *wrapped,
            (KBPK_CHECK_VALUE_BLOCK, CMAC_METHOD + kbpk_id),
        ),
    )
    return tr31.wrap(kbpk, header, material)


def _header(block: str) -> tr31.Header:
    try:
        return tr31.parse_header(block).header
    except tr31.KeyBlockError as exc:
        raise InternalServer("Stored key material is not a key block.") from exc


def envelope(block: str) -> Envelope | None:
    """The envelope of a block sealed under its own KBPK (None if the master key is its KBPK),
    read from the clear header. Authenticated only once the block is unsealed."""
    return _envelope(_header(block))


def _envelope(header: tr31.Header) -> Envelope | None:
    value = header.optional_block(ENVELOPE_BLOCK)
    if value is None:
        return None
    method, master_id, wrapped = value[:2], value[2 : 2 + _CHECK_VALUE_HEX], value[2 + _CHECK_VALUE_HEX :]
    try:
        if method != KEY_WRAP_PAD_METHOD or len(master_id) != _CHECK_VALUE_HEX or not wrapped:
            raise ValueError(method)
        return Envelope(master_id, bytes.fromhex(wrapped))
    except ValueError as exc:
        raise InternalServer("Stored key material wraps its protection key in an unknown form.") from exc


def sealed_under(block: str) -> str | None:
    """The check value of the master key a block is sealed under, read from the clear header: the
    envelope's, else KP's; None if it has neither (written before KP existed). Authenticated only
    once the block is unsealed."""
    header = _header(block)
    wrapped = _envelope(header)
    if wrapped is not None:
        return wrapped.master_id
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
