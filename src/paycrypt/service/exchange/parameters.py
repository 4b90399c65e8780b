"""GetParametersForImport and GetParametersForExport: tokens and the certificates that go with them.

Decisions (docs/decisions/key-exchange.md): import parameters serve TR34_KEY_BLOCK and KEY_CRYPTOGRAM, with
RSA_2048, RSA_3072 or RSA_4096 for both. The model's documentation names only RSA_2048 for TR-34,
but the guide's own strength rule (seed-B §2) lets an RSA_2048 key protect TDES keys only, so an
AES-128 KEK could never arrive by TR-34; accepting the larger keys makes that possible and
refuses nothing AWS accepts. Export parameters serve TR34_KEY_BLOCK with RSA_2048 only, as the
model says. Any other KeyMaterialType (TR-31 and certificates need no token) or algorithm is a
ValidationException naming the member.
"""

from __future__ import annotations

from typing import Any

from paycrypt.crypto import certificates
from paycrypt.errors import ValidationError
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import service_ca

RSA_ALL = ("RSA_2048", "RSA_3072", "RSA_4096")
IMPORT_ALGORITHMS = {"TR34_KEY_BLOCK": RSA_ALL, "KEY_CRYPTOGRAM": RSA_ALL}
EXPORT_ALGORITHMS = {"TR34_KEY_BLOCK": ("RSA_2048",)}


def _check(table: dict[str, tuple[str, ...]], params: dict[str, Any], algorithm_member: str, op: str) -> None:
    material_type = params["KeyMaterialType"]
    if material_type not in table:
        raise ValidationError(
            f"KeyMaterialType {material_type} takes no parameters; {op} serves {' and '.join(table)}."
        )
    algorithm = params[algorithm_member]
    if algorithm not in table[material_type]:
        raise ValidationError(
            f"{algorithm_member} {algorithm} is not allowed for {material_type}; "
            f"use {', '.join(table[material_type])}."
        )


def _parameters(
    svc: Service,
    ctx: Context,
    params: dict[str, Any],
    direction: str,
    prefix: str,
    table: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """A new (or the reused) token for `direction` ("import"/"export") and its certificates, in the
    members named with `prefix` ("Wrapping" or "Signing": WrappingKeyCertificate, ...)."""
    op = f"GetParametersFor{direction.capitalize()}"
    algorithm_member = f"{prefix}KeyAlgorithm"
    _check(table, params, algorithm_member, op)
    token = service_ca.make_token(
        svc,
        ctx,
        direction,
        params["KeyMaterialType"],
        params[algorithm_member],
        bool(params.get("ReuseLastGeneratedToken")),
    )
    return {
        f"{direction.capitalize()}Token": token.token_id,
        "ParametersValidUntilTimestamp": token.valid_until,
        f"{prefix}KeyCertificate": certificates.encode_for_api(token.certificate),
        f"{prefix}KeyCertificateChain": certificates.encode_for_api(token.ca_certificate),
        algorithm_member: params[algorithm_member],
    }


def get_parameters_for_import(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _parameters(svc, ctx, params, "import", "Wrapping", IMPORT_ALGORITHMS)


def get_parameters_for_export(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _parameters(svc, ctx, params, "export", "Signing", EXPORT_ALGORITHMS)
