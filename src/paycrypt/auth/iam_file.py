"""The credentials file as data: accounts' principals, their access keys and identity policies.

The file is TOML. Each `[[users]]` or `[[roles]]` entry is one principal of one account:

    [[users]]
    account = "111122223333"
    name = "alice"
    access_key_id = "AKIAEXAMPLEALICE0001"     # a first access key may sit on the entry itself
    secret_access_key = "alice-secret"

    [[users.access_keys]]                      # further keys (status "Active" or "Inactive")
    access_key_id = "AKIAEXAMPLEALICE0002"
    secret_access_key = "alice-second-secret"

    [[users.policies]]                         # identity policies: inline JSON ...
    name = "tag-scoped"
    document = '''{"Version": "2012-10-17", "Statement": [...]}'''

    [[users.policies]]                         # ... or a JSON file, relative to this file
    name = "readers"
    file = "policies/readers.json"

    [[users]]                                  # the account root user: no policy needed
    account = "111122223333"
    root = true
    access_key_id = "..."
    secret_access_key = "..."

    [[roles]]                                  # a role, used through its own access keys:
    account = "111122223333"                   # the caller is the session
    name = "Operator"                          # arn:aws:sts::<account>:assumed-role/Operator/<session>
    session_name = "paycrypt"                  # (default "paycrypt")
    [[roles.access_keys]]
    ...

The files of the first release (`[[users]]` with account, name, access_key_id and
secret_access_key only) are valid as they are. Unknown fields are refused so that a typo
(`polices = ...`) cannot silently leave a principal without its policy.

`IamFile.load` parses and checks the structure (not the policies' grammar: `credentials.load`
compiles those); `IamFile.dump` writes the canonical layout (comments are not kept) and
`save` replaces the file atomically with mode 0600 under an exclusive lock, for `paycrypt iam`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = re.compile(r"^\d{12}$")
NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ACCESS_KEY_ID = re.compile(r"^\w{1,128}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
STATUSES = ("Active", "Inactive")
DEFAULT_SESSION = "paycrypt"
ROOT_NAME = "root"

_PRINCIPAL_FIELDS = {
    "users": {"account", "name", "root", "access_key_id", "secret_access_key", "access_keys", "policies"},
    "roles": {
        "account",
        "name",
        "session_name",
        "access_key_id",
        "secret_access_key",
        "access_keys",
        "policies",
    },
}
_KEY_FIELDS = {"access_key_id", "secret_access_key", "status"}
_POLICY_FIELDS = {"name", "document", "file"}


class IamFileError(ValueError):
    """A credentials file that cannot be used; the message names the file and the entry."""


@dataclass
class AccessKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    status: str = "Active"


@dataclass
class PolicyEntry:
    name: str
    document: str | None = None  # inline JSON text
    file: str | None = None  # a path, relative to the credentials file's directory


@dataclass
class PrincipalEntry:
    kind: str  # "user" | "role"
    account: str
    name: str
    root: bool = False
    session_name: str = DEFAULT_SESSION
    access_keys: list[AccessKey] = field(default_factory=list)
    policies: list[PolicyEntry] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.root:
            return f"root of {self.account}"
        return f"{self.kind} {self.account}/{self.name}"

    def policy(self, name: str) -> PolicyEntry | None:
        return next((p for p in self.policies if p.name == name), None)


@dataclass
class IamFile:
    principals: list[PrincipalEntry] = field(default_factory=list)

    # --- reading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> IamFile:
        with path.open("rb") as handle:
            try:
                data = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise IamFileError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_data(data, str(path))

    @classmethod
    def from_data(cls, data: dict[str, Any], where: str) -> IamFile:
        unknown = set(data) - {"users", "roles"}
        if unknown:
            raise IamFileError(f"{where}: unknown section {sorted(unknown)[0]!r} (expected users, roles)")
        found = cls()
        for section, kind in (("users", "user"), ("roles", "role")):
            entries = data.get(section, [])
            if not isinstance(entries, list):
                raise IamFileError(f"{where}: {section} must be an array of tables ([[{section}]])")
            for index, entry in enumerate(entries):
                found.principals.append(
                    _principal(entry, kind, section, f"{where}: {section} entry {index + 1}")
                )
        found.check(where)
        return found

    def check(self, where: str) -> None:
        """Cross-entry rules: one principal per name, one owner per access key."""
        seen: set[tuple[str, str, str]] = set()
        keys: set[str] = set()
        for principal in self.principals:
            identity = (principal.kind, principal.account, ROOT_NAME if principal.root else principal.name)
            if identity in seen:
                raise IamFileError(f"{where}: {principal.label} is defined twice")
            seen.add(identity)
            for key in principal.access_keys:
                if key.access_key_id in keys:
                    raise IamFileError(f"{where}: access key {key.access_key_id} is defined twice")
                keys.add(key.access_key_id)

    # --- finding ---------------------------------------------------------------------------

    def find(self, kind: str, account: str, name: str | None, root: bool = False) -> PrincipalEntry | None:
        for principal in self.principals:
            if principal.kind != kind or principal.account != account:
                continue
            if (root and principal.root) or (not root and not principal.root and principal.name == name):
                return principal
        return None

    def owner_of(self, access_key_id: str) -> tuple[PrincipalEntry, AccessKey] | None:
        for principal in self.principals:
            for key in principal.access_keys:
                if key.access_key_id == access_key_id:
                    return principal, key
        return None

    # --- writing ---------------------------------------------------------------------------

    def dump(self) -> str:
        lines = [
            "# paycrypt credentials: principals, access keys and identity policies.",
            "# The format: docs/identity-and-access.md.",
            "# Written by `paycrypt iam`; keep this file private (mode 0600).",
        ]
        ordered = [p for p in self.principals if p.kind == "user"] + [
            p for p in self.principals if p.kind != "user"
        ]
        for principal in ordered:
            section = "users" if principal.kind == "user" else "roles"
            lines += ["", f"[[{section}]]", f"account = {_string(principal.account)}"]
            if principal.root:
                lines.append("root = true")
            else:
                lines.append(f"name = {_string(principal.name)}")
            if principal.kind == "role" and principal.session_name != DEFAULT_SESSION:
                lines.append(f"session_name = {_string(principal.session_name)}")
            for key in principal.access_keys:
                lines += [
                    "",
                    f"[[{section}.access_keys]]",
                    f"access_key_id = {_string(key.access_key_id)}",
                    f"secret_access_key = {_string(key.secret_access_key)}",
                ]
                if key.status != "Active":
                    lines.append(f"status = {_string(key.status)}")
            for policy in principal.policies:
                lines += ["", f"[[{section}.policies]]", f"name = {_string(policy.name)}"]
                if policy.file is not None:
                    lines.append(f"file = {_string(policy.file)}")
                else:
                    lines.append(f"document = {_document(policy.document or '')}")
        text = "\n".join(lines) + "\n"
        again = IamFile.from_data(tomllib.loads(text), "the rewritten file")  # never write what won't read
        if again.principals != ordered:
            raise IamFileError("internal error: the rewritten credentials file does not read back the same")
        return text

    def save(self, path: Path) -> None:
        """Replace the file atomically (temporary file, fsync, rename), mode 0600."""
        text = self.dump()
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            data = text.encode()
            while data:
                written = os.write(fd, data)
                data = data[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def editing(path: Path) -> Iterator[IamFile]:
    """Load (or start) the file under an exclusive lock, yield it, and save it if the block ends normally."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f".{path.name}.lock"
    lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        current = IamFile.load(path) if path.exists() else IamFile()
        yield current
        current.check(str(path))
        current.save(path)
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


