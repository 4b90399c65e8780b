"""Access keys and the principals they belong to, from a TOML credentials file.

With no file and the server bound to loopback, the well-known development pair `test`/`test`
is accepted as account 111122223333, the account the guide's examples use. A server on any
other address refuses to start without a file (see the CLI).

File format (documented in the README):

    [[users]]
    account = "111122223333"
    name = "alice"
    access_key_id = "AKIAEXAMPLEALICE0001"
    secret_access_key = "..."
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path

from paycrypt.auth.sigv4 import Credential

DEV_ACCOUNT = "111122223333"
DEV_ACCESS_KEY = "test"
DEV_SECRET = "test"


def user_id(access_key_id: str) -> str:
    """A stable IAM-style unique id (AIDA…) for a user, derived from its access key."""
    digest = hashlib.sha256(access_key_id.encode()).hexdigest().upper()
    return "AIDA" + digest[:17]


def dev_credentials() -> dict[str, Credential]:
    return {
        DEV_ACCESS_KEY: Credential(
            access_key_id=DEV_ACCESS_KEY,
            secret_access_key=DEV_SECRET,
            account_id=DEV_ACCOUNT,
            arn=f"arn:aws:iam::{DEV_ACCOUNT}:user/test",
            user_id=user_id(DEV_ACCESS_KEY),
        )
    }


def load(path: Path) -> dict[str, Credential]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    found: dict[str, Credential] = {}
    for index, entry in enumerate(data.get("users", [])):
        try:
            account, name = str(entry["account"]), entry["name"]
            access_key, secret = entry["access_key_id"], entry["secret_access_key"]
        except KeyError as exc:
            raise ValueError(f"{path}: users entry {index + 1} lacks {exc.args[0]}") from None
        if not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"{path}: users entry {index + 1}: account must be 12 digits")
        found[access_key] = Credential(
            access_key_id=access_key,
            secret_access_key=secret,
            account_id=account,
            arn=f"arn:aws:iam::{account}:user/{name}",
            user_id=user_id(access_key),
        )
    if not found:
        raise ValueError(f"{path}: no [[users]] entries")
    return found


class CredentialStore:
    def __init__(self, credentials: Mapping[str, Credential]) -> None:
        self._credentials = dict(credentials)

    def lookup(self, access_key_id: str) -> Credential | None:
        return self._credentials.get(access_key_id)
