"""Multi-party approval (MPA): AssociateMpaTeam, DisassociateMpaTeam, GetMpaTeamAssociation, and
the protected import of root certificates.

The model's one protected operation is IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE: with a team associated
in the account and region, ImportKey with RootCertificatePublicKey stores the key at once in
CREATE_IN_PROGRESS with `MpaStatus {MpaSessionArn, Status: PENDING, InitiationDate}` and opens an
approval session; the key becomes CREATE_COMPLETE when the team's quorum approves. A session that
FAILS (enough members reject that the quorum can no longer be reached) or is CANCELLED leaves the
key in CREATE_IN_PROGRESS, unusable, with `MpaStatus.StatusMessage` saying why; DeleteKey removes
it. (AWS runs approvals in its separate MPA service and portal; here teams, members and votes are
managed with `paycrypt mpa`, which writes the same database.)

Decisions (docs/decisions/identity-and-access.md):

- Teams are `arn:aws:mpa:<region>:<account>:approval-team/<name>`, created with `paycrypt mpa
  create-team` with members (names) and the number of approvals required. A team of another
  account or region, or one that does not exist, is ResourceNotFoundException.
- **Associate/Disassociate pass through UPDATE_PENDING/DELETE_PENDING when a team is already in
  force**, because a team that protects an operation must not be removable without its own
  approval: AssociateMpaTeam with no association takes effect at once (ACTIVE); with one ACTIVE,
  it opens a session on the *current* team and answers UPDATE_PENDING (the new team's ARN) until
  that team approves (then ACTIVE with the new team) or rejects/cancels (then ACTIVE with the
  old team, MpaStatus saying why). DisassociateMpaTeam likewise answers DELETE_PENDING and the
  association disappears when the team approves. Associating the team already in force changes
  nothing. Either call while a change is pending is ConflictException. While a change is pending
  the current team keeps protecting imports.
- Votes: each member once; APPROVED when the approvals reach the quorum, FAILED when the
  rejections make the quorum unreachable. `paycrypt mpa cancel` cancels a pending session.
- A key pending deletion cannot have its session settled (restore it first); RestoreKey returns
  an unapproved key to CREATE_IN_PROGRESS, never to CREATE_COMPLETE.
"""

from __future__ import annotations

import dataclasses
import secrets
import string
from typing import Any

from paycrypt.errors import Conflict, ResourceNotFound, ValidationError
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store.base import Store
from paycrypt.store.records import Association, KeyRecord, Session, Team

ROOT_IMPORT = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"
PROTECTED_MEMBER = {"RootCertificatePublicKey": ROOT_IMPORT}
CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
MPA_STATUS = "MpaStatus"  # KeyRecord.extra: the key's session status, as the API shows it
PENDING, APPROVED, FAILED, CANCELLED = "PENDING", "APPROVED", "FAILED", "CANCELLED"
ACTIVE, UPDATE_PENDING, DELETE_PENDING = "ACTIVE", "UPDATE_PENDING", "DELETE_PENDING"
IMPORT, ASSOCIATE, DISASSOCIATE = "import", "associate", "disassociate"
_ID_ALPHABET = string.ascii_lowercase + string.digits


class SettleError(Exception):
    """A vote or cancellation that cannot be taken; the message says why (for the CLI)."""


def team_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:mpa:{region}:{account}:approval-team/{name}"


# --- API operations ------------------------------------------------------------------------------


