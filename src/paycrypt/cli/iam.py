"""`paycrypt iam …`: principals, access keys and identity policies, without hand-editing the file.

Every command edits the credentials file (`--credentials FILE`, default
`<data-dir>/credentials.toml`, the file `paycrypt serve` reads by default) under an exclusive lock
and replaces it atomically with mode 0600; a running server picks the change up within a second.
Output is JSON, shaped like the AWS CLI's IAM output. A secret access key is printed once, by
create-access-key, and never again (list-users shows key ids and status only).

    paycrypt iam create-user --account 111122223333 --name alice
    paycrypt iam create-access-key --account 111122223333 --user alice
    paycrypt iam put-user-policy --account 111122223333 --user alice \
        --policy-name tag-scoped --policy-document file://tag-scoped.json
    paycrypt iam list-users
"""

from __future__ import annotations

import argparse
import json
import secrets
import string
import sys
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.auth import credentials as creds
from paycrypt.auth.iam_file import (
    ACCOUNT,
    NAME,
    POLICY_NAME,
    SESSION_NAME,
    AccessKey,
    IamFile,
    IamFileError,
    PolicyEntry,
    PrincipalEntry,
    editing,
)
from paycrypt.cli.errors import CliError
from paycrypt.policy.evaluation import PolicyError, parse_policy

FILE_NAME = "credentials.toml"
_KEY_ALPHABET = string.ascii_uppercase + "234567"


def add_iam_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `iam` to the `paycrypt` command's subparsers; run it with `run_iam(args)`."""
    parser = subparsers.add_parser("iam", help="manage principals, access keys and identity policies")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--credentials", type=Path, default=None, help="the credentials file to edit")
    where.add_argument(
        "--data-dir", type=Path, default=None, help=f"edit <data-dir>/{FILE_NAME} (the server's default file)"
    )
    commands = parser.add_subparsers(dest="iam_command", required=True)

    def command(name: str, help_text: str, *aliases: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, aliases=list(aliases))

    def account(p: argparse.ArgumentParser) -> None:
        p.add_argument("--account", required=True, help="12-digit account id")

    def who(p: argparse.ArgumentParser) -> None:
        account(p)
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", "--user-name", dest="user", help="an IAM user's name")
        group.add_argument("--role", "--role-name", dest="role", help="a role's name")
        group.add_argument("--root", action="store_true", help="the account's root user")

    def named_user(p: argparse.ArgumentParser) -> None:
        account(p)
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--name", "--user-name", dest="name")
        group.add_argument("--root", action="store_true")

    p = command("create-user", "add a user (or, with --root, the account's root user)")
    named_user(p)
    p = command("create-role", "add a role, used through access keys of its own")
    account(p)
    p.add_argument("--name", "--role-name", dest="name", required=True)
    p.add_argument(
        "--session-name", default="paycrypt", help="the session part of its ARN (default paycrypt)"
    )
    p = command("delete-user", "remove a user (or the root user), its access keys and policies")
    named_user(p)
    p = command("delete-role", "remove a role, its access keys and policies")
    account(p)
    p.add_argument("--name", "--role-name", dest="name", required=True)
    p = command("list-users", "list users and roles with their access key ids and policy names", "list-roles")
    p.add_argument("--account", default=None)
    p = command("create-access-key", "make a new access key; its secret is printed this once")
    who(p)
    p = command("delete-access-key", "remove an access key")
    p.add_argument("--access-key-id", required=True)
    p = command("update-access-key", "make an access key Active or Inactive")
    p.add_argument("--access-key-id", required=True)
    p.add_argument("--status", choices=["Active", "Inactive"], required=True)
    p = command(
        "put-user-policy",
        "attach an inline identity policy (replaces one of the same name)",
        "put-role-policy",
    )
    who(p)
    p.add_argument("--policy-name", required=True)
    p.add_argument("--policy-document", required=True, help="the JSON text, or file://PATH to read it from")
    p = command("attach-policy", "attach a policy file by reference (read when the server loads)")
    who(p)
    p.add_argument("--policy-name", required=True)
    p.add_argument("--policy-file", required=True, type=Path)
    p = command("delete-user-policy", "detach a policy by name", "delete-role-policy", "detach-policy")
    who(p)
    p.add_argument("--policy-name", required=True)
    return parser


