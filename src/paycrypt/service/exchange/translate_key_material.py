"""TranslateKeyMaterial (data plane): a TR-31 block under an ECDH-derived KBPK, re-wrapped as a
TR-31 block under a stored KEK, without the key ever being stored.

The incoming side is ImportKey's DiffieHellmanTr31KeyBlock (`ecdh_agreement`, `key_blocks`): a
K3 key pair deriving K0/K1 keys, the partner's certificate chained to the named CA, the MAC
verified before the header is read, the curve and the KBPK at least as strong as the key. The
outgoing KEK is a TR31_K0/K1 key with Wrap or Encrypt (version D for an AES KEK, B for TDES), at
least as strong as the key. The outgoing header keeps the incoming one: usage, algorithm, mode of
use, key version, exportability and the optional blocks (PB, KP and HM recomputed). A block
marked N ("not exportable by the receiver in any form") is refused: re-wrapping it for someone
else is an export. The response carries the block, its format and the key's KCV in
KeyCheckValueAlgorithm (default: the algorithm's own).
"""

from __future__ import annotations

from typing import Any

from paycrypt.errors import ValidationError
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import ecdh_agreement, export_key, key_blocks
from paycrypt.service.rules import check_values, key_usage

OP = "TranslateKeyMaterial"


def translate_key_material(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    incoming_name, incoming = unions.member(params["IncomingKeyMaterial"])
    unions.handler(OP, "IncomingKeyMaterial", incoming_name, {"DiffieHellmanTr31KeyBlock": True})
    outgoing_name, outgoing = unions.member(params["OutgoingKeyMaterial"])
    unions.handler(OP, "OutgoingKeyMaterial", outgoing_name, {"Tr31KeyBlock": True})

    kek = identifiers.resolve_key(svc.store, ctx, outgoing["WrappingKeyIdentifier"])
    key_usage.check_key(OP, "Tr31KeyBlock", kek, "WrappingKeyIdentifier")
    path = "IncomingKeyMaterial.DiffieHellmanTr31KeyBlock"
    opened = ecdh_agreement.open_block(svc, ctx, incoming, operation=OP, path=path)
    if not opened.exportable:
        raise ValidationError(
            f"{path}.WrappedKeyBlock is marked non-exportable (N); it cannot be re-wrapped."
        )
    kcv, kcv_algorithm = check_values.compute(
        opened.attributes["KeyAlgorithm"], params.get("KeyCheckValueAlgorithm"), opened.material
    )
    header = opened.header
    source = key_blocks.ExportSource(
        attributes=opened.attributes,
        usage_code=header.key_usage,
        ceiling=header.exportability,
        default_exportability=header.exportability,
        retained_blocks=opened.optional_blocks,
    )
    out = export_key.Outgoing(
        opened.material, source, kcv, kcv_algorithm, cryptogram_allowed=False, label="The key"
    )
    headers = {"KeyVersion": header.key_version_number}
    block = export_key.wrap_block(
        svc.keycache.material(kek),
        kek.key_attributes["KeyAlgorithm"],
        out,
        headers,
        "OutgoingKeyMaterial.Tr31KeyBlock",
    )
    return {
        "WrappedKey": {
            "WrappedKeyMaterial": block,
            "KeyCheckValue": kcv,
            "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
        }
    }
