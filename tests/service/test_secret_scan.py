"""The end-of-run secret scan (tests/secret_scan.py) finds what it is meant to find.

A planted run directory: a credentials file, a master key, an audit log and a server log, first
clean, then with each kind of leak the scan looks for.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import secret_scan

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
