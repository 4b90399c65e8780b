"""Multi-party approval tables in SQLite: teams and members, associations, sessions and votes.

The SQLite implementation of `store.base.MpaTables`. They live in the store's own database, on
the store's connection, so a session and the key it protects change in one transaction
(`SqliteStore.transaction`). The server and `paycrypt mpa` (another process) both use them;
nothing here is cached, so each side sees the other's writes. The rules (quorum, who may vote,
what a settled session does) are `paycrypt.service.approval.mpa`'s.
"""

from __future__ import annotations

import sqlite3

from paycrypt.store.records import Association, Session, Team

_SESSION_COLUMNS = ", ".join(
    (
        *("arn", "team_arn", "account", "region", "action", "kind", "subject", "status"),
        *("initiated", "finished", "message", "requester", "comment"),
    )
)


class SqliteMpaTables:
    """Row access only; call the writers inside the store's transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db  # its tables are made by the store's migrations (store/migrations/sqlite/)

    # teams

    def put_team(self, team: Team) -> None:
        self._db.execute(
            "INSERT INTO mpa_teams (arn, account, region, name, approvals_required, created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (team.arn, team.account, team.region, team.name, team.approvals_required, team.created),
        )
        self._db.executemany(
            "INSERT INTO mpa_members (team_arn, member) VALUES (?, ?)", [(team.arn, m) for m in team.members]
        )

    def get_team(self, arn: str) -> Team | None:
        row = self._db.execute(
            "SELECT arn, account, region, name, approvals_required, created FROM mpa_teams WHERE arn = ?",
            (arn,),
        ).fetchone()
        if row is None:
            return None
        members = tuple(
            m
            for (m,) in self._db.execute(
                "SELECT member FROM mpa_members WHERE team_arn = ? ORDER BY member", (arn,)
            )
        )
        return Team(*row, members=members)

    def list_teams(self) -> list[Team]:
        arns = [a for (a,) in self._db.execute("SELECT arn FROM mpa_teams ORDER BY account, region, name")]
        return [team for arn in arns if (team := self.get_team(arn)) is not None]

    def set_members(self, arn: str, members: tuple[str, ...], approvals_required: int) -> None:
        self._db.execute(
            "UPDATE mpa_teams SET approvals_required = ? WHERE arn = ?", (approvals_required, arn)
        )
        self._db.execute("DELETE FROM mpa_members WHERE team_arn = ?", (arn,))
        self._db.executemany(
            "INSERT INTO mpa_members (team_arn, member) VALUES (?, ?)", [(arn, m) for m in members]
        )

    def delete_team(self, arn: str) -> None:
        self._db.execute("DELETE FROM mpa_members WHERE team_arn = ?", (arn,))
        self._db.execute("DELETE FROM mpa_teams WHERE arn = ?", (arn,))

    def teams_in_use(self, arn: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM mpa_associations WHERE team_arn = ? OR pending_team_arn = ? LIMIT 1", (arn, arn)
        ).fetchone()
        pending = self._db.execute(
            "SELECT 1 FROM mpa_sessions WHERE team_arn = ? AND status = 'PENDING' LIMIT 1", (arn,)
        ).fetchone()
        return row is not None or pending is not None

    # associations

    def get_association(self, account: str, region: str, action: str) -> Association | None:
        row = self._db.execute(
            "SELECT account, region, action, team_arn, state, pending_team_arn, session_arn"
            " FROM mpa_associations"
            " WHERE account = ? AND region = ? AND action = ?",
            (account, region, action),
        ).fetchone()
        return Association(*row) if row else None

    def put_association(self, association: Association) -> None:
        a = association
        self._db.execute(
            "INSERT OR REPLACE INTO mpa_associations"
            " (account, region, action, team_arn, state, pending_team_arn, session_arn)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (a.account, a.region, a.action, a.team_arn, a.state, a.pending_team_arn, a.session_arn),
        )

    def delete_association(self, account: str, region: str, action: str) -> None:
        self._db.execute(
            "DELETE FROM mpa_associations WHERE account = ? AND region = ? AND action = ?",
            (account, region, action),
        )

    # sessions and votes

    def put_session(self, session: Session) -> None:
        s = session
        self._db.execute(
            f"INSERT OR REPLACE INTO mpa_sessions ({_SESSION_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *(s.arn, s.team_arn, s.account, s.region, s.action, s.kind, s.subject, s.status),
                *(s.initiated, s.finished, s.message, s.requester, s.comment),
            ),
        )

    def get_session(self, arn: str) -> Session | None:
        row = self._db.execute(
            f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions WHERE arn = ?", (arn,)
        ).fetchone()
        return Session(*row) if row else None

    def list_sessions(self, status: str | None = None) -> list[Session]:
        if status is None:
            rows = self._db.execute(f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions ORDER BY seq").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM mpa_sessions WHERE status = ? ORDER BY seq", (status,)
            ).fetchall()
        return [Session(*row) for row in rows]

    def put_vote(self, session_arn: str, member: str, vote: str, at: float) -> None:
        self._db.execute(
            "INSERT INTO mpa_votes (session_arn, member, vote, at) VALUES (?, ?, ?, ?)",
            (session_arn, member, vote, at),
        )

    def votes(self, session_arn: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT member, vote FROM mpa_votes WHERE session_arn = ?", (session_arn,)
        ).fetchall()
        return dict(rows)
