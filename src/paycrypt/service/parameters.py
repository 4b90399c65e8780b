"""GetParametersForImport and GetParametersForExport: tokens and the certificates that go with them.

Decisions (README, Key exchange): import parameters serve TR34_KEY_BLOCK and KEY_CRYPTOGRAM, with
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
from paycrypt.service import service_ca
from paycrypt.service.context import Context
from paycrypt.service.core import Service

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


def get_parameters_for_import(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check(IMPORT_ALGORITHMS, params, "WrappingKeyAlgorithm", "GetParametersForImport")
    token = service_ca.make_token(
        svc,
        ctx,
        "import",
        params["KeyMaterialType"],
        params["WrappingKeyAlgorithm"],
        bool(params.get("ReuseLastGeneratedToken")),
    )
    return {
        "ImportToken": token.token_id,
        "ParametersValidUntilTimestamp": token.valid_until,
        "WrappingKeyCertificate": certificates.encode_for_api(token.certificate),
        "WrappingKeyCertificateChain": certificates.encode_for_api(token.ca_certificate),
        "WrappingKeyAlgorithm": params["WrappingKeyAlgorithm"],
    }


def get_parameters_for_export(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check(EXPORT_ALGORITHMS, params, "SigningKeyAlgorithm", "GetParametersForExport")
    token = service_ca.make_token(
        svc,
        ctx,
        "export",
        params["KeyMaterialType"],
        params["SigningKeyAlgorithm"],
        bool(params.get("ReuseLastGeneratedToken")),
    )
    return {
        "ExportToken": token.token_id,
        "ParametersValidUntilTimestamp": token.valid_until,
        "SigningKeyCertificate": certificates.encode_for_api(token.certificate),
        "SigningKeyCertificateChain": certificates.encode_for_api(token.ca_certificate),
        "SigningKeyAlgorithm": params["SigningKeyAlgorithm"],
    }
