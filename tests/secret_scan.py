"""After the whole test run: no clear key, PIN, PIN block, full PAN or secret access key in any
audit log or server log the tests produced (issue 8: "the audit log of a test run is complete
and clean").

What is looked for, and how it is known:

- **Secret access keys**: every `secret_access_key` of every credentials file the tests wrote
  (TOML files under the run's base temporary directory). The development pair's secret `test`
  is public by design (the start-up line prints it) and is not a finding.
- **Clear keys and PIN blocks**: the hex constants the test sources assign to names that say so
  (…KEY, KEK, BDK, IPEK, IK_…, IMK, CVK, PVK, PEK, ZPK, KPP, KBPK, PIN_BLOCK, …; not …_ID), 16
  hex digits or more, and every server's own master key (`master.key` of each data directory),
  in hex and base64.
- **Full PANs**: in audit events, any run of 13 to 19 digits (the audit masks 12 to 19; the 12
  digits of an account id are not a PAN); in server logs, the PAN constants of the test sources.
- **PINs**: a PIN can reach an audit event only through a member named for it, so any
  request/response member whose name contains "pin" holding a string of 4 to 12 digits is one
  (PIN members the model marks sensitive must read `*** Sensitive Data Redacted ***`).

Server logs: every `*.log` file under the base temporary directory (the `paycrypt serve`
processes' output) and the in-thread servers' records of the `paycrypt` logger, which
`start_server_log` sends, at DEBUG, to `paycrypt-server.log` in each worker's directory.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent
SERVER_LOG = "paycrypt-server.log"
DEV_SECRET = "test"

_HEX_CONSTANT = re.compile(
    r"^\s*([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=\s*(?:bytes\.fromhex\(\s*)?[\"']([0-9A-Fa-f]{16,})[\"']",
    re.MULTILINE,
)
_SECRET_NAME = re.compile(r"KEY|KEK|BDK|IPEK|^IK_|_IK_|IMK|CVK|PVK|PEK|ZPK|KPP|KBPK|PIN_?BLOCK|CLEAR|SECRET")
_PAN_CONSTANT = re.compile(r"[\"'](\d{13,19})[\"']")
_DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")
_PIN_VALUE = re.compile(r"^\d{4,12}$")


def known_secrets(tests: Path = TESTS) -> dict[str, str]:
    """Needle → what it is, from the test sources (keys, PIN blocks, PANs)."""
    found: dict[str, str] = {}
    for source in sorted(tests.rglob("*.py")):
        if source.name == Path(__file__).name:
            continue
        text = source.read_text(errors="replace")
        for name, value in _HEX_CONSTANT.findall(text):
            if _SECRET_NAME.search(name) and not name.endswith("_ID") and len(value) % 2 == 0:
                found.setdefault(value.upper(), f"clear key or PIN block {name} ({source.name})")
        for pan in _PAN_CONSTANT.findall(text):
            found.setdefault(pan, f"PAN constant ({source.name})")
    return found


def run_secrets(base: Path) -> dict[str, str]:
    """Needle → what it is, from what the run wrote: access key secrets and master keys."""
    found: dict[str, str] = {}
    for path in base.rglob("*.toml"):
        try:
            data = tomllib.loads(path.read_text(errors="replace"))
        except (tomllib.TOMLDecodeError, OSError):
            continue
        for secret in _secrets(data):
            if secret != DEV_SECRET and len(secret) >= 8:
                found.setdefault(secret, f"secret access key ({path.name})")
    for path in base.rglob("master.key"):
        key = path.read_bytes()
        if len(key) < 8:  # an empty or short file a start-up test planted: its hex would match anywhere
            continue
        found.setdefault(key.hex().upper(), "master key (hex)")
        found.setdefault(base64.b64encode(key).decode(), "master key (base64)")
    return found


def _secrets(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "secret_access_key" and isinstance(value, str):
                yield value
            else:
                yield from _secrets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secrets(item)


def audit_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("audit.jsonl*") if p.is_file())


def log_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.log") if p.is_file())


def scan(base: Path, tests: Path = TESTS) -> list[str]:
    """Every finding, as 'file:line: what' (the secret itself is never printed)."""
    needles = {needle.lower(): what for needle, what in {**known_secrets(tests), **run_secrets(base)}.items()}
    findings: list[str] = []
    for path in audit_files(base):
        findings += _scan_file(path, needles, audit=True)
    for path in log_files(base):
        findings += _scan_file(path, needles, audit=False)
    return findings


def _scan_file(path: Path, needles: dict[str, str], *, audit: bool) -> list[str]:
    text = path.read_text(errors="replace")
    folded = text.lower()

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    findings = []
    for needle, what in needles.items():
        at = folded.find(needle)
        while at != -1:
            if not _inside_longer_number(folded, at, needle):
                findings.append(f"{path}:{line_of(at)}: {what}")
            at = folded.find(needle, at + 1)
    if audit:
        for match in _DIGIT_RUN.finditer(text):
            findings.append(f"{path}:{line_of(match.start())}: a run of 13 to 19 digits (an unmasked PAN?)")
        for number, line in enumerate(text.splitlines(), 1):
            findings += [f"{path}:{number}: {what}" for what in _pin_members(line)]
    return findings


def _inside_longer_number(text: str, at: int, needle: str) -> bool:
    """A PAN constant inside a longer digit string is another value (a 24-digit AES DUKPT KSN
    begins with the test PAN 1234567890123456), not the PAN."""
    if not needle.isdigit():
        return False
    before = text[at - 1] if at > 0 else ""
    after = text[at + len(needle) : at + len(needle) + 1]
    return before.isdigit() or after.isdigit()


def _pin_members(line: str) -> Iterable[str]:
    try:
        event = json.loads(line)
    except ValueError:  # a torn line (tests of the reader write some): its text was scanned above
        return []
    found: list[str] = []
    for part in ("requestParameters", "responseElements"):
        _walk(event.get(part) if isinstance(event, dict) else None, part, found)
    return found


def _walk(node: Any, where: str, found: list[str]) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if "pin" in name.lower() and isinstance(value, str) and _PIN_VALUE.match(value):
                found.append(f"a clear PIN in {where}.{name}")
            _walk(value, f"{where}.{name}", found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, where, found)


# --- pytest wiring (tests/conftest.py) ---------------------------------------------------------------


def start_server_log(config: Any) -> None:
    """Send the in-thread servers' `paycrypt` log records, at DEBUG, to a file the scan reads."""
    base = config._tmp_path_factory.getbasetemp()
    handler = logging.FileHandler(base / SERVER_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("paycrypt")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def finish(session: Any) -> None:
    """In the controlling process (not an xdist worker), scan the whole run; a finding fails it."""
    config = session.config
    if hasattr(config, "workerinput") or session.testscollected == 0:
        return
    for handler in logging.getLogger("paycrypt").handlers:
        handler.flush()
    base = config._tmp_path_factory.getbasetemp()
    findings = scan(base)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    audits, logs = len(audit_files(base)), len(log_files(base))
    if findings:
        if reporter is not None:
            reporter.write_sep("=", f"secrets in audit or server logs: {len(findings)} finding(s)", red=True)
            for line in findings[:50]:
                reporter.write_line(line)
        session.exitstatus = 1
    elif reporter is not None:
        reporter.write_sep("-", f"secret scan: {audits} audit log(s) and {logs} server log(s) clean")
