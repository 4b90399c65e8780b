"""Multi-party approval tables in PostgreSQL: the `store.base.MpaTables` of `PostgresStore`.

On the store's connections and in its transaction (`run` is the store's: this thread's
transaction, or a statement alone), as `store/sqlite_mpa.py` is on SQLite's; nothing cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from paycrypt.store.records import Association, Session, Team

Run = Callable[[str, Sequence[Any]], tuple[list[tuple[Any, ...]], int]]

_SESSION_COLUMNS = ", ".join(
    (
        *("arn", "team_arn", "account", "region", "action", "kind", "subject", "status"),
        *("initiated", "finished", "message", "requester", "comment"),
    )
)
_SESSION_VALUES = ", ".join(["%s"] * 13)


class PostgresMpaTables:
    """Row access only; call the writers inside the store's transaction."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(sql, params)[0]

    # teams

    def put_team(self, team: Team) -> None:
        self._run(
            "INSERT INTO mpa_teams (arn, account, region, name, approvals_required, created)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (team.arn, team.account, team.region, team.name, team.approvals_required, team.created),
        )
        self._add_members(team.arn, team.members)

    def _add_members(self, arn: str, members: tuple[str, ...]) -> None:
        for member in members:
            self._run("INSERT INTO mpa_members (team_arn, member) VALUES (%s, %s)", (arn, member))

    def get_team(self, arn: str) -> Team | None:
        found = self._rows(
            "SELECT arn, account, region, name, approvals_required, created FROM mpa_teams WHERE arn = %s",
            (arn,),
        )
        if not found:
            return None
        members = tuple(
            m
            for (m,) in self._rows(
                'SELECT member FROM mpa_members WHERE team_arn = %s ORDER BY member COLLATE "C"', (arn,)
            )
        )
        return Team(*found[0], members=members)

    def list_teams(self) -> list[Team]:
        arns = [
            a for (a,) in self._rows('SELECT arn FROM mpa_teams ORDER BY account, region, name COLLATE "C"')
        ]
        return [team for arn in arns if (team := self.get_team(arn)) is not None]

    def set_members(self, arn: str, members: tuple[str, ...], approvals_required: int) -> None:
        self._run("UPDATE mpa_teams SET approvals_required = %s WHERE arn = %s", (approvals_required, arn))
        self._run("DELETE FROM mpa_members WHERE team_arn = %s", (arn,))
        self._add_members(arn, members)

    def delete_team(self, arn: str) -> None:
        self._run("DELETE FROM mpa_members WHERE team_arn = %s", (arn,))
        self._run("DELETE FROM mpa_teams WHERE arn = %s", (arn,))

    def teams_in_use(self, arn: str) -> bool:
        associated = self._rows(
            "SELECT 1 FROM mpa_associations WHERE team_arn = %s OR pending_team_arn = %s LIMIT 1", (arn, arn)
        )
        pending = self._rows(
            "SELECT 1 FROM mpa_sessions WHERE team_arn = %s AND status = 'PENDING' LIMIT 1", (arn,)
        )
        return bool(associated or pending)

    # associations

    def get_association(self, account: str, region: str, action: str) -> Association | None:
        found = self._rows(
            "SELECT account, region, action, team_arn, state, pending_team_arn, session_arn"
            " FROM mpa_associations WHERE account = %s AND region = %s AND action = %s",
            (account, region, action),
        )
        return Association(*found[0]) if found else None

    def put_association(self, association: Association) -> None:
        a = association
        self._run(
            "INSERT INTO mpa_associations"
            " (account, region, action, team_arn, state, pending_team_arn, session_arn)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account, region, action) DO UPDATE SET"
            " team_arn = excluded.team_arn, state = excluded.state,"
            " pending_team_arn = excluded.pending_team_arn, session_arn = excluded.session_arn",
            (a.account, a.region, a.action, a.team_arn, a.state, a.pending_team_arn, a.session_arn),
        )

    def delete_association(self, account: str, region: str, action: str) -> None:
        self._run(
            "DELETE FROM mpa_associations WHERE account = %s AND region = %s AND action = %s",
            (account, region, action),
        )

    # sessions and votes

    def put_session(self, session: Session) -> None:
        """Insert or replace; a replaced session moves to the end (a new seq), as on SQLite."""
        s = session
        updates = ", ".join(f"{c} = excluded.{c}" for c in _SESSION_COLUMNS.split(", ")[1:])
        self._run(
            f"INSERT INTO mpa_sessions ({_SESSION_COLUMNS}) VALUES ({_SESSION_VALUES})"
            " ON CONFLICT (arn) DO UPDATE SET"
            f" seq = nextval(pg_get_serial_sequence('mpa_sessions', 'seq')), {updates}",
            (
                *(s.arn, s.team_arn, s.account, s.region, s.action, s.kind, s.subject, s.status),
                *(s.initiated, s.finished, s.message, s.requester, s.comment),
            ),
        )

    def get_session(self, arn: str) -> Session | None:
        found = self._rows(f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions WHERE arn = %s", (arn,))
        return Session(*found[0]) if found else None

    def list_sessions(self, status: str | None = None) -> list[Session]:
        if status is None:
            found = self._rows(f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions ORDER BY seq")
        else:
            found = self._rows(
                f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions WHERE status = %s ORDER BY seq", (status,)
            )
        return [Session(*row) for row in found]

    def put_vote(self, session_arn: str, member: str, vote: str, at: float) -> None:
        self._run(
            "INSERT INTO mpa_votes (session_arn, member, vote, at) VALUES (%s, %s, %s, %s)",
            (session_arn, member, vote, at),
        )

    def votes(self, session_arn: str) -> dict[str, str]:
        return dict(self._rows("SELECT member, vote FROM mpa_votes WHERE session_arn = %s", (session_arn,)))
