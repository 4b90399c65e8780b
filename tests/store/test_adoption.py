"""An SQLite data directory made by the code before versioned migrations is adopted as version 1
and brought to the latest version, every row intact (issue 15 item 12).

`release_0ebb762/` was written by the server of commit 0ebb762 (the last before migrations),
through boto3 and `paycrypt mpa`: two keys (a CVK with a tag, alias and resource policy, and an
AES key pending deletion), an unassigned alias, the import-token key pair and the service CA, and
an approval team. `paycrypt.sql` is its database (sqlite3 `iterdump`), `master.key.hex` its master
key, `expected.json` what it answered then.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from paycrypt.cli.main import main as paycrypt
from paycrypt.clock import ManualClock
from paycrypt.server import Settings
from paycrypt.store import migrations
from tests.conftest import RunningServer, free_port, start_server

FIXTURE = Path(__file__).parent / "release_0ebb762"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())
ACCOUNT, REGION = "111122223333", "us-east-1"


def restore(data_dir: Path) -> Path:
    data_dir.mkdir(mode=0o700)
    database = data_dir / "paycrypt.db"
    db = sqlite3.connect(database)
    db.executescript((FIXTURE / "paycrypt.sql").read_text())
    db.close()
    key = data_dir / "master.key"
    key.touch(mode=0o600)
    key.write_bytes(bytes.fromhex((FIXTURE / "master.key.hex").read_text()))
    return database


def test_the_fixture_predates_migrations(tmp_path: Path) -> None:
    db = sqlite3.connect(restore(tmp_path / "data"))
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert "schema_version" not in tables and "quota_counts" not in tables and "keys" in tables


def test_a_directory_from_before_migrations_is_adopted_and_served(tmp_path: Path, capsys) -> None:
    data_dir = tmp_path / "data"
    database = restore(data_dir)
    settings = Settings(port=free_port(), data_dir=data_dir, store=f"sqlite:{database}")
    uv, thread, app = start_server(
        settings, ManualClock(), run_vault=False
    )  # its master.key, whatever --vault
    try:
        server = RunningServer(f"http://127.0.0.1:{settings.port}", None, app, data_dir, settings)  # type: ignore[arg-type]
        control = server.client("payment-cryptography")
        data = server.client("payment-cryptography-data")
        key = control.get_key(KeyIdentifier="alias/cards")["Key"]
        assert (key["KeyArn"], key["KeyCheckValue"]) == (EXPECTED["cvk"], EXPECTED["cvk_kcv"])
        assert control.get_key(KeyIdentifier=EXPECTED["deleted"])["Key"]["KeyState"] == "DELETE_PENDING"
        assert control.list_tags_for_resource(ResourceArn=EXPECTED["cvk"])["Tags"] == [
            {"Key": "team", "Value": "cards"}
        ]
        assert json.loads(control.get_resource_policy(ResourceArn=EXPECTED["cvk"])["Policy"])["Statement"]
        verified = data.verify_card_validation_data(
            KeyIdentifier="alias/cards",
            PrimaryAccountNumber=EXPECTED["pan"],
            VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": EXPECTED["expiry"]}},
            ValidationData=EXPECTED["cvv2"],
        )
        assert verified["KeyCheckValue"] == EXPECTED["cvk_kcv"]
        # The counters migration 2 made are the rows' own: 2 keys, 2 aliases; a create adds one.
        control.create_alias(AliasName="alias/new")
        assert app.service.store.count_aliases(ACCOUNT, REGION) == 3
        assert app.service.store.count_keys(ACCOUNT, REGION) == 2
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
    db = sqlite3.connect(database)
    versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]
    db.close()
    assert versions == list(range(1, migrations.latest("sqlite") + 1))
    assert paycrypt(["mpa", "--data-dir", str(data_dir), "list-teams"]) == 0
    assert '"Name": "ops"' in capsys.readouterr().out
    assert paycrypt(["db", "version", "--data-dir", str(data_dir)]) == 0
    latest = migrations.latest("sqlite")
    assert f"schema version {latest}; this paycrypt's is {latest}" in capsys.readouterr().out
