"""The end-of-run secret scan (tests/secret_scan.py) finds what it is meant to find, and the
registry (tests/secret_registry.py) knows the secrets without being told.

Planted run directories, outside the run's own base directory: a credentials file, a master key,
an audit log and a server log; then a server's files made by the real store (database, WAL, SHM),
first clean, then with a leak in each.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psec
import pyemv
import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.crypto import keygen
from paycrypt.store.sqlite import SqliteStore
from tests import secret_registry, secret_scan
from tests.conftest import CVK_ATTRIBUTES

ACCOUNT = "111122223333"
SECRET = "planted-secret-0123456789"
MASTER = bytes(range(32))
CLEAN_EVENT = {
    "eventName": "GenerateCardValidationData",
    "requestParameters": {
        "key_identifier": "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop",
        "primary_account_number": "411111******1111",
        "pin_data_length": 4,
        "encrypted_pin_block": "*** Sensitive Data Redacted ***",
    },
    "responseElements": None,
    "recipientAccountId": "111122223333",
}


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Outside the run's base temporary directory, which the end-of-run scan reads."""
    with tempfile.TemporaryDirectory(prefix="secret-scan-") as name:
        yield Path(name)


def planted(tmp_path: Path, event: dict, log_line: str = "INFO purged key arn:aws:…") -> Path:
    base = tmp_path / "run"
    (base / "data").mkdir(parents=True)
    (base / "users.toml").write_text(
        '[[users]]\naccount = "111122223333"\nname = "a"\n'
        f'access_key_id = "K"\nsecret_access_key = "{SECRET}"\n'
    )
    (base / "data" / "master.key").write_bytes(MASTER)
    (base / "data" / "audit.jsonl").write_text(json.dumps(CLEAN_EVENT) + "\n" + json.dumps(event) + "\n")
    (base / "serve.log").write_text(log_line + "\n")
    return base


def test_a_clean_run_has_no_finding(tmp_path: Path) -> None:
    assert secret_scan.scan(planted(tmp_path, CLEAN_EVENT)) == []


def test_each_kind_of_leak_is_found(tmp_path: Path) -> None:
    leaky = {
        **CLEAN_EVENT,
        "requestParameters": {
            "primary_account_number": "4111111111111111",  # a full PAN
            "pin_offset": "1234",  # a PIN member in clear
            "note": "key 0123456789ABCDEFFEDCBA9876543210",  # a known test key (tests/api/known_keys.py)
        },
        "errorMessage": f"bad secret {SECRET}",
    }
    base = planted(tmp_path, leaky, log_line=f"DEBUG master {MASTER.hex()}")
    findings = "\n".join(secret_scan.scan(base))
    assert "a run of 13 to 19 digits" in findings
    assert "a clear PIN in requestParameters.pin_offset" in findings
    assert "clear key or PIN block" in findings
    assert "secret access key (users.toml)" in findings
    assert "serve.log:1: master key (hex)" in findings
    assert SECRET not in findings and MASTER.hex() not in findings.lower()  # never printed


def test_the_development_secret_is_not_a_finding(tmp_path: Path) -> None:
    base = planted(
        tmp_path, CLEAN_EVENT, "no credentials file: access key 'test' / secret 'test' is accepted"
    )
    (base / "dev.toml").write_text(
        '[[users]]\naccount = "111122223333"\nname = "t"\n'
        'access_key_id = "test"\nsecret_access_key = "test"\n'
    )
    assert secret_scan.scan(base) == []


# --- registration: secrets are known by passing through the code that handles them ------------------