# --- parsing helpers -------------------------------------------------------------------------


def _principal(entry: Any, kind: str, section: str, where: str) -> PrincipalEntry:
    if not isinstance(entry, dict):
        raise IamFileError(f"{where} must be a table")
    unknown = set(entry) - _PRINCIPAL_FIELDS[section]
    if unknown:
        raise IamFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    if "account" not in entry:
        raise IamFileError(f"{where} lacks account")
    account = str(entry["account"])
    if not ACCOUNT.match(account):
        raise IamFileError(f"{where}: account must be 12 digits")
    root = entry.get("root", False)
    if not isinstance(root, bool):
        raise IamFileError(f"{where}: root must be true or false")
    name = entry.get("name", ROOT_NAME if root else None)
    if name is None:
        raise IamFileError(f"{where} lacks name")
    if not isinstance(name, str) or not NAME.match(name):
        raise IamFileError(f"{where}: name must be 1 to 64 letters, digits or +=,.@_-")
    session = entry.get("session_name", DEFAULT_SESSION)
    if not isinstance(session, str) or not SESSION_NAME.match(session):
        raise IamFileError(f"{where}: session_name must be 2 to 64 letters, digits or +=,.@_-")
    principal = PrincipalEntry(kind, account, name, root, session)
    if "access_key_id" in entry or "secret_access_key" in entry:
        principal.access_keys.append(_access_key(entry, where, legacy=True))
    for index, raw in enumerate(_tables(entry.get("access_keys", []), f"{where}: access_keys")):
        principal.access_keys.append(
            _access_key(raw, f"{where}: access_keys entry {index + 1}", legacy=False)
        )
    for index, raw in enumerate(_tables(entry.get("policies", []), f"{where}: policies")):
        policy = _policy(raw, f"{where}: policies entry {index + 1}")
        if principal.policy(policy.name) is not None:
            raise IamFileError(f"{where}: policy {policy.name!r} is attached twice")
        principal.policies.append(policy)
    return principal


