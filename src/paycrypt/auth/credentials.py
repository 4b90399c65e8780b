"""Access keys and the principals they belong to, from a TOML credentials file.

The file's format is `paycrypt.auth.iam_file`'s (documented in docs/identity-and-access.md with an example):
users and roles of any number of accounts, each with access keys and identity policies, and at
most one root user per account.

Principals (decisions, docs/decisions/identity-and-access.md):

- A **user** is `arn:aws:iam::<account>:user/<name>`, user id `AIDA` + 17 characters derived
  from its ARN (stable across restarts and access keys), `aws:username` its name.
- A **role** is used through access keys of its own (paycrypt has no STS AssumeRole): the caller
  is the role session `arn:aws:sts::<account>:assumed-role/<name>/<session_name>`, user id
  `AROA…:<session_name>`, as GetCallerIdentity shows an assumed role on AWS; resource policies
  naming the role ARN match its sessions.
- The **root** user (`root = true`) is `arn:aws:iam::<account>:root`, user id the account id. It
  needs no policy: everything in its own account is allowed (explicit denies in a key's resource
  policy still apply), and in another account what that account's resource policies grant.
- A user or role with no policy may do nothing (IAM's default deny): every call but STS
  GetCallerIdentity answers AccessDeniedException.

With no file and the server bound to loopback, the well-known development pair `test`/`test`
is the **root user of account 111122223333** (the account the guide's examples use), so the
development default can do everything, as before policies existed. A server on any other
address refuses to start without a file (see the CLI).

`CredentialStore` re-reads the file when it changes (checked at most once a second, on lookup),
so `paycrypt iam` edits reach a running server; a file that no longer reads is logged and the
last good one stays in force.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from paycrypt.auth.iam_file import IamFile, IamFileError, PrincipalEntry
from paycrypt.auth.sigv4 import Credential
from paycrypt.policy.evaluation import Policy, PolicyError, parse_policy

log = logging.getLogger("paycrypt")

DEV_ACCOUNT = "111122223333"
DEV_ACCESS_KEY = "test"
DEV_SECRET = "test"
RELOAD_CHECK_SECONDS = 1.0

ROOT, USER, ROLE = "root", "user", "role"


@dataclass(frozen=True)
class Principal(Credential):
    """An access key's credential, with the principal behind it and its identity policies."""

    kind: str = USER  # root | user | role
    name: str = ""
    policies: tuple[Policy, ...] = ()
    policy_names: tuple[str, ...] = ()

    @property
    def root(self) -> bool:
        return self.kind == ROOT

    @property
    def username(self) -> str | None:
        """aws:username: IAM users only."""
        return self.name if self.kind == USER else None


def user_id(access_key_id: str) -> str:
    """A stable IAM-style unique id (AIDA…) derived from a string (formerly the access key)."""
    digest = hashlib.sha256(access_key_id.encode()).hexdigest().upper()
    return "AIDA" + digest[:17]


def principal_identity(entry: PrincipalEntry) -> tuple[str, str, str]:
    """(kind, arn, user id) of a file entry."""
    if entry.root:
        return ROOT, f"arn:aws:iam::{entry.account}:root", entry.account
    if entry.kind == "role":
        role_arn = f"arn:aws:iam::{entry.account}:role/{entry.name}"
        digest = hashlib.sha256(role_arn.encode()).hexdigest().upper()
        arn = f"arn:aws:sts::{entry.account}:assumed-role/{entry.name}/{entry.session_name}"
        return ROLE, arn, f"AROA{digest[:17]}:{entry.session_name}"
    arn = f"arn:aws:iam::{entry.account}:user/{entry.name}"
    return USER, arn, user_id(arn)


def dev_credentials() -> dict[str, Credential]:
    return {
        DEV_ACCESS_KEY: Principal(
            access_key_id=DEV_ACCESS_KEY,
            secret_access_key=DEV_SECRET,
            account_id=DEV_ACCOUNT,
            arn=f"arn:aws:iam::{DEV_ACCOUNT}:root",
            user_id=DEV_ACCOUNT,
            kind=ROOT,
            name="root",
        )
    }