def test_keys_pins_and_pans_register_as_the_tests_use_them() -> None:
    """Nothing is registered by hand: ciphers, MACs, psec, pyemv and the test helpers do it."""
    registry = secret_registry.REGISTRY
    aes_key, tdes_key, hmac_key, kbpk, wrapped, imk = (secrets.token_bytes(16) for _ in range(6))
    Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
    Cipher(TripleDES(tdes_key), modes.ECB()).encryptor()
    hmac.new(hmac_key, b"message", "sha256").digest()
    psec.tr31.wrap(kbpk, "D0000K0AB00E0000", wrapped)  # a key only wrapped, never used as a key
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, "5413123456784808", "00")  # derived in test code
    pan, pin = random_pan(), f"{secrets.randbelow(10**6):06d}"
    clear_block = psec.pinblock.encode_pinblock_iso_0(pin, pan)
    assert {aes_key, tdes_key, hmac_key, kbpk, wrapped, imk, icc_mk, clear_block} <= registry.keys.keys()
    assert pan in registry.pans and pin in registry.pins
    read_back = psec.tr31.unwrap(kbpk, psec.tr31.wrap(kbpk, "D0000K0AB00E0000", secrets.token_bytes(16)))[1]
    assert read_back in registry.keys  # an exported key, read back as a partner would


def test_nothing_that_would_be_found_everywhere_is_registered() -> None:
    registry = secret_registry.Registry()
    registry.add(secret_registry.KEY, bytes(16), "all zero")  # in every zero-filled page
    registry.add(secret_registry.KEY, b"\x11\x22" * 8, "two byte values")
    registry.add(secret_registry.KEY, secrets.token_bytes(7), "shorter than 8 bytes")
    registry.add(secret_registry.PAN, "41111111111", "11 digits")
    registry.add(secret_registry.PAN, "4" * 16, "one digit")
    registry.add(secret_registry.PIN, "123", "3 digits")
    registry.add(secret_registry.PIN, "12a4", "not digits")
    assert (registry.keys, registry.pans, registry.pins) == ({}, {}, {})


def test_request_and_response_bodies_register_pans_and_pins(data, cvk) -> None:
    pan = random_pan()
    data.generate_card_validation_data(
        KeyIdentifier=cvk,
        PrimaryAccountNumber=pan,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    )
    assert pan in secret_registry.REGISTRY.pans
    cli_pans = [random_pan(), random_pan()]
    secret_registry.register_cli_arguments(
        ["payment-cryptography-data", f"--primary-account-number={cli_pans[0]}", "--generation-attributes",
         json.dumps({"Pin": {"PrimaryAccountNumber": cli_pans[1], "PinOffset": "907135"}})],
        "aws CLI",
    )  # fmt: skip
    assert set(cli_pans) <= secret_registry.REGISTRY.pans.keys()
    assert "907135" in secret_registry.REGISTRY.pins


def random_pan() -> str:
    return "4" + "".join(str(secrets.randbelow(10)) for _ in range(15))


# --- the proof: a leak planted in each kind of file a server leaves is found ------------------------


@dataclass
class Leaks:
    """One registered secret for each kind of file, each in the form a leak there would take."""

    log_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))  # hex, in a server log
    audit_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # base64, in an audit event
    db_key: bytes = field(default_factory=lambda: secrets.token_bytes(24))  # raw bytes, in the database
    wal_pan: str = field(default_factory=random_pan)  # digits, in a WAL frame
    shm_pin: str = field(default_factory=lambda: f"{secrets.randbelow(10**4):04d}")  # after a PIN's name

    def registry(self) -> secret_registry.Registry:
        registry = secret_registry.Registry()
        for key in (self.log_key, self.audit_key, self.db_key):
            registry.add(secret_registry.KEY, key, "a planted key")
        registry.add(secret_registry.PAN, self.wal_pan, "a planted PAN")
        registry.add(secret_registry.PIN, self.shm_pin, "a planted PIN")
        return registry


