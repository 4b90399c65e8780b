"""Keys: the inventory, a key's page, the create form and the actions on a key.

Every read and every action is an API call (ListKeys, GetKey, ListAliases, ListTagsForResource,
GetResourcePolicy, CreateKey, StopKeyUsage, …) made as the signed-in principal: what the page
shows is what the principal's policies let it read, and what it does is what they let it do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from paycrypt.console.api import ApiError
from paycrypt.console.app import PREFIX, Ctx
from paycrypt.console.audit_view import events_naming
from paycrypt.console.http import Response
from paycrypt.console.usages import EXPLAINED
from paycrypt.service.rules.combinations import MODES, RULES

PAGE_SIZE = 25
KEK_USAGES = ("TR31_K0_KEY_ENCRYPTION_KEY", "TR31_K1_KEY_BLOCK_PROTECTION_KEY")
API_PAGE = 100
FILTERS = ("state", "usage", "algorithm", "key_class", "alias", "tag", "replication")
STATES = ("CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_PENDING", "DELETE_COMPLETE")


# --- the inventory -------------------------------------------------------------------------------


def _token(api_token: str | None, skip: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([api_token, skip]).encode()).decode()


def _untoken(text: str | None) -> tuple[str | None, int]:
    if not text:
        return None, 0
    try:
        api_token, skip = json.loads(base64.urlsafe_b64decode(text.encode()))
        return (str(api_token) if api_token else None), max(0, int(skip))
    except (ValueError, TypeError):
        return None, 0


async def _all_aliases(ctx: Ctx) -> dict[str, list[str]]:
    """Key ARN → its alias names, from ListAliases (every page)."""
    found: dict[str, list[str]] = {}
    token = None
    while True:
        params: dict[str, Any] = {"MaxResults": 100}
        if token:
            params["NextToken"] = token
        page = await ctx.call("ListAliases", params)
        for alias in page.get("Aliases", []):
            if alias.get("KeyArn"):
                found.setdefault(alias["KeyArn"], []).append(alias["AliasName"])
        token = page.get("NextToken")
        if not token:
            return found


def _tag_filter(text: str) -> tuple[str, str | None]:
    key, _, value = text.partition("=")
    return key.strip(), (value.strip() if "=" in text else None)


async def _matches(
    ctx: Ctx, key: dict[str, Any], filters: dict[str, str], aliases: dict[str, list[str]]
) -> bool:
    attributes = key.get("KeyAttributes", {})
    checks = {
        "state": key.get("KeyState"),
        "usage": attributes.get("KeyUsage"),
        "algorithm": attributes.get("KeyAlgorithm"),
        "key_class": attributes.get("KeyClass"),
        "replication": key.get("MultiRegionKeyType") or "NONE",
    }
    for name, value in checks.items():
        if filters.get(name) and filters[name] != value:
            return False
    wanted_alias = filters.get("alias")
    if wanted_alias and not any(wanted_alias in name for name in aliases.get(key["KeyArn"], [])):
        return False
    if filters.get("tag"):
        tag_key, tag_value = _tag_filter(filters["tag"])
        tags = (await ctx.call("ListTagsForResource", {"ResourceArn": key["KeyArn"]})).get("Tags", [])
        if not any(t["Key"] == tag_key and (tag_value is None or t["Value"] == tag_value) for t in tags):
            return False
    return True


async def inventory(ctx: Ctx) -> Response:
    query = ctx.request.query
    filters = {name: query.get(name, "").strip() for name in FILTERS}
    api_token, skip = _untoken(query.get("page"))
    try:
        aliases = await _all_aliases(ctx)
        shown: list[dict[str, Any]] = []
        next_page = None
        while len(shown) < PAGE_SIZE:
            params: dict[str, Any] = {"MaxResults": API_PAGE}
            if api_token:
                params["NextToken"] = api_token
            if filters["state"]:
                params["KeyState"] = filters["state"]
            listed = await ctx.call("ListKeys", params)
            keys = listed.get("Keys", [])
            position = skip
            for key in keys[skip:]:
                position += 1
                if await _matches(ctx, key, filters, aliases):
                    shown.append({**key, "Aliases": aliases.get(key["KeyArn"], [])})
                    if len(shown) == PAGE_SIZE:
                        break
            if len(shown) == PAGE_SIZE and position < len(keys):
                next_page = _token(api_token, position)
                break
            api_token, skip = listed.get("NextToken"), 0
            if not api_token:
                break
            if len(shown) == PAGE_SIZE:
                next_page = _token(api_token, 0)
    except ApiError as error:
        return ctx.failed(error, f"{PREFIX}/keys")
    return ctx.render(
        "keys.html",
        title="Keys",
        keys=shown,
        filters=filters,
        next_page=next_page,
        states=STATES,
        usages=sorted(EXPLAINED),
        algorithms=sorted({a for rule in RULES.values() for a in rule.algorithms}),
        classes=("SYMMETRIC_KEY", "ASYMMETRIC_KEY_PAIR", "PUBLIC_KEY"),
        replications=("NONE", "PRIMARY", "REPLICA"),
    )


# --- a key's page ------------------------------------------------------------------------------


async def key_page(ctx: Ctx) -> Response:
    arn = _arn(ctx, ctx.match["key"])
    try:
        key = (await ctx.call("GetKey", {"KeyIdentifier": arn}))["Key"]
    except ApiError as error:
        return ctx.failed(error, f"{PREFIX}/keys")
    sections: dict[str, Any] = {}
    reads = {
        "aliases": ("ListAliases", {"KeyArn": arn}, "Aliases"),
        "tags": ("ListTagsForResource", {"ResourceArn": arn}, "Tags"),
        "policy": ("GetResourcePolicy", {"ResourceArn": arn}, "Policy"),
    }
    for name, (operation, params, member) in reads.items():
        try:
            sections[name] = (await ctx.call(operation, params)).get(member)
        except ApiError as error:  # shown in its section: the rest of the page still helps
            sections[name] = None
            sections[name + "_error"] = error
    return ctx.render(
        "key.html",
        title=f"Key {arn.rsplit('/', 1)[-1]}",
        key=key,
        attributes=key.get("KeyAttributes", {}),
        modes=[m for m, on in key.get("KeyAttributes", {}).get("KeyModesOfUse", {}).items() if on],
        sections=sections,
        events=await events_naming(ctx, arn),
        keks=await keks(ctx, exclude=arn),
    )


def _arn(ctx: Ctx, key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    return f"arn:aws:payment-cryptography:{ctx.region}:{ctx.credential.account_id}:key/{key_id}"


async def usable_keys(ctx: Ctx, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The enabled keys `wanted` picks, through ListKeys as the signed-in principal (what it may
    not list is not offered: the API decides)."""
    found, token = [], None
    try:
        while True:
            params: dict[str, Any] = {"MaxResults": API_PAGE, "KeyState": "CREATE_COMPLETE"}
            if token:
                params["NextToken"] = token
            listed = await ctx.call("ListKeys", params)
            found += [key for key in listed.get("Keys", []) if wanted(key)]
            token = listed.get("NextToken")
            if not token:
                return found
    except ApiError:
        return found