def associate_mpa_team(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    action, arn = params["Action"], params["MpaTeamArn"]
    tables = svc.store.mpa
    with svc.store.transaction():
        _team(svc, ctx, arn)
        current = tables.get_association(ctx.account, ctx.region, action)
        if current is None:
            association = Association(ctx.account, ctx.region, action, arn, ACTIVE)
            tables.put_association(association)
            return {"MpaTeamAssociation": _view(svc.store, association)}
        _not_pending(current)
        if current.team_arn == arn:
            return {"MpaTeamAssociation": _view(svc.store, current)}
        session = _open(svc, ctx, current.team_arn, action, ASSOCIATE, arn, params.get("RequesterComment"))
        association = dataclasses.replace(
            current, state=UPDATE_PENDING, pending_team_arn=arn, session_arn=session.arn
        )
        tables.put_association(association)
    return {"MpaTeamAssociation": _view(svc.store, association)}


def disassociate_mpa_team(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    action = params["Action"]
    tables = svc.store.mpa
    with svc.store.transaction():
        current = _existing(svc, ctx, action)
        _not_pending(current)
        session = _open(
            svc, ctx, current.team_arn, action, DISASSOCIATE, current.team_arn, params.get("RequesterComment")
        )
        association = dataclasses.replace(current, state=DELETE_PENDING, session_arn=session.arn)
        tables.put_association(association)
    return {"MpaTeamAssociation": _view(svc.store, association)}


def get_mpa_team_association(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"MpaTeamAssociation": _view(svc.store, _existing(svc, ctx, params["Action"]))}


# --- the protected import ------------------------------------------------------------------------


def store_import(svc: Service, ctx: Context, member: str, new: lifecycle.NewKey) -> KeyRecord:
    """lifecycle.store_key for ImportKey; a protected member with a team associated stores the key in
    CREATE_IN_PROGRESS and opens its approval session, in the same transaction."""
    action = PROTECTED_MEMBER.get(member)
    if action is None:
        return lifecycle.store_key(svc, ctx, new)
    with svc.store.transaction():
        association = svc.store.mpa.get_association(ctx.account, ctx.region, action)
        if association is None:
            return lifecycle.store_key(svc, ctx, new)
        record = lifecycle.store_key(svc, ctx, new)
        session = _open(svc, ctx, association.team_arn, action, IMPORT, record.arn, None)
        record = dataclasses.replace(
            record,
            key_state=CREATE_IN_PROGRESS,
            extra={**record.extra, MPA_STATUS: status_view(session)},
        )
        svc.store.update_key(record)
    return record


# --- sessions: votes and cancellation (paycrypt mpa) ----------------------------------------------


def vote(store: Store, session_arn: str, member: str, approve: bool, now: float) -> Session:
    """Record one member's vote; settle the session when it reaches or loses its quorum."""
    with store.transaction():
        session = _pending_session(store, session_arn)
        team = store.mpa.get_team(session.team_arn)
        if team is None:
            raise SettleError(f"the team {session.team_arn} no longer exists")
        if member not in team.members:
            raise SettleError(f"{member} is not a member of {team.arn}")
        votes = store.mpa.votes(session.arn)
        if member in votes:
            raise SettleError(f"{member} has already voted on this session ({votes[member]})")
        _check_subject(store, session)
        store.mpa.put_vote(session.arn, member, "APPROVE" if approve else "REJECT", now)
        votes[member] = "APPROVE" if approve else "REJECT"
        approvals = sum(1 for v in votes.values() if v == "APPROVE")
        rejections = len(votes) - approvals
        if approvals >= team.approvals_required:
            message = f"Approved by {approvals} of {len(team.members)} approvers."
            return settle(store, session, APPROVED, message, now)
        if rejections > len(team.members) - team.approvals_required:
            message = (
                f"Rejected by {rejections} of {len(team.members)} approvers; "
                f"{team.approvals_required} approvals were required."
            )
            return settle(store, session, FAILED, message, now)
        return session


def cancel(store: Store, session_arn: str, by: str, now: float) -> Session:
    with store.transaction():
        session = _pending_session(store, session_arn)
        _check_subject(store, session)
        return settle(store, session, CANCELLED, f"Cancelled by {by}.", now)


def settle(store: Store, session: Session, status: str, message: str, now: float) -> Session:
    """Close a session and apply its outcome to the key or association it protects."""
    session = dataclasses.replace(session, status=status, finished=now, message=message)
    store.mpa.put_session(session)
    if session.kind == IMPORT:
        record = store.get_key(session.subject)
        if record is not None and record.key_state == CREATE_IN_PROGRESS:
            state = lifecycle.CREATE_COMPLETE if status == APPROVED else CREATE_IN_PROGRESS
            extra = {**record.extra, MPA_STATUS: status_view(session)}
            store.update_key(dataclasses.replace(record, key_state=state, extra=extra))
        return session
    current = store.mpa.get_association(session.account, session.region, session.action)
    if current is None or current.session_arn != session.arn:
        return session
    if status == APPROVED and session.kind == DISASSOCIATE:
        store.mpa.delete_association(session.account, session.region, session.action)
    elif status == APPROVED:
        store.mpa.put_association(
            dataclasses.replace(current, team_arn=session.subject, state=ACTIVE, pending_team_arn=None)
        )
    else:
        store.mpa.put_association(dataclasses.replace(current, state=ACTIVE, pending_team_arn=None))
    return session


def status_view(session: Session) -> dict[str, Any]:
    """The API's MpaStatus for a session (InitiationDate as epoch seconds)."""
    view: dict[str, Any] = {
        "MpaSessionArn": session.arn,
        "Status": session.status,
        "InitiationDate": session.initiated,
    }
    if session.message:
        view["StatusMessage"] = session.message
    return view


# --- helpers -------------------------------------------------------------------------------------


def _team(svc: Service, ctx: Context, arn: str) -> Team:
    parts = arn.split(":")
    team = svc.store.mpa.get_team(arn)
    if team is None or parts[3] != ctx.region or parts[4] != ctx.account:
        raise ResourceNotFound(f"MPA team {arn} was not found.", arn)
    if not team.members or team.approvals_required > len(team.members):
        raise ValidationError(f"MPA team {arn} cannot reach its quorum; add members with `paycrypt mpa`.")
    return team


def _existing(svc: Service, ctx: Context, action: str) -> Association:
    association = svc.store.mpa.get_association(ctx.account, ctx.region, action)
    if association is None:
        raise ResourceNotFound(f"No MPA team is associated with {action}.", action)
    return association


def _not_pending(association: Association) -> None:
    if association.state != ACTIVE:
        raise Conflict(
            f"The MPA team association for {association.action} is {association.state}; "
            "its approval session must be settled first."
        )


def _open(
    svc: Service, ctx: Context, team: str, action: str, kind: str, subject: str, comment: str | None
) -> Session:
    name = team.rsplit("/", 1)[1]
    session_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    session = Session(
        arn=f"arn:aws:mpa:{ctx.region}:{ctx.account}:session/{name}/{session_id}",
        team_arn=team,
        account=ctx.account,
        region=ctx.region,
        action=action,
        kind=kind,
        subject=subject,
        status=PENDING,
        initiated=round(ctx.now.timestamp(), 3),
        requester=ctx.caller.arn,
        comment=comment,
    )
    svc.store.mpa.put_session(session)
    return session


def _pending_session(store: Store, arn: str) -> Session:
    session = store.mpa.get_session(arn)
    if session is None:
        raise SettleError(f"no session {arn}")
    if session.status != PENDING:
        raise SettleError(f"session {arn} is already {session.status}")
    return session


def _check_subject(store: Store, session: Session) -> None:
    if session.kind != IMPORT:
        return
    record = store.get_key(session.subject)
    if record is not None and record.key_state != CREATE_IN_PROGRESS:
        raise SettleError(
            f"key {record.arn} is {record.key_state}; restore it (RestoreKey) before settling its session"
        )


def _view(store: Store, association: Association) -> dict[str, Any]:
    view: dict[str, Any] = {
        "Action": association.action,
        "MpaTeamArn": association.pending_team_arn or association.team_arn,
        "AssociationState": association.state,
    }
    if association.session_arn is not None:
        session = store.mpa.get_session(association.session_arn)
        if session is not None:
            view["MpaStatus"] = status_view(session)
    return view