def run_iam(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    path = args.credentials or Path(args.data_dir or defaults.data_dir()) / FILE_NAME
    command = _CANONICAL.get(args.iam_command, args.iam_command)
    try:
        if command == "list-users":
            result = _list(IamFile.load(path) if path.exists() else IamFile(), args.account)
        else:
            with editing(path) as document:
                result = _COMMANDS[command](document, args, path)
                creds.principals(document, path.parent, str(path))  # every policy must still compile
    except (IamFileError, OSError) as exc:
        raise CliError(str(exc)) from exc
    if result is not None:
        out.write(json.dumps(result, indent=2) + "\n")
    return 0


_CANONICAL = {
    "list-roles": "list-users",
    "put-role-policy": "put-user-policy",
    "delete-role-policy": "delete-user-policy",
    "detach-policy": "delete-user-policy",
}


# --- commands --------------------------------------------------------------------------------


def _create_user(document: IamFile, args: argparse.Namespace, _: Path) -> dict[str, Any]:
    _check_account(args.account)
    if args.root:
        if document.find("user", args.account, None, root=True) is not None:
            raise CliError(f"account {args.account} already has a root user")
        entry = PrincipalEntry("user", args.account, "root", root=True)
    else:
        _check_name(args.name)
        if document.find("user", args.account, args.name) is not None:
            raise CliError(f"user {args.name} already exists in account {args.account}")
        entry = PrincipalEntry("user", args.account, args.name)
    document.principals.append(entry)
    return {"User": _describe(entry)}


def _create_role(document: IamFile, args: argparse.Namespace, _: Path) -> dict[str, Any]:
    _check_account(args.account)
    _check_name(args.name)
    if not SESSION_NAME.match(args.session_name):
        raise CliError("--session-name must be 2 to 64 letters, digits or +=,.@_-")
    if document.find("role", args.account, args.name) is not None:
        raise CliError(f"role {args.name} already exists in account {args.account}")
    entry = PrincipalEntry("role", args.account, args.name, session_name=args.session_name)
    document.principals.append(entry)
    return {"Role": _describe(entry)}


def _delete_user(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    entry = _principal(document, "user", args.account, args.name, args.root)
    document.principals.remove(entry)


def _delete_role(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    entry = _principal(document, "role", args.account, args.name, False)
    document.principals.remove(entry)


def _create_access_key(document: IamFile, args: argparse.Namespace, _: Path) -> dict[str, Any]:
    entry = _selected(document, args)
    key = AccessKey(
        "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)), secrets.token_urlsafe(30)
    )
    entry.access_keys.append(key)
    return {
        "AccessKey": {
            **_owner(entry),
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "SecretAccessKey": key.secret_access_key,
        }
    }


def _delete_access_key(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    found = document.owner_of(args.access_key_id)
    if found is None:
        raise CliError(f"no access key {args.access_key_id}")
    found[0].access_keys.remove(found[1])


def _update_access_key(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    found = document.owner_of(args.access_key_id)
    if found is None:
        raise CliError(f"no access key {args.access_key_id}")
    found[1].status = args.status


def _put_policy(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    entry = _selected(document, args)
    text = args.policy_document
    if text.startswith("file://"):
        try:
            text = Path(text[7:]).expanduser().read_text()
        except OSError as exc:
            raise CliError(f"cannot read {text[7:]}: {exc.strerror}") from None
    _check_policy(args.policy_name, text)
    _attach(entry, PolicyEntry(args.policy_name, document=text))


def _attach_policy(document: IamFile, args: argparse.Namespace, path: Path) -> None:
    entry = _selected(document, args)
    policy_path = args.policy_file.expanduser()
    try:
        text = policy_path.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {policy_path}: {exc.strerror}") from None
    _check_policy(args.policy_name, text)
    stored = policy_path.resolve()
    try:
        reference = str(stored.relative_to(path.parent.resolve()))
    except ValueError:
        reference = str(stored)
    _attach(entry, PolicyEntry(args.policy_name, file=reference))


def _delete_policy(document: IamFile, args: argparse.Namespace, _: Path) -> None:
    entry = _selected(document, args)
    policy = entry.policy(args.policy_name)
    if policy is None:
        raise CliError(f"{entry.label} has no policy {args.policy_name}")
    entry.policies.remove(policy)


def _list(document: IamFile, account: str | None) -> dict[str, Any]:
    users, roles = [], []
    for entry in document.principals:
        if account is not None and entry.account != account:
            continue
        (users if entry.kind == "user" else roles).append(
            {
                **_describe(entry),
                "AccessKeys": [
                    {"AccessKeyId": k.access_key_id, "Status": k.status} for k in entry.access_keys
                ],
                "Policies": [
                    {"PolicyName": p.name, **({"File": p.file} if p.file is not None else {})}
                    for p in entry.policies
                ],
            }
        )
    return {"Users": users, "Roles": roles}


_COMMANDS = {
    "create-user": _create_user,
    "create-role": _create_role,
    "delete-user": _delete_user,
    "delete-role": _delete_role,
    "create-access-key": _create_access_key,
    "delete-access-key": _delete_access_key,
    "update-access-key": _update_access_key,
    "put-user-policy": _put_policy,
    "attach-policy": _attach_policy,
    "delete-user-policy": _delete_policy,
}


# --- helpers ---------------------------------------------------------------------------------


def _check_account(account: str) -> None:
    if not ACCOUNT.match(account):
        raise CliError("--account must be 12 digits")


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise CliError("a name must be 1 to 64 letters, digits or +=,.@_-")


def _check_policy(name: str, text: str) -> None:
    if not POLICY_NAME.match(name):
        raise CliError("--policy-name must be 1 to 128 letters, digits or +=,.@_-")
    try:
        parse_policy(text, "identity")
    except PolicyError as exc:
        raise CliError(f"policy {name} is not a valid identity policy: {exc}") from None


def _principal(document: IamFile, kind: str, account: str, name: str | None, root: bool) -> PrincipalEntry:
    _check_account(account)
    entry = document.find(kind, account, name, root=root)
    if entry is None:
        what = f"the root user of {account}" if root else f"{kind} {name} in account {account}"
        raise CliError(f"no {what}")
    return entry


def _selected(document: IamFile, args: argparse.Namespace) -> PrincipalEntry:
    if args.role is not None:
        return _principal(document, "role", args.account, args.role, False)
    return _principal(document, "user", args.account, args.user, bool(args.root))


def _attach(entry: PrincipalEntry, policy: PolicyEntry) -> None:
    existing = entry.policy(policy.name)
    if existing is not None:
        entry.policies[entry.policies.index(existing)] = policy
    else:
        entry.policies.append(policy)


def _owner(entry: PrincipalEntry) -> dict[str, str]:
    if entry.kind == "role":
        return {"RoleName": entry.name}
    return {"UserName": entry.name}


def _describe(entry: PrincipalEntry) -> dict[str, Any]:
    principal = creds.principal_identity(entry)
    key = "RoleName" if entry.kind == "role" else "UserName"
    return {key: entry.name, "Account": entry.account, "Arn": principal[1], "UserId": principal[2]} | (
        {"Root": True} if entry.root else {}
    )