def server_files(tmp_path: Path, leaks: Leaks | None) -> Path:
    """A server's files, made by the real store (database, WAL and SHM copied while it is open)."""
    base, live = tmp_path / "run", tmp_path / "live"
    data = base / "data"
    data.mkdir(parents=True)
    (data / "master.key").write_bytes(MASTER)
    store = SqliteStore(live / "paycrypt.db")
    arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop"
    store.put_tags(arn, [{"Key": "owner", "Value": "payments"}])
    if leaks:
        with store.transaction():
            store.put_resource_policy(arn, ACCOUNT, "us-east-1", json.dumps({"x": leaks.db_key.hex()}))
        store._db.execute("CREATE TABLE leak (material BLOB)")
        store._db.execute("INSERT INTO leak VALUES (?)", (leaks.db_key,))
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything so far into the database file
    store._db.execute("PRAGMA wal_autocheckpoint=0")
    value = f"card {leaks.wal_pan}" if leaks else "card 411111******1111"
    store.put_tags(arn, [{"Key": "note", "Value": value}])  # this one only in the WAL
    for name in ("paycrypt.db", "paycrypt.db-wal", "paycrypt.db-shm"):
        shutil.copyfile(live / name, data / name)
    store.close()
    if leaks:
        with (data / "paycrypt.db-shm").open("ab") as shm:
            shm.write(f'{{"PinOffset": "{leaks.shm_pin}"}}'.encode())
    event = dict(CLEAN_EVENT)
    if leaks:
        event["errorMessage"] = f"key {base64.b64encode(leaks.audit_key).decode()} refused"
    (data / "audit-node-w0-000001.jsonl").write_text(json.dumps(event) + "\n")
    log = f"DEBUG unwrapped {leaks.log_key.hex().upper()}" if leaks else "INFO purged a key"
    (base / "data-serve-8080.log").write_text(log + "\n")
    return base


def test_a_leak_in_each_kind_of_server_file_is_found(tmp_path: Path) -> None:
    leaks = Leaks()
    clean = server_files(tmp_path / "clean", None)
    assert secret_scan.scan(clean, registry=leaks.registry()) == []

    base = server_files(tmp_path / "leaky", leaks)
    findings = secret_scan.scan(base, registry=leaks.registry())
    by_file: dict[str, set[str]] = {}
    for finding in findings:
        path, _, what = finding.partition(": ")
        by_file.setdefault(Path(path.rsplit(":", 1)[0]).name, set()).add(what)
    assert by_file == {
        "data-serve-8080.log": {"clear key or PIN block: a planted key (hex)"},
        "audit-node-w0-000001.jsonl": {"clear key or PIN block: a planted key (base64)"},
        "paycrypt.db": {
            "clear key or PIN block: a planted key (raw)",
            "clear key or PIN block: a planted key (hex)",
        },
        "paycrypt.db-wal": {"a planted PAN"},
        "paycrypt.db-shm": {"a registered PIN after a PIN member's name"},
    }
    text = "\n".join(findings)
    for secret in (leaks.log_key.hex(), leaks.db_key.hex(), leaks.wal_pan):
        assert secret not in text.lower()  # never printed


def test_a_server_that_logs_every_new_key_is_caught(
    server, control, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defect issue 13 names: a server writing the clear key of each CreateKey to its log."""
    base = tmp_path / "run"
    base.mkdir()
    log = base / "leaky-serve.log"
    generate = keygen.generate

    def generate_and_log(algorithm: str) -> bytes:
        material = generate(algorithm)
        with log.open("a") as out:
            out.write(f"DEBUG new key material {material.hex()}\n")
        return material

    monkeypatch.setattr(keygen, "generate", generate_and_log)
    control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    monkeypatch.undo()
    findings = secret_scan.scan(base, registry=secret_registry.REGISTRY)
    assert findings and all("leaky-serve.log:1: clear key or PIN block" in f for f in findings), findings


def test_a_constant_of_the_source_is_not_registered_as_a_key() -> None:
    """Hypothesis draws the code's own constants (b"-----BEGIN" from crypto/certificates.py) as keys;
    registering one made every stored certificate a finding."""
    assert secret_registry.usable_key(b"-----BEGIN") is None
    assert secret_registry.usable_key(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")) is not None
