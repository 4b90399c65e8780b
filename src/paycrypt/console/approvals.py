"""Approvals: the multi-party approval sessions of the principal's account, and a vote on those
whose team counts the principal among its members.

A member is a name (`paycrypt mpa create-team --member alice`): the console votes as the signed-in
principal's name (an IAM user's or role's name; `root` for an account's root), through the same
service function `paycrypt mpa approve|reject` calls (service/approval/mpa.py), which checks the
membership, the single vote and the quorum. There is no API operation for a vote (AWS takes votes
in its MPA portal), so the console writes the audit event itself: `ApproveMpaSession` or
`RejectMpaSession`, with the principal, the session ARN and the outcome.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from paycrypt.audit import events
from paycrypt.console.app import PREFIX, Ctx
from paycrypt.console.http import Response, redirect
from paycrypt.service.approval import mpa


def _member_name(ctx: Ctx) -> str:
    return getattr(ctx.credential, "name", "") or ""


async def approvals_page(ctx: Ctx) -> Response:
    store = ctx.console.store
    account, me = ctx.credential.account_id, _member_name(ctx)
    rows = []
    for session in store.mpa.list_sessions():
        if session.account != account:
            continue
        team = store.mpa.get_team(session.team_arn)
        votes = store.mpa.votes(session.arn)
        members = team.members if team else ()
        rows.append(
            {
                "session": session,
                "team": team,
                "votes": votes,
                "can_vote": session.status == mpa.PENDING and me in members and me not in votes,
                "member": me in members,
            }
        )
    rows.sort(key=lambda r: (r["session"].status != mpa.PENDING, -r["session"].initiated))
    return ctx.render(
        "approvals.html", title="Approvals", rows=rows, me=me, done=ctx.request.query.get("done")
    )


async def vote(ctx: Ctx) -> Response:
    form = ctx.request.form()
    session_arn, choice = form.get("session", ""), form.get("vote", "")
    if choice not in ("approve", "reject"):
        return ctx.render("error.html", status=400, title="Bad vote", message="Choose approve or reject.")
    if form.get("confirmed") != "yes":
        return ctx.render(
            "confirm.html",
            title="Confirm",
            label=f"{choice.capitalize()} this approval request",
            operation=f"{choice.capitalize()}MpaSession",
            params={"MpaSessionArn": session_arn},
            fields={"session": session_arn, "vote": choice},
            target=f"{PREFIX}/approvals/vote",
            back=f"{PREFIX}/approvals",
        )
    store = ctx.console.store
    found = store.mpa.get_session(session_arn)
    error: str | None = None
    if found is None or found.account != ctx.credential.account_id:
        error = "No such approval request in your account."
    else:
        try:
            mpa.vote(store, session_arn, _member_name(ctx), choice == "approve", time.time())
        except mpa.SettleError as exc:
            error = str(exc)
    _record_vote(ctx, session_arn, choice, error)
    if error is not None:
        return ctx.render("error.html", status=403, title="Vote refused", message=error)
    return redirect(f"{PREFIX}/approvals?done={choice}")


def _record_vote(ctx: Ctx, session_arn: str, choice: str, error: str | None) -> None:
    credential = ctx.credential
    identity = events.Identity(
        credential.account_id, credential.arn, credential.user_id, credential.access_key_id
    )
    event: dict[str, Any] = {
        "eventVersion": events.EVENT_VERSION,
        "userIdentity": events.user_identity(identity),
        "eventTime": events.iso_time(dt.datetime.now(dt.UTC)),
        "eventSource": "mpa.amazonaws.com",
        "eventName": f"{choice.capitalize()}MpaSession",
        "awsRegion": ctx.region,
        "sourceIPAddress": ctx.request.client_ip,
        "userAgent": "paycrypt-console",
    }
    if error is not None:
        event["errorCode"] = "AccessDeniedException"
        event["errorMessage"] = events.mask_pans(error)
    event.update(
        {
            "requestParameters": {"mpaSessionArn": events.mask_pans(session_arn)},  # masked as the API's are
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "resources": [],
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": credential.account_id,
            "eventCategory": "Management",
        }
    )
    ctx.console.audit.record(event)
