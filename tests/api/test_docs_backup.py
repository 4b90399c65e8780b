"""The Key protection page's backup and split-knowledge commands (docs/key-protection.md) run as written,
with its example paths mapped to temporary directories: backup, restore into a new directory that
holds the master key (copied, as the page says), then the master key out as three components and
back into that directory (the same key: nothing to do)."""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from paycrypt.store.records import KeyRecord
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.local import LocalKeyFileVault
from tests.api.processes import PAYCRYPT
from tests.conftest import CVK_ATTRIBUTES
from tests.docs_pages import code_blocks, page, shell_commands

pytestmark = pytest.mark.cli  # runs the `paycrypt` command

PAGE = "key-protection.md"


def test_backup_and_component_commands_run_as_written(tmp_path: Path) -> None:
    source = tmp_path / "srv" / "paycrypt"
    vault = LocalKeyFileVault(source / "master.key")
    store = SqliteStore(source / "paycrypt.db")
    arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/docsbackupkey0001"
    record = KeyRecord(
        arn, "111122223333", "us-east-1", "docsbackupkey0001", CVK_ATTRIBUTES, "000000", "ANSI_X9_24",
        True, True, "CREATE_COMPLETE", "AWS_PAYMENT_CRYPTOGRAPHY", dt.datetime.now(dt.UTC), "",
    )  # fmt: skip
    record.key_block = vault.seal(record, bytes(range(1, 17)))
    store.insert_key(record)
    store.close()
    new = tmp_path / "srv" / "paycrypt-new"
    new.mkdir()
    shutil.copy2(source / "master.key", new / "master.key")
    (tmp_path / "backups").mkdir()
    for custodian in ("alice", "bob", "carol"):
        (tmp_path / "media" / custodian).mkdir(parents=True)

    text = page(PAGE)
    backup_block = next(b for b in code_blocks(text, "sh") if "paycrypt backup" in b)
    components_block = next(b for b in code_blocks(text, "sh") if "export-components" in b)
    for command in [*shell_commands(backup_block), *shell_commands(components_block)]:
        words = [_mapped(word, tmp_path) for word in shlex.split(command)]
        assert words[0] == "paycrypt"
        done = subprocess.run([PAYCRYPT, *words[1:]], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        if words[1] == "vault" and words[2] == "export-components":
            for n, custodian in enumerate(("alice", "bob", "carol"), start=1):  # each takes their own
                name = f"master-key-component-{n}-of-3.json"
                shutil.move(tmp_path / "media" / "ceremony" / name, tmp_path / "media" / custodian / name)

    restored = SqliteStore(new / "paycrypt.db")
    assert restored.get_key(arn) == record
    restored.close()
    assert (new / "master.key").read_bytes() == (source / "master.key").read_bytes()


def _mapped(word: str, root: Path) -> str:
    """An absolute example path of the page, under `root` instead."""
    return str(root / word.lstrip("/")) if word.startswith(("/srv/", "/backups/", "/media/")) else word
