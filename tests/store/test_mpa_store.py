"""The approval tables are shared by the server and `paycrypt mpa` (another process) through one
SQLite database: a second store opened in a process must not break the first one's locks.

Regression: SqliteStore used to open and close the database file on every start (to create it
0600); closing any descriptor of a file drops all of the process's POSIX locks on it, so a
`paycrypt mpa` process then believed it was the last user, deleted the WAL under the live
connection, and the database was "malformed".
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from paycrypt.store.records import Team
from paycrypt.store.sqlite import SqliteStore


def team(i: int) -> Team:
    return Team(
        f"arn:aws:mpa:us-east-1:111122223333:approval-team/t{i}",
        "111122223333",
        "us-east-1",
        f"t{i}",
        1,
        0.0,
        ("a",),
    )


def test_a_second_store_and_another_process_leave_the_first_intact(tmp_path: Path) -> None:
    path = tmp_path / "paycrypt.db"
    server = SqliteStore(path)
    for i in range(20):
        with server.transaction():
            server.mpa.put_team(team(i))
    second = SqliteStore(path)  # as `paycrypt mpa` run in the server's own process (tests do)
    with second.transaction():
        second.mpa.put_team(team(100))
    second.close()
    script = (
        "import sys; from pathlib import Path; from paycrypt.store.sqlite import SqliteStore; "
        "s = SqliteStore(Path(sys.argv[1])); print(len(s.mpa.list_teams())); s.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "21"
    for i in range(20, 40):
        with server.transaction():
            server.mpa.put_team(team(i))
    assert len(server.mpa.list_teams()) == 41
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        check.close()
    server.close()
