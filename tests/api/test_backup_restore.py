"""Backup and restore end to end (issue 16, item 4), with the master key carried by split knowledge
(item 5): a server started here takes CreateKey and CVV2 calls through boto3 while `paycrypt backup`
runs; the master key goes out as three components; the data directory is destroyed; the key is
rebuilt with `paycrypt vault import-components` into a new place, the backup restored there with
`paycrypt restore`, and a server started on it. Every key is back with its KCV and its whole API
view, each computes the CVV2 it computed before, and aliases, tags, resource policies and
replication state are equal, and the import token made before the backup opens an ImportKey
after it. Then the refusals: a tampered backup, a vault holding another master
key, a store that is not empty; and the backup file holds no clear key (every block of it unsealed
here with the master key, and the file searched for each key in every encoding the end-of-run scan
knows).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from paycrypt.clock import ManualClock
from paycrypt.server import Settings
from paycrypt.store.records import KeyRecord
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault
from tests.api.known_keys import import_rsa_kek
from tests.api.processes import PAYCRYPT
from tests.api.replication_support import WEST, wait_synchronized
from tests.conftest import CVK_ATTRIBUTES, REGION, RunningServer, free_port, start_server
from tests.secret_scan import Index, key_forms

pytestmark = pytest.mark.cli  # runs the `paycrypt` command

PAN = "4111111111111111"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}
REGIONS = (REGION, WEST)
LOAD_THREADS = 2
LOAD_PAUSE = 0.02  # seconds between a thread's rounds: steady load
# Keys the load makes at most: enough to be caught mid-backup, and each is checked twice afterwards
# (its view and its CVV2 before and after), so a backup slowed by a loaded machine must not make
# the check grow with it. Past the cap the load goes on with CVV2 calls only.
MAX_CREATED = 60
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "payment-cryptography:GetKey",
            "Resource": "*",
        }
    ],
}


@contextmanager
def running(data_dir: Path) -> Iterator[RunningServer]:
    # SQLite, whatever the run's --store: the backup is SQLite's online backup of paycrypt.db.
    settings = Settings(
        port=free_port(),
        data_dir=data_dir,
        replication_interval=0.02,
        replication_retry=0.05,
        store=f"sqlite:{data_dir / 'paycrypt.db'}",
    )
    clock = ManualClock()
    # The file vault, whatever the run's --vault: its master key goes out and back as components.
    uv, thread, parts = start_server(settings, clock, run_vault=False)
    try:
        yield RunningServer(f"http://127.0.0.1:{settings.port}", clock, parts, data_dir, settings)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def paycrypt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAYCRYPT, *args], capture_output=True, text=True, timeout=120)


def cvv2(data: Any, arn: str) -> str:
    return data.generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def every_key(control: Any) -> dict[str, dict[str, Any]]:
    """Every key's full GetKey view, in every region served, by ARN."""
    views = {}
    for region in REGIONS:
        client = control[region]
        for page in client.get_paginator("list_keys").paginate():
            for listed in page["Keys"]:
                views[listed["KeyArn"]] = client.get_key(KeyIdentifier=listed["KeyArn"])["Key"]
    return views


def state_of(server: RunningServer, arns: list[str]) -> dict[str, Any]:
    """Aliases, tags, resource policies and default replication regions, as the API shows them."""
    control = server.client("payment-cryptography")
    policies = {}
    for arn in arns:
        try:
            policies[arn] = control.get_resource_policy(ResourceArn=arn)["Policy"]
        except control.exceptions.ResourceNotFoundException:
            policies[arn] = None
    return {
        "aliases": [a for page in control.get_paginator("list_aliases").paginate() for a in page["Aliases"]],
        "tags": {arn: control.list_tags_for_resource(ResourceArn=arn)["Tags"] for arn in arns},
        "policies": policies,
        "defaults": server.client("payment-cryptography", region=WEST).get_default_key_replication_regions()[
            "EnabledReplicationRegions"
        ],
    }