async def keks(ctx: Ctx, exclude: str | None = None) -> list[dict[str, Any]]:
    """The keys that can wrap a key for TR-31 (K0/K1), to choose from."""
    return await usable_keys(
        ctx,
        lambda key: key.get("KeyAttributes", {}).get("KeyUsage") in KEK_USAGES and key["KeyArn"] != exclude,
    )


# --- actions on a key ----------------------------------------------------------------------------


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text  # the API's validation names the problem


@dataclass(frozen=True)
class Action:
    operation: str
    label: str  # what the confirmation asks
    params: Any  # (arn, form) → the API request


ACTIONS: dict[str, Action] = {
    "stop": Action("StopKeyUsage", "Stop using this key", lambda arn, f: {"KeyIdentifier": arn}),
    "start": Action("StartKeyUsage", "Start using this key", lambda arn, f: {"KeyIdentifier": arn}),
    "delete": Action(
        "DeleteKey",
        "Schedule this key for deletion",
        lambda arn, f: {"KeyIdentifier": arn, "DeleteKeyInDays": _number(f.get("days", "7"))},
    ),
    "restore": Action("RestoreKey", "Cancel this key's deletion", lambda arn, f: {"KeyIdentifier": arn}),
    "alias-create": Action(
        "CreateAlias",
        "Create an alias for this key",
        lambda arn, f: {"AliasName": f.get("alias", ""), "KeyArn": arn},
    ),
    "alias-update": Action(
        "UpdateAlias",
        "Point an existing alias at this key",
        lambda arn, f: {"AliasName": f.get("alias", ""), "KeyArn": arn},
    ),
    "alias-delete": Action(
        "DeleteAlias", "Delete this alias", lambda arn, f: {"AliasName": f.get("alias", "")}
    ),
    "tag-add": Action(
        "TagResource",
        "Add (or change) a tag",
        lambda arn, f: {
            "ResourceArn": arn,
            "Tags": [{"Key": f.get("tag_key", ""), "Value": f.get("tag_value", "")}],
        },
    ),
    "tag-remove": Action(
        "UntagResource",
        "Remove a tag",
        lambda arn, f: {"ResourceArn": arn, "TagKeys": [f.get("tag_key", "")]},
    ),
    "export": Action(
        "ExportKey",
        "Export this key as a TR-31 key block",
        lambda arn, f: {
            "ExportKeyIdentifier": arn,
            "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": f.get("kek", "")}},
        },
    ),
}
HIDDEN = ("csrf", "confirmed")


