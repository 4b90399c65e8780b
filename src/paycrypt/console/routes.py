"""The console's pages: (method, path below /console, handler). Everything here needs a session."""

from __future__ import annotations

import dataclasses

from paycrypt.console import approvals, audit_view, keys, transfer
from paycrypt.console.app import PREFIX, Ctx
from paycrypt.console.http import Response, redirect
from paycrypt.console.sessions import COOKIE, cookie, encode, expired

KEY = r"(?P<key>[A-Za-z0-9]{16,64})"


async def signout(ctx: Ctx) -> Response:
    response = redirect(f"{PREFIX}/signin")
    response.cookies.append(expired(COOKIE, secure=ctx.request.secure))
    return response


async def choose_region(ctx: Ctx) -> Response:
    region = ctx.request.form().get("region", "")
    if region in ctx.console.settings.regions:
        ctx.session = dataclasses.replace(ctx.session, region=region)
    response = redirect(f"{PREFIX}/keys")
    response.cookies.append(cookie(COOKIE, encode(ctx.session), secure=ctx.request.secure))
    return response


ROUTES = [
    ("GET", "/keys", keys.inventory),
    ("GET", "/keys/new", keys.create_form),
    ("POST", "/keys/new", keys.create),
    ("GET", f"/keys/{KEY}", keys.key_page),
    ("POST", f"/keys/{KEY}/act", keys.act),
    ("GET", "/import", transfer.import_form),
    ("POST", "/import", transfer.import_key),
    ("POST", "/import/parameters", transfer.parameters),
    ("POST", "/import/certificate", transfer.certificate),
    ("GET", "/audit", audit_view.audit_page),
    ("GET", "/audit/export", audit_view.audit_export),
    ("GET", "/approvals", approvals.approvals_page),
    ("POST", "/approvals/vote", approvals.vote),
    ("POST", "/signout", signout),
    ("POST", "/region", choose_region),
]