def _tables(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise IamFileError(f"{where} must be an array of tables")
    return value


def _access_key(raw: dict[str, Any], where: str, legacy: bool) -> AccessKey:
    if not legacy:
        unknown = set(raw) - _KEY_FIELDS
        if unknown:
            raise IamFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    for name in ("access_key_id", "secret_access_key"):
        if name not in raw:
            raise IamFileError(f"{where} lacks {name}")
        if not isinstance(raw[name], str) or not raw[name]:
            raise IamFileError(f"{where}: {name} must be a non-empty string")
    if not ACCESS_KEY_ID.match(raw["access_key_id"]):
        raise IamFileError(f"{where}: access_key_id must be letters, digits or _")
    status = raw.get("status", "Active") if not legacy else "Active"
    if status not in STATUSES:
        raise IamFileError(f"{where}: status must be Active or Inactive")
    return AccessKey(raw["access_key_id"], raw["secret_access_key"], status)


def _policy(raw: dict[str, Any], where: str) -> PolicyEntry:
    unknown = set(raw) - _POLICY_FIELDS
    if unknown:
        raise IamFileError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not POLICY_NAME.match(name):
        raise IamFileError(f"{where}: name must be 1 to 128 letters, digits or +=,.@_-")
    if ("document" in raw) == ("file" in raw):
        raise IamFileError(f"{where} ({name}) must have exactly one of document and file")
    value = raw.get("document", raw.get("file"))
    if not isinstance(value, str) or not value.strip():
        raise IamFileError(f"{where} ({name}): document or file must be a non-empty string")
    if "document" in raw:
        return PolicyEntry(name, document=value)
    return PolicyEntry(name, file=value)


# --- TOML writing helpers --------------------------------------------------------------------


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, once DEL is escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def _document(text: str) -> str:
    """Multi-line literal text when it can be, so the JSON stays readable in the file."""
    printable = all(c in "\n\t" or (c >= " " and c != "\x7f") for c in text)
    if printable and "'''" not in text and not text.endswith("'") and not text.startswith("'"):
        return "'''\n" + text + "'''" if "\n" in text else "'''" + text + "'''"
    return _string(text)
