"""Importing a key: a TR-31 key block under a chosen KEK (ImportKey with Tr31KeyBlock), shown
with the KCV the service computed, beside the partner's KCV when the user types it in.

The block is wrapped (never clear key material); it travels in the POST body only, never in a URL.
"""

from __future__ import annotations

import hmac
from typing import Any

from paycrypt.console.api import ApiError
from paycrypt.console.app import PREFIX, Ctx
from paycrypt.console.http import Response
from paycrypt.console.keys import HIDDEN, _keks


async def import_form(ctx: Ctx) -> Response:
    return ctx.render("import.html", title="Import a key", keks=await _keks(ctx))


async def import_key(ctx: Ctx) -> Response:
    form = ctx.request.form()
    params: dict[str, Any] = {
        "KeyMaterial": {
            "Tr31KeyBlock": {
                "WrappingKeyIdentifier": form.get("kek", ""),
                "WrappedKeyBlock": "".join(form.get("block", "").split()),
            }
        },
        "Enabled": True,
    }
    back = f"{PREFIX}/import"
    if form.get("confirmed") != "yes":
        fields = {k: v for k, v in form.items() if k not in HIDDEN}
        return ctx.render(
            "confirm.html",
            title="Confirm",
            label="Import this TR-31 key block",
            operation="ImportKey",
            params=params,
            fields=fields,
            target=f"{PREFIX}/import",
            back=back,
        )
    try:
        result = await ctx.call("ImportKey", params)
    except ApiError as error:
        return ctx.failed(error, back)
    key = result.get("Key", {})
    expected = form.get("expected_kcv", "").strip().upper()
    kcv = str(key.get("KeyCheckValue", ""))
    return ctx.render(
        "result.html",
        title="Imported",
        error=None,
        operation="ImportKey",
        result=result,
        key=key,
        back=back,
        wrapped={},
        expected_kcv=expected,
        kcv_match=(hmac.compare_digest(expected, kcv.upper()) if expected else None),
    )
