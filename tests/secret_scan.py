"""After the whole test run: no clear key, PIN, full PAN or secret access key in any file a test
server left behind (issue 8: "the audit log of a test run is complete and clean"; issue 13: a scan
that can fail).

What is looked for:

- **Everything the tests handled** (tests/secret_registry.py): every clear key that passed through
  a cipher, a MAC or a test helper, every PIN and every full PAN, registered as the tests ran.
- **Secret access keys**: every `secret_access_key` of every credentials file the tests wrote
  (TOML files under the run's base temporary directory). The development pair's secret `test`
  is public by design (the start-up line prints it) and is not a finding.
- **Master keys**: every server's own `master.key`.
- **PKCS#11 PINs**: the user PIN of every SoftHSM2 token the run made (`user.pin`, tests/softhsm.py).
- **Constants of the test sources**: hex values assigned to names that say they are keys or PIN
  blocks (…KEY, KEK, BDK, IPEK, IMK, CVK, PVK, …; not …_ID), and quoted PANs.
- **In audit events**, as before: any run of 13 to 19 digits (the audit masks PANs; the 12 digits
  of an account id are not one), and any member named for a PIN holding 4 to 12 digits (PIN
  members the model marks sensitive must read `*** Sensitive Data Redacted ***`).

Where: every file a server leaves: the server logs (`*.log`: the `paycrypt serve` processes'
output, and the in-thread servers' `paycrypt` records, which `start_server_log` sends at DEBUG to
`paycrypt-server.log`), the audit files (`audit-*.jsonl`, and `audit.jsonl*` from before the
chain), the databases with their WAL and SHM (any SQLite file and its `-wal`, `-shm`, `-journal`
companions), and every other file in a server's data directory except `master.key` itself.

In which forms: a key raw, in hex (any case), in base64 and as Python prints bytes; a PAN as its
digits, not inside a longer number (a 24-digit AES DUKPT KSN begins with the test PAN
1234567890123456); a PIN, which is too short to look for alone, where a name of a PIN member
precedes it (`"PinOffset": "1234"`, `pin=1234`, `PIN 1234`), in text or in the database's text.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import secret_registry, softhsm
from tests.secret_registry import Registry

TESTS = Path(__file__).parent
SERVER_LOG = "paycrypt-server.log"
DEV_SECRET = "test"
PREFIX = 8  # every needle form is at least this long: keys ≥ 8 bytes, PANs ≥ 12 digits
SQLITE_MAGIC = b"SQLite format 3\x00"
STORE_SUFFIXES = ("-wal", "-shm", "-journal")
NEWLINE = b"\n"

_HEX_CONSTANT = re.compile(
    r"^\s*([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=\s*(?:bytes\.fromhex\(\s*)?[\"']([0-9A-Fa-f]{16,})[\"']",
    re.MULTILINE,
)
_SECRET_NAME = re.compile(r"KEY|KEK|BDK|IPEK|^IK_|_IK_|IMK|CVK|PVK|PEK|ZPK|KPP|KBPK|PIN_?BLOCK|CLEAR|SECRET")
_PAN_CONSTANT = re.compile(r"[\"'](\d{13,19})[\"']")
_DIGIT_RUN = re.compile(r"(?<!\d)\d{13,19}(?!\d)")
_PIN_VALUE = re.compile(r"^\d{4,12}$")
_ARN_ACCOUNT = re.compile(rb"arn:aws:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
# A PIN member's name (pin, PIN, pin_offset, PinOffset, EncryptedPinBlock…), a few separating
# characters, then 4 to 12 digits that are not the start of a hex value.
# Searched in the lower-cased file (a case-insensitive pattern is 7 times slower).
_NAMED_PIN = re.compile(rb"pin[a-z_]*[^0-9a-z\n]{1,6}(\d{4,12})(?![0-9a-f])")


# --- what is looked for --------------------------------------------------------------------------


@dataclass(frozen=True)
class Needle:
    form: bytes  # what is searched for
    what: str  # what it is, for the finding (the secret itself is never printed)
    digits: bool = False  # a PAN: not inside a longer number


def key_forms(key: bytes, what: str) -> list[Needle]:
    encoded = base64.b64encode(key).rstrip(b"=")
    if len(key) % 3:
        encoded = encoded[:-1]  # its last character depends on the bytes that follow the key
    forms = [
        Needle(key, f"{what} (raw)"),
        Needle(key.hex().encode(), f"{what} (hex)"),
        Needle(key.hex().upper().encode(), f"{what} (hex)"),
        Needle(encoded, f"{what} (base64)"),
    ]
    printed = repr(key)[2:-1].encode()
    if printed != key:
        forms.append(Needle(printed, f"{what} (as Python prints bytes)"))
    return forms


def needles(
    base: Path, tests: Path = TESTS, registry: Registry | None = None
) -> tuple[list[Needle], set[str]]:
    """Every needle for the run under `base`, and the registered PINs."""
    registry = registry or secret_registry.loaded(base)
    found: list[Needle] = []
    for key, what in registry.keys.items():
        found += key_forms(key, f"clear key or PIN block: {what}")
    for pan, what in registry.pans.items():
        found.append(Needle(pan.encode(), what, digits=True))
    for value, what in {**known_secrets(tests), **run_secrets(base)}.items():
        if re.fullmatch(r"\d+", value):
            found.append(Needle(value.encode(), what, digits=True))
        elif re.fullmatch(r"(?:[0-9A-F]{2})+", value):
            key = secret_registry.usable_key(bytes.fromhex(value))
            found += key_forms(key, what) if key else []
        else:
            found.append(Needle(value.encode(), what))
    return [n for n in found if len(n.form) >= PREFIX], set(registry.pins)


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
            if secret != DEV_SECRET and len(secret) >= PREFIX:
                found.setdefault(secret, f"secret access key ({path.name})")
    for path in base.rglob("master.key"):
        key = path.read_bytes()
        if len(key) >= PREFIX:  # not an empty or short file a start-up test planted
            found.setdefault(key.hex().upper(), "master key")
    for path in base.rglob(softhsm.PIN_FILE):
        pin = path.read_text().strip()
        if len(pin) >= PREFIX:
            found.setdefault(pin, "PKCS#11 user PIN")
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


# --- where ---------------------------------------------------------------------------------------


def audit_files(base: Path) -> list[Path]:
    found = {*base.rglob("audit.jsonl*"), *base.rglob("audit-*.jsonl")}  # before and after the chain
    return sorted(p for p in found if p.is_file())


def log_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.log") if p.is_file())


def store_files(base: Path) -> list[Path]:
    """SQLite databases (found by their header, whatever their name) and their companions."""
    found = set()
    for path in base.rglob("*"):
        if path.is_file() and _is_sqlite(path):
            found.add(path)
            found.update(c for c in (Path(f"{path}{s}") for s in STORE_SUFFIXES) if c.is_file())
    found.update(p for s in STORE_SUFFIXES for p in base.rglob(f"*.db{s}") if p.is_file())
    return sorted(found)


def data_dir_files(base: Path) -> list[Path]:
    """Every file of every server data directory (one holding master.key, or the store of a server on
    a PKCS#11 vault), but the master key itself."""
    found = set()
    for marker in (*base.rglob("master.key"), *base.rglob("paycrypt.db")):
        found.update(
            p
            for p in marker.parent.rglob("*")
            if p.is_file() and not p.name.lstrip(".").startswith("master.key")
        )
    return sorted(found)


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def server_files(base: Path) -> list[Path]:
    return sorted({*audit_files(base), *log_files(base), *store_files(base), *data_dir_files(base)})


# --- the search ----------------------------------------------------------------------------------


class Index:
    """The needles by the integer value of their first 8 bytes. A file is searched by reading every
    8-byte window, at each of the 8 alignments, as a machine word (in C, through memoryview.cast)
    and intersecting with the set of prefixes; only the few prefixes found are then located with
    find. (Hex is looked for in lower and in upper case, as every hex encoder writes one of them.)"""

    def __init__(self, found: Iterable[Needle]) -> None:
        self.table: dict[int, list[Needle]] = defaultdict(list)
        for needle in found:
            self.table[_word(needle.form)].append(needle)
        self.prefixes = set(self.table)

    def search(self, data: bytes) -> Iterator[tuple[int, Needle]]:
        # Zero-filled runs (most of a database file: free space) hold no needle: a key with 8 zero
        # bytes in a row would not be a key a test uses. Skipping them makes the search 4 to 5 times faster.
        content = b"\0".join(_ZERO_RUN.split(data))
        for prefix in _prefixes_in(content, self.prefixes):
            for needle in self.table[prefix]:
                at = data.find(needle.form)
                while at != -1:
                    if not (needle.digits and _inside_longer_number(data, at, len(needle.form))):
                        yield at, needle
                    at = data.find(needle.form, at + 1)


_ZERO_RUN = re.compile(rb"\0{8,}")


def _word(form: bytes) -> int:
    return int.from_bytes(form[:PREFIX], "little")


def _prefixes_in(data: bytes, prefixes: set[int]) -> set[int]:
    view = memoryview(data)
    found: set[int] = set()
    for offset in range(PREFIX):
        usable = (len(data) - offset) // PREFIX * PREFIX
        found |= prefixes.intersection(view[offset : offset + usable].cast("Q"))
    return found


def _inside_longer_number(data: bytes, at: int, length: int) -> bool:
    """A PAN inside a longer digit string is another value, not the PAN."""
    before = data[at - 1 : at] if at > 0 else b""
    after = data[at + length : at + length + 1]
    return before.isdigit() or after.isdigit()


def scan(base: Path, tests: Path = TESTS, registry: Registry | None = None) -> list[str]:
    """Every finding, as 'file:line: what' (the secret itself is never printed)."""
    found, pins = needles(base, tests, registry)
    contents = {path: path.read_bytes() for path in server_files(base)}
    # A 12-digit "PAN" a test made up can be an account id (Hypothesis draws the code's constants,
    # 111122223333 among them): those found in ARNs are account ids, not PANs.
    accounts = {match.decode() for data in contents.values() for match in _ARN_ACCOUNT.findall(data)}
    index = Index(n for n in found if not (n.digits and n.form.decode() in accounts))
    audits = set(audit_files(base))
    findings: list[str] = []
    for path, data in contents.items():
        findings += scan_file(path, data, index, pins, audit=path in audits)
    return findings


def scan_file(path: Path, data: bytes, index: Index, pins: set[str], *, audit: bool = False) -> list[str]:

    def where(offset: int) -> str:
        return f"{path}:{data.count(NEWLINE, 0, offset) + 1}"

    findings = [f"{where(at)}: {needle.what}" for at, needle in index.search(data)]
    for match in _NAMED_PIN.finditer(data.lower()):
        if match[1].decode() in pins:
            findings.append(f"{where(match.start())}: a registered PIN after a PIN member's name")
    if audit:
        text = data.decode("utf-8", "replace")
        for match in _DIGIT_RUN.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            findings.append(f"{path}:{line}: a run of 13 to 19 digits (an unmasked PAN?)")
        for number, line in enumerate(text.splitlines(), 1):
            findings += [f"{path}:{number}: {what}" for what in _pin_members(line)]
    return findings


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
    """Each process saves what it registered; the controlling one (not an xdist worker) then scans
    the whole run, and a finding fails it."""
    config = session.config
    base = config._tmp_path_factory.getbasetemp()
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    secret_registry.REGISTRY.save(base / f"{secret_registry.FILE_PREFIX}-{worker}.json")
    if hasattr(config, "workerinput") or session.testscollected == 0:
        return
    for handler in logging.getLogger("paycrypt").handlers:
        handler.flush()
    registry = secret_registry.loaded(base)
    findings = scan(base, registry=registry)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    files = len(server_files(base))
    if findings:
        if reporter is not None:
            reporter.write_sep(
                "=", f"secrets in files the test servers left: {len(findings)} finding(s)", red=True
            )
            for line in findings[:50]:
                reporter.write_line(line)
        session.exitstatus = 1
    elif reporter is not None:
        counts = f"{len(registry.keys)} keys, {len(registry.pans)} PANs, {len(registry.pins)} PINs"
        reporter.write_sep("-", f"secret scan: {files} server files clean of {counts} and the run's secrets")
