"""Importing a key, each showing the KCV the service computed beside the partner's when the user
types it in:

- a TR-31 key block under a chosen KEK (ImportKey Tr31KeyBlock);
- an RSA-wrapped key cryptogram: GetParametersForImport (KEY_CRYPTOGRAM) first, which shows the
  wrapping certificate to download and the import token, then ImportKey KeyCryptogram;
- a TR-34 key block: GetParametersForImport (TR34_KEY_BLOCK) for the certificate the partner's KDH
  encrypts to, then ImportKey Tr34KeyBlock with the KDH's signing certificate and the CA it chains
  to (a root certificate imported before).

Blocks and cryptograms are wrapped (never clear key material); they travel in POST bodies only,
never in a URL.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

from paycrypt.console.api import ApiError
from paycrypt.console.app import PREFIX, Ctx
from paycrypt.console.http import Response
from paycrypt.console.keys import HIDDEN, keks, usable_keys
from paycrypt.service.rules.combinations import MODES, RULES

WRAPPING_ALGORITHMS = ("RSA_2048", "RSA_3072", "RSA_4096")
WRAPPING_SPECS = ("RSA_OAEP_SHA_256", "RSA_OAEP_SHA_512")
SYMMETRIC = {usage: rule for usage, rule in RULES.items() if rule.key_class == "SYMMETRIC_KEY"}


def _packed(text: str) -> str:
    return "".join(text.split())


def _tr31(form: dict[str, str]) -> dict[str, Any]:
    return {
        "Tr31KeyBlock": {
            "WrappingKeyIdentifier": form.get("kek", ""),
            "WrappedKeyBlock": _packed(form.get("block", "")),
        }
    }


def _cryptogram(form: dict[str, str]) -> dict[str, Any]:
    usage = form.get("usage", "")
    rule = SYMMETRIC.get(usage)
    return {
        "KeyCryptogram": {
            "KeyAttributes": {
                "KeyUsage": usage,
                "KeyClass": rule.key_class if rule else "SYMMETRIC_KEY",
                "KeyAlgorithm": form.get("algorithm", ""),
                "KeyModesOfUse": {m: True for m in form.get("modes", "").split(",") if m},
            },
            "Exportable": form.get("exportable") == "on",
            "ImportToken": form.get("token", ""),
            "WrappedKeyCryptogram": _packed(form.get("block", "")),
            "WrappingSpec": form.get("spec", ""),
        }
    }


def _tr34(form: dict[str, str]) -> dict[str, Any]:
    member = {
        "CertificateAuthorityPublicKeyIdentifier": form.get("ca", ""),
        "ImportToken": form.get("token", ""),
        "KeyBlockFormat": "X9_TR34_2012",
        "SigningKeyCertificate": _packed(form.get("signing_certificate", "")),
        "WrappedKeyBlock": _packed(form.get("block", "")),
    }
    if form.get("nonce", "").strip():
        member["RandomNonce"] = _packed(form["nonce"])
    return {"Tr34KeyBlock": member}


# format → (what the confirmation says, the KeyMaterial member built from the form)
FORMATS: dict[str, tuple[str, Callable[[dict[str, str]], dict[str, Any]]]] = {
    "tr31": ("Import this TR-31 key block", _tr31),
    "cryptogram": ("Import this RSA-wrapped key cryptogram", _cryptogram),
    "tr34": ("Import this TR-34 key block", _tr34),
}
# GetParametersForImport's KeyMaterialType for the formats that start with it
PARAMETER_TYPES = {"cryptogram": "KEY_CRYPTOGRAM", "tr34": "TR34_KEY_BLOCK"}


async def import_form(ctx: Ctx) -> Response:
    return ctx.render(
        "import.html", title="Import a key", keks=await keks(ctx), wrapping_algorithms=WRAPPING_ALGORITHMS
    )


async def parameters(ctx: Ctx) -> Response:
    """Step one of an RSA-wrapped or TR-34 import: the wrapping certificate and the import token."""
    form = ctx.request.form()
    kind = form.get("format", "")
    if kind not in PARAMETER_TYPES:
        return ctx.render("error.html", status=400, title="Unknown format", message="No such import format.")
    request = {"KeyMaterialType": PARAMETER_TYPES[kind], "WrappingKeyAlgorithm": form.get("algorithm", "")}
    try:
        answer = await ctx.call("GetParametersForImport", request)
    except ApiError as error:
        return ctx.failed(error, f"{PREFIX}/import")
    return ctx.render(
        "import_wrapped.html",
        title="Import an RSA-wrapped key" if kind == "cryptogram" else "Import a TR-34 key block",
        kind=kind,
        answer=answer,
        usages=list(SYMMETRIC),
        algorithms=sorted({a for rule in SYMMETRIC.values() for a in rule.algorithms}),
        mode_sets=sorted({",".join(sorted(s, key=MODES.index)) for r in SYMMETRIC.values() for s in r.modes}),
        specs=WRAPPING_SPECS,
        roots=await _roots(ctx) if kind == "tr34" else [],
    )


async def certificate(ctx: Ctx) -> Response:
    """The wrapping certificate the user downloads for the partner, as a PEM file (the API gives it
    base64-encoded PEM; the form posts it back, so nothing public or secret goes into a URL)."""
    value = _packed(ctx.request.form().get("certificate", ""))
    try:
        pem = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pem = b""
    if not pem.startswith(b"-----BEGIN CERTIFICATE-----"):
        return ctx.render(
            "error.html", status=400, title="Not a certificate", message="Not a PEM certificate."
        )
    return Response(
        200, pem, "application/x-pem-file",
        headers={"content-disposition": 'attachment; filename="paycrypt-wrapping-certificate.pem"'},
    )  # fmt: skip


async def _roots(ctx: Ctx) -> list[dict[str, Any]]:
    """The CA certificates a TR-34 signing certificate can chain to (public S0 keys)."""
    return await usable_keys(
        ctx,
        lambda key: (
            key.get("KeyAttributes", {}).get("KeyClass") == "PUBLIC_KEY"
            and key["KeyAttributes"].get("KeyUsage") == "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
        ),
    )


async def import_key(ctx: Ctx) -> Response:
    form = ctx.request.form()
    kind = form.get("format", "tr31")
    if kind not in FORMATS:
        return ctx.render("error.html", status=400, title="Unknown format", message="No such import format.")
    label, build = FORMATS[kind]
    params: dict[str, Any] = {"KeyMaterial": build(form)}
    back = f"{PREFIX}/import"
    if form.get("confirmed") != "yes":
        fields = {k: v for k, v in form.items() if k not in HIDDEN}
        return ctx.render(
            "confirm.html", title="Confirm", label=label, operation="ImportKey",
            params=params, fields=fields, target=f"{PREFIX}/import", back=back,
        )  # fmt: skip
    try:
        result = await ctx.call("ImportKey", params)
    except ApiError as error:
        return ctx.failed(error, back)
    key = result.get("Key", {})
    expected = form.get("expected_kcv", "").strip().upper()
    kcv = str(key.get("KeyCheckValue", ""))
    return ctx.render(
        "result.html", title="Imported", error=None, operation="ImportKey", result=result, key=key, back=back,
        wrapped={}, expected_kcv=expected,
        kcv_match=(hmac.compare_digest(expected, kcv.upper()) if expected else None),
    )  # fmt: skip
