"""`paycrypt mpa …`: multi-party approval teams, their members, and votes on approval sessions.

The commands open the server's database (`<data-dir>/paycrypt.db`) directly, as the approvers'
side of the approval: a running server sees each change at once (sessions are never cached).

    paycrypt mpa create-team --account 111122223333 --region us-east-1 --name key-custodians \\
        --approvals 2 --member alice --member bob --member carol
    paycrypt mpa list-sessions --status PENDING
    paycrypt mpa approve --session-arn arn:aws:mpa:…:session/key-custodians/… --member alice
    paycrypt mpa reject  --session-arn … --member bob
    paycrypt mpa cancel  --session-arn … --by alice
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.service.approval import mpa
from paycrypt.store.records import Team
from paycrypt.store.sqlite import SqliteStore

DB_NAME = "paycrypt.db"
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}-[a-z]{1,16}-[0-9]+$")
_TEAM_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")
_MEMBER = re.compile(r"^[\w+=,.@-]{1,64}$")


def add_mpa_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `mpa` to the `paycrypt` command's subparsers; run it with `run_mpa(args)`."""
    parser = subparsers.add_parser("mpa", help="multi-party approval: teams, members, approvals")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data directory (default as for serve)"
    )
    commands = parser.add_subparsers(dest="mpa_command", required=True)
    p = commands.add_parser("create-team", help="make an approval team")
    p.add_argument("--account", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--approvals", type=int, required=True, help="approvals required (the quorum)")
    p.add_argument("--member", action="append", required=True, help="an approver's name (repeat)")
    p = commands.add_parser("delete-team", help="remove a team that protects nothing")
    p.add_argument("--team-arn", required=True)
    p = commands.add_parser("add-member", help="add an approver to a team")
    p.add_argument("--team-arn", required=True)
    p.add_argument("--member", required=True)
    p = commands.add_parser("remove-member", help="remove an approver from a team")
    p.add_argument("--team-arn", required=True)
    p.add_argument("--member", required=True)
    p = commands.add_parser("set-approvals", help="change a team's quorum")
    p.add_argument("--team-arn", required=True)
    p.add_argument("--approvals", type=int, required=True)
    commands.add_parser("list-teams", help="teams, members and quorums")
    p = commands.add_parser("list-sessions", help="approval sessions, newest last")
    p.add_argument("--status", choices=["PENDING", "APPROVED", "FAILED", "CANCELLED"], default=None)
    for name, text in (("approve", "approve a pending session"), ("reject", "reject a pending session")):
        p = commands.add_parser(name, help=text)
        p.add_argument("--session-arn", required=True)
        p.add_argument("--member", required=True)
    p = commands.add_parser("cancel", help="cancel a pending session")
    p.add_argument("--session-arn", required=True)
    p.add_argument("--by", default="the requester", help="who cancels (recorded in the status message)")
    return parser


def run_mpa(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    store = SqliteStore(Path(args.data_dir or defaults.data_dir()) / DB_NAME)
    try:
        result = _COMMANDS[args.mpa_command](store, args)
    except mpa.SettleError as exc:
        raise CliError(str(exc)) from exc
    finally:
        store.close()
    out.write(json.dumps(result, indent=2) + "\n")
    return 0


def _create_team(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    if not _ACCOUNT.match(args.account):
        raise CliError("--account must be 12 digits")
    if not _REGION.match(args.region):
        raise CliError("--region must be a region name such as us-east-1")
    if not _TEAM_NAME.match(args.name):
        raise CliError("--name must be 1 to 64 letters, digits or ._-")
    members = _members(args.member)
    _check_quorum(args.approvals, members)
    arn = mpa.team_arn(args.account, args.region, args.name)
    with store.transaction():
        if store.mpa.get_team(arn) is not None:
            raise CliError(f"team {arn} already exists")
        team = Team(arn, args.account, args.region, args.name, args.approvals, time.time(), members)
        store.mpa.put_team(team)
    return {"Team": _team_view(team)}


def _delete_team(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    with store.transaction():
        _team(store, args.team_arn)
        if store.mpa.teams_in_use(args.team_arn):
            raise CliError(f"team {args.team_arn} is associated or has pending sessions")
        store.mpa.delete_team(args.team_arn)
    return {"Deleted": args.team_arn}


def _add_member(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    with store.transaction():
        team = _team(store, args.team_arn)
        members = _members([*team.members, args.member])
        store.mpa.set_members(team.arn, members, team.approvals_required)
    return {"Team": _team_view(_team(store, args.team_arn))}


def _remove_member(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    with store.transaction():
        team = _team(store, args.team_arn)
        if args.member not in team.members:
            raise CliError(f"{args.member} is not a member of {team.arn}")
        members = tuple(m for m in team.members if m != args.member)
        _check_quorum(team.approvals_required, members)
        store.mpa.set_members(team.arn, members, team.approvals_required)
    return {"Team": _team_view(_team(store, args.team_arn))}


def _set_approvals(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    with store.transaction():
        team = _team(store, args.team_arn)
        _check_quorum(args.approvals, team.members)
        store.mpa.set_members(team.arn, team.members, args.approvals)
    return {"Team": _team_view(_team(store, args.team_arn))}


def _list_teams(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    return {"Teams": [_team_view(team) for team in store.mpa.list_teams()]}


def _list_sessions(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    sessions = []
    for session in store.mpa.list_sessions(args.status):
        sessions.append(
            {
                "MpaSessionArn": session.arn,
                "MpaTeamArn": session.team_arn,
                "Action": session.action,
                "Kind": session.kind,
                "Subject": session.subject,
                "Status": session.status,
                "InitiationDate": _iso(session.initiated),
                **({"StatusMessage": session.message} if session.message else {}),
                "Requester": session.requester,
                "Votes": store.mpa.votes(session.arn),
            }
        )
    return {"Sessions": sessions}


def _approve(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    return {"Session": mpa.status_view(mpa.vote(store, args.session_arn, args.member, True, time.time()))}


def _reject(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    return {"Session": mpa.status_view(mpa.vote(store, args.session_arn, args.member, False, time.time()))}


def _cancel(store: SqliteStore, args: argparse.Namespace) -> dict[str, Any]:
    return {"Session": mpa.status_view(mpa.cancel(store, args.session_arn, args.by, time.time()))}


_COMMANDS = {
    "create-team": _create_team,
    "delete-team": _delete_team,
    "add-member": _add_member,
    "remove-member": _remove_member,
    "set-approvals": _set_approvals,
    "list-teams": _list_teams,
    "list-sessions": _list_sessions,
    "approve": _approve,
    "reject": _reject,
    "cancel": _cancel,
}


def _team(store: SqliteStore, arn: str) -> Team:
    team = store.mpa.get_team(arn)
    if team is None:
        raise CliError(f"no team {arn}")
    return team


def _members(names: list[str]) -> tuple[str, ...]:
    for name in names:
        if not _MEMBER.match(name):
            raise CliError(f"member names are 1 to 64 letters, digits or +=,.@_-: {name!r}")
    if len(set(names)) != len(names):
        raise CliError("a member is named twice")
    return tuple(sorted(names))


def _check_quorum(approvals: int, members: tuple[str, ...]) -> None:
    if approvals < 1 or approvals > len(members):
        raise CliError(f"the approvals required must be between 1 and the number of members ({len(members)})")


def _team_view(team: Team) -> dict[str, Any]:
    return {
        "MpaTeamArn": team.arn,
        "Name": team.name,
        "Members": list(team.members),
        "ApprovalsRequired": team.approvals_required,
    }


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