def set_up(server: RunningServer) -> tuple[list[str], dict[str, Any]]:
    """Keys with aliases, tags and a resource policy; two keys replicated to WEST (settled); default
    replication regions for keys made in WEST (so that the load's keys, made in REGION, replicate
    nowhere and the backup is taken with no replication pending); and an import token (a key
    pair kept apart from the keys, sealed as they are)."""
    control = server.client("payment-cryptography")
    token = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_3072"
    )
    arns = []
    for n in range(6):
        tags = [{"Key": "n", "Value": str(n)}, {"Key": "team", "Value": "issuing"}] if n % 2 else []
        arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, Tags=tags)["Key"]["KeyArn"]
        control.create_alias(AliasName=f"alias/backup-{n}", KeyArn=arn)
        arns.append(arn)
    control.create_alias(AliasName="alias/unassigned")
    control.put_resource_policy(ResourceArn=arns[0], Policy=json.dumps(POLICY))
    west = server.client("payment-cryptography", region=WEST)
    west.enable_default_key_replication_regions(ReplicationRegions=[REGION])
    for _ in range(2):
        created = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, ReplicationRegions=[WEST])
        wait_synchronized(control, created["Key"]["KeyArn"], [WEST], seconds=60)
        arns.append(created["Key"]["KeyArn"])
    return arns, token


class Load:
    """CreateKey and GenerateCardValidationData calls, as fast as the server answers, in threads."""

    def __init__(self, server: RunningServer, arns: list[str]) -> None:
        self.created: list[str] = []
        self.calls = 0
        self.errors: list[Exception] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._clients = [
            (server.client("payment-cryptography"), server.client("payment-cryptography-data"))
            for _ in range(LOAD_THREADS)
        ]
        self._arns = arns
        self._threads = [threading.Thread(target=self._run, args=pair) for pair in self._clients]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert self.errors == []

    def _run(self, control: Any, data: Any) -> None:
        n = 0
        try:
            while not self._stop.is_set():
                made = len(self.created) < MAX_CREATED
                if made:
                    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
                cvv2(data, self._arns[n % len(self._arns)])
                n += 1
                with self._lock:
                    if made:
                        self.created.append(arn)
                    self.calls += 1 + made
                self._stop.wait(LOAD_PAUSE)
        except Exception as exc:
            self.errors.append(exc)