def policy_files(document: IamFile, base: Path) -> list[Path]:
    """The policy files a document refers to (a change to one reloads the credentials)."""
    files = []
    for entry in document.principals:
        for policy in entry.policies:
            if policy.file is not None:
                path = Path(policy.file).expanduser()
                files.append(path if path.is_absolute() else base / path)
    return files


def principals(document: IamFile, base: Path, where: str) -> dict[str, Credential]:
    """Access key id → Principal for every active key of the file, with compiled policies."""
    found: dict[str, Credential] = {}
    for entry in document.principals:
        kind, arn, uid = principal_identity(entry)
        compiled = [_compile(entry, index, base, where) for index in range(len(entry.policies))]
        policies = tuple(policy for policy, _ in compiled)
        texts = " ".join(text for _, text in compiled).lower()
        names = tuple(p.name for p in entry.policies)
        for key in entry.access_keys:
            if key.status != "Active":
                continue
            found[key.access_key_id] = Principal(
                access_key_id=key.access_key_id,
                secret_access_key=key.secret_access_key,
                account_id=entry.account,
                arn=arn,
                user_id=uid,
                kind=kind,
                name=entry.name,
                policies=policies,
                policy_names=names,
                reads_tags="aws:resourcetag" in texts,  # whether any of its policies mentions them
                reads_aliases="resourcealiases" in texts,
            )
    return found


def _compile(entry: PrincipalEntry, index: int, base: Path, where: str) -> tuple[Policy, str]:
    policy = entry.policies[index]
    label = f"{where}: {entry.label}: policy {policy.name!r}"
    text = policy.document
    if policy.file is not None:
        path = Path(policy.file).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            text = path.read_text()
        except OSError as exc:
            raise IamFileError(f"{label}: cannot read {path}: {exc.strerror}") from None
    try:
        return parse_policy(text or "", "identity"), text or ""
    except PolicyError as exc:
        raise IamFileError(f"{label}: {exc}") from None


def load(path: Path) -> dict[str, Credential]:
    """Every active access key of the file; ValueError (naming the entry) for a file that won't do."""
    return _load(path)[0]


def _load(path: Path) -> tuple[dict[str, Credential], list[Path]]:
    document = IamFile.load(path)
    if not document.principals:
        raise IamFileError(f"{path}: no [[users]] or [[roles]] entries")
    found = principals(document, path.parent, str(path))
    if not found:
        raise IamFileError(f"{path}: no active access keys")
    return found, [path, *policy_files(document, path.parent)]


class CredentialStore:
    """Access key → Principal; follows the file it was loaded from (if any) when it changes."""

    def __init__(self, credentials: Mapping[str, Credential], path: Path | None = None) -> None:
        self._credentials = dict(credentials)
        self.path = path
        self._files: list[Path] = []
        if path is not None:
            try:
                self._files = _load(path)[1]
            except (OSError, ValueError):
                self._files = [path]
        self._stamp = _stamps(self._files)
        self._checked = time.monotonic()

    @classmethod
    def from_file(cls, path: Path) -> CredentialStore:
        """Load the file (errors raise) and follow it."""
        return cls(load(path), path)

    def lookup(self, access_key_id: str) -> Credential | None:
        if self.path is not None and time.monotonic() - self._checked >= RELOAD_CHECK_SECONDS:
            self.refresh()
        return self._credentials.get(access_key_id)

    def refresh(self) -> bool:
        """Re-read the file if it changed; whether the keys were replaced."""
        assert self.path is not None
        self._checked = time.monotonic()
        stamp = _stamps(self._files)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._credentials, self._files = _load(self.path)
            self._stamp = _stamps(self._files)
        except (OSError, ValueError) as exc:
            log.error("credentials file not reloaded, the previous one stays in force: %s", exc)
            return False
        log.info("credentials reloaded from %s (%d access keys)", self.path, len(self._credentials))
        return True


def _stamps(paths: list[Path]) -> tuple[tuple[int, int, int] | None, ...]:
    found = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(found)
