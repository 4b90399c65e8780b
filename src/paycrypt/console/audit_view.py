"""The audit trail: this node's audit files (every worker's stream), merged in time order by the
same reader `paycrypt audit` uses, filtered, tailed, and exported as JSON Lines.

Who sees what: the events of the signed-in principal's own account (as CloudTrail shows an
account its own trail), to its root and to principals whose identity policies allow
`cloudtrail:LookupEvents` (evaluated by the same policy engine as every API call).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from paycrypt.audit.reader import AuditFilter, parse_time, read_events
from paycrypt.console.app import Ctx
from paycrypt.console.http import Response
from paycrypt.policy.evaluation import RequestContext, evaluate

SHOWN = 200
NAMING_KEY = 50
OUTCOMES = ("", "success", "failure")


def may_read(ctx: Ctx) -> bool:
    credential = ctx.credential
    if getattr(credential, "root", False):
        return True
    decision = evaluate(
        getattr(credential, "policies", ()),
        RequestContext(
            action="cloudtrail:LookupEvents",
            principal_arn=credential.arn,
            principal_account=credential.account_id,
            region=ctx.region,
            source_ip=ctx.request.client_ip,
        ),
    )
    return decision.allowed


def _selection(query: dict[str, str]) -> tuple[AuditFilter, str, str | None]:
    """The reader's filter, the outcome wanted, and a message if a field was wrong."""
    problem = None
    times: dict[str, Any] = {}
    for name in ("start", "end"):
        if query.get(name):
            try:
                times[name] = parse_time(query[name])
            except ValueError:
                problem = f"{name}: not a time (use ISO 8601, e.g. 2026-12-07T14:00:00Z)"
    operation = query.get("operation", "").strip()
    selection = AuditFilter(
        start=times.get("start"),
        end=times.get("end"),
        event_names=frozenset({operation}) if operation else frozenset(),
        key=query.get("key", "").strip() or None,
        principal=query.get("principal", "").strip() or None,
    )
    outcome = query.get("outcome", "")
    return selection, outcome if outcome in OUTCOMES else "", problem


def _matching(ctx: Ctx, selection: AuditFilter, outcome: str) -> Any:
    account = ctx.credential.account_id
    for text, event in read_events(ctx.console.settings.audit_dirs, selection):
        if (
            event.get("recipientAccountId") != account
            and (event.get("userIdentity") or {}).get("accountId") != account
        ):
            continue
        failed = "errorCode" in event
        if (outcome == "success" and failed) or (outcome == "failure" and not failed):
            continue
        yield text, event


def _latest(ctx: Ctx, selection: AuditFilter, outcome: str, count: int) -> list[dict[str, Any]]:
    """The last `count` matching events, newest first."""
    latest: collections.deque[dict[str, Any]] = collections.deque(maxlen=count)
    for _, event in _matching(ctx, selection, outcome):
        latest.append(event)
    return list(reversed(latest))


async def events_naming(ctx: Ctx, arn: str) -> list[dict[str, Any]] | None:
    """The latest events that name a key, or None when the principal may not read the trail.
    The files are read on a worker thread: a long trail must not hold up the API's event loop."""
    if not may_read(ctx):
        return None
    return await asyncio.to_thread(_latest, ctx, AuditFilter(key=arn), "", NAMING_KEY)


async def audit_page(ctx: Ctx) -> Response:
    if not may_read(ctx):
        return ctx.render(
            "error.html",
            status=403,
            title="Refused",
            message=f"{ctx.credential.arn} may not read the audit trail (cloudtrail:LookupEvents).",
        )
    query = ctx.request.query
    selection, outcome, problem = _selection(query)
    events = [] if problem is not None else await asyncio.to_thread(_latest, ctx, selection, outcome, SHOWN)
    filters = {
        name: query.get(name, "") for name in ("start", "end", "principal", "operation", "key", "outcome")
    }
    export = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return ctx.render(
        "audit.html",
        title="Audit",
        events=events,
        filters=filters,
        problem=problem,
        tail=query.get("tail") == "1",
        export_query=export,
        sources=[str(d) for d in ctx.console.settings.audit_dirs],
        outcomes=OUTCOMES,
    )


async def audit_export(ctx: Ctx) -> Response:
    if not may_read(ctx):
        return ctx.render(
            "error.html", status=403, title="Refused", message="You may not read the audit trail."
        )
    selection, outcome, problem = _selection(ctx.request.query)
    if problem is not None:
        return ctx.render("error.html", status=400, title="Bad filter", message=problem)
    lines = await asyncio.to_thread(lambda: [text for text, _ in _matching(ctx, selection, outcome)])
    body = ("\n".join(lines) + ("\n" if lines else "")).encode()
    return Response(
        200,
        body,
        "application/x-ndjson; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="paycrypt-audit.jsonl"'},
    )
