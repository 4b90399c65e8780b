"""The store's files are the owner's alone: key blocks are sealed, but aliases, tags and policies are not."""

from __future__ import annotations

import stat

from paycrypt.store.sqlite import SqliteStore


def test_database_and_journal_files_are_private(tmp_path) -> None:
    directory = tmp_path / "data"
    store = SqliteStore(directory / "paycrypt.db")
    store.put_tags(
        "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop",
        [{"Key": "a", "Value": "b"}],
    )
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert {f.name for f in files} >= {"paycrypt.db", "paycrypt.db-wal"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    store.close()