async def act(ctx: Ctx) -> Response:
    arn = _arn(ctx, ctx.match["key"])
    form = ctx.request.form()
    action = ACTIONS.get(form.get("action", ""))
    back = f"{PREFIX}/keys/{arn.rsplit('/', 1)[-1]}"
    if action is None:
        return ctx.render("error.html", status=400, title="Unknown action", message="No such action.")
    params = action.params(arn, form)
    return await confirm_then_call(ctx, action.operation, action.label, params, form, ctx.request.path, back)


async def confirm_then_call(
    ctx: Ctx, operation: str, label: str, params: dict[str, Any], form: dict[str, str], target: str, back: str
) -> Response:
    """Without `confirmed`, the confirmation page (the request the action will make, and a form
    that repeats it); with it, the call and its outcome."""
    if form.get("confirmed") != "yes":
        fields = {k: v for k, v in form.items() if k not in HIDDEN}
        return ctx.render(
            "confirm.html",
            title="Confirm",
            label=label,
            operation=operation,
            params=params,
            fields=fields,
            target=f"{PREFIX}{target}",
            back=back,
        )
    try:
        result = await ctx.call(operation, params)
    except ApiError as error:
        return ctx.failed(error, back)
    key = result.get("Key") or {}
    return ctx.render(
        "result.html",
        title="Done",
        error=None,
        operation=operation,
        result=result,
        key=key,
        back=back,
        wrapped=(result.get("WrappedKey") or {}),
    )


# --- creating a key ---------------------------------------------------------------------------


def _mode_sets(usage: str) -> list[list[str]]:
    return [sorted(s, key=MODES.index) for s in sorted(RULES[usage].modes, key=lambda s: sorted(s))]


async def create_form(ctx: Ctx) -> Response:
    usage = ctx.request.query.get("usage", "")
    rule = RULES.get(usage)
    return ctx.render(
        "create.html",
        title="Create a key",
        usages=[(name, EXPLAINED.get(name, "")) for name in RULES],
        usage=usage if rule else "",
        explained=EXPLAINED.get(usage, ""),
        algorithms=sorted(rule.algorithms) if rule else [],
        mode_sets=_mode_sets(usage) if rule else [],
        key_class=rule.key_class if rule else "",
    )


async def create(ctx: Ctx) -> Response:
    form = ctx.request.form()
    usage = form.get("usage", "")
    rule = RULES.get(usage)
    modes = [m for m in form.get("modes", "").split(",") if m]
    params: dict[str, Any] = {
        "KeyAttributes": {
            "KeyUsage": usage,
            "KeyClass": rule.key_class if rule else form.get("key_class", ""),
            "KeyAlgorithm": form.get("algorithm", ""),
            "KeyModesOfUse": {m: True for m in modes},
        },
        "Exportable": form.get("exportable") == "on",
        "Enabled": form.get("enabled", "on") == "on",
    }
    if form.get("tag_key"):
        params["Tags"] = [{"Key": form["tag_key"], "Value": form.get("tag_value", "")}]
    return await confirm_then_call(
        ctx, "CreateKey", "Create this key", params, form, "/keys/new", f"{PREFIX}/keys"
    )