def test_backup_under_load_then_restore_elsewhere_brings_every_key_back(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    backup = tmp_path / "backups" / "paycrypt.tar"
    backup.parent.mkdir()
    components_dir = tmp_path / "custodians"

    with running(first) as server:
        arns, token = set_up(server)
        with Load(server, arns) as load:
            while load.calls < 20:  # the load is running before the backup starts
                time.sleep(0.01)
            calls_before = load.calls
            taken = paycrypt("backup", "--to", str(backup), "--data-dir", str(first))
            calls_during = load.calls - calls_before
        assert taken.returncode == 0, taken.stderr
        assert calls_during > 0, "no call was served while the backup ran"
        control = {region: server.client("payment-cryptography", region=region) for region in REGIONS}
        data = server.client("payment-cryptography-data")
        before = every_key(control)
        before_cvv2 = {arn: cvv2(data, arn) for arn in before if f":{REGION}:" in arn}
        before_state = state_of(server, arns)
        exported = paycrypt(
            "vault",
            "export-components",
            "--count",
            "3",
            "--out",
            str(components_dir),
            "--data-dir",
            str(first),
        )
        assert exported.returncode == 0, exported.stderr

    with tarfile.open(backup) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    in_backup = manifest["counts"]["keys"]
    assert manifest["vault"]["kind"] == "file"
    assert manifest["counts"]["exchange_keys"] >= 1  # the import token's key pair (and the service CA)
    assert manifest["vault"]["master_key_kcv"] == LocalKeyFileVault(first / "master.key").key_id
    assert f"master key KCV {manifest['vault']['master_key_kcv']}" in taken.stdout

    shutil.rmtree(first)
    rebuilt = paycrypt(
        "vault", "import-components", "--data-dir", str(second), *map(str, components_dir.iterdir())
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    restored = paycrypt("restore", str(backup), "--data-dir", str(second))
    assert restored.returncode == 0, restored.stderr

    with running(second) as server:
        control = {region: server.client("payment-cryptography", region=region) for region in REGIONS}
        data = server.client("payment-cryptography-data")
        after = every_key(control)
        primaries = {arn for arn in after if f":{REGION}:" in arn}
        assert primaries == _key_arns(backup, tmp_path, REGION)  # exactly the backup's keys
        assert set(arns) <= primaries <= set(arns) | set(load.created)
        assert primaries & set(load.created), "no key made under load is in the backup"
        assert set(after) <= set(before)
        for arn, view in after.items():
            assert view == before[arn], arn  # KCV, state, attributes, timestamps, replication status
            if arn in before_cvv2:
                assert cvv2(data, arn) == before_cvv2[arn], arn
        assert primaries <= before_cvv2.keys()  # so every key of the backup computed its CVV2 again
        assert state_of(server, arns) == before_state
        assert before_state["policies"][arns[0]] is not None and len(before_state["aliases"]) == 7
        assert before_state["defaults"] == [REGION]
        import_rsa_kek(control[REGION], token)  # the import token's key pair came back too

    # --- refusals, each before anything is written -----------------------------------------------
    refusal_dir = tmp_path / "refused"
    tampered = refusal_dir / "tampered"
    tampered.mkdir(parents=True)
    shutil.copy2(second / "master.key", tampered / "master.key")  # the right key: only the file is wrong
    done = paycrypt("restore", str(_tampered(backup, tmp_path)), "--data-dir", str(tampered))
    assert done.returncode == 1 and "does not match its checksum" in done.stderr, done.stderr
    assert not (tampered / "paycrypt.db").exists()

    foreign = refusal_dir / "foreign-key"
    LocalKeyFileVault(foreign / "master.key")  # another master key
    done = paycrypt("restore", str(backup), "--data-dir", str(foreign))
    assert done.returncode == 1, done.stderr
    assert f"sealed under master key KCV {manifest['vault']['master_key_kcv']}" in done.stderr
    assert not (foreign / "paycrypt.db").exists()

    no_key = refusal_dir / "no-key"
    done = paycrypt("restore", str(backup), "--data-dir", str(no_key))
    assert done.returncode == 1 and "import-components" in done.stderr, done.stderr
    assert not (no_key / "master.key").exists() and not (no_key / "paycrypt.db").exists()

    rows_before = _rows(second)
    done = paycrypt("restore", str(backup), "--data-dir", str(second))
    assert done.returncode == 1 and "the store is not empty" in done.stderr, done.stderr
    assert _rows(second) == rows_before

    _assert_no_clear_key(backup, second / "master.key", in_backup)


def _key_arns(backup: Path, tmp_path: Path, region: str) -> set[str]:
    with tarfile.open(backup) as tar:
        tar.extract("store/paycrypt.db", tmp_path / "arns", filter="data")
    db = sqlite3.connect(tmp_path / "arns" / "store" / "paycrypt.db")
    try:
        return {arn for (arn,) in db.execute("SELECT arn FROM keys WHERE region = ?", (region,))}
    finally:
        db.close()


def _tampered(backup: Path, tmp_path: Path) -> Path:
    """The backup with one bit of its database changed, in place (the tar stays well formed)."""
    tampered = tmp_path / "tampered.tar"
    data = bytearray(backup.read_bytes())
    with tarfile.open(backup) as tar:
        member = tar.getmember("store/paycrypt.db")
    data[member.offset_data + member.size // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    return tampered


def _rows(data_dir: Path) -> list[tuple]:
    db = sqlite3.connect(data_dir / "paycrypt.db")
    try:
        return db.execute("SELECT arn, meta, key_block FROM keys ORDER BY seq").fetchall()
    finally:
        db.close()


def _assert_no_clear_key(backup: Path, master_key: Path, in_backup: int) -> None:
    with tarfile.open(backup) as tar:
        tar.extract("store/paycrypt.db", master_key.parent.parent / "scan", filter="data")
    db = sqlite3.connect(master_key.parent.parent / "scan" / "store" / "paycrypt.db")
    rows = db.execute(
        "SELECT meta, key_block FROM keys UNION ALL SELECT meta, key_block FROM exchange_keys"
    ).fetchall()
    db.close()
    vault = MasterKeyVault(master_key.read_bytes())
    clear = [
        vault.unseal(record, record.key_block)
        for record in (KeyRecord.from_json(json.loads(m), b) for m, b in rows)
    ]
    assert len(clear) >= in_backup
    needles = [needle for n, key in enumerate(clear) for needle in key_forms(key, f"key {n}")]
    needles += key_forms(master_key.read_bytes(), "the master key")
    index = Index(needles)
    content = backup.read_bytes()
    assert [needle.what for _, needle in index.search(content)] == []
    # the search finds a key that is there
    assert {needle.what for _, needle in index.search(content + clear[0].hex().encode())} == {"key 0 (hex)"}
