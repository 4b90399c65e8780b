"""The credentials file (issue 8 item 1): principals, access keys, policies; `paycrypt iam`.

Called directly (no server): parsing and its refusals, the identities each kind of principal
gets, the canonical rewrite (atomic, mode 0600, read back the same), the admin CLI, and the
CredentialStore following the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import time
import tomllib
from pathlib import Path

import pytest

from paycrypt.auth import credentials as creds
from paycrypt.auth.iam_file import IamFile, IamFileError, PolicyEntry, PrincipalEntry
from paycrypt.cli.main import main

ALLOW_ALL = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- the format ------------------------------------------------------------------------------


def test_first_release_files_stay_valid(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.toml",
        '[[users]]\naccount = "111122223333"\nname = "alice"\n'
        'access_key_id = "AKIAEXAMPLEALICE0001"\nsecret_access_key = "alice-secret"\n',
    )
    [alice] = creds.load(path).values()
    assert alice.arn == "arn:aws:iam::111122223333:user/alice"
    assert alice.account_id == "111122223333"
    assert alice.user_id.startswith("AIDA") and len(alice.user_id) == 21
    assert alice.kind == "user" and alice.username == "alice" and alice.policies == ()


def test_users_roles_root_keys_and_policies(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write(tmp_path / "policies" / "read.json", ALLOW_ALL)
    path = write(
        tmp_path / "c.toml",
        f"""
[[users]]
account = "111122223333"
name = "alice"
[[users.access_keys]]
access_key_id = "AKIAALICE1"
secret_access_key = "s1"
[[users.access_keys]]
access_key_id = "AKIAALICE2"
secret_access_key = "s2"
[[users.access_keys]]
access_key_id = "AKIAALICEOLD"
secret_access_key = "s3"
status = "Inactive"
[[users.policies]]
name = "inline"
document = '{ALLOW_ALL}'
[[users.policies]]
name = "from-file"
file = "policies/read.json"

[[users]]
account = "111122223333"
root = true
access_key_id = "AKIAROOT"
secret_access_key = "r"

[[roles]]
account = "444455556666"
name = "Operator"
session_name = "ops"
access_key_id = "AKIAROLE"
secret_access_key = "o"
""",
    )
    found = creds.load(path)
    assert set(found) == {"AKIAALICE1", "AKIAALICE2", "AKIAROOT", "AKIAROLE"}  # the inactive key is not
    alice = found["AKIAALICE1"]
    assert found["AKIAALICE2"].arn == alice.arn and found["AKIAALICE2"].user_id == alice.user_id
    assert alice.policy_names == ("inline", "from-file") and len(alice.policies) == 2
    root = found["AKIAROOT"]
    assert (root.arn, root.user_id, root.kind) == ("arn:aws:iam::111122223333:root", "111122223333", "root")
    role = found["AKIAROLE"]
    assert role.arn == "arn:aws:sts::444455556666:assumed-role/Operator/ops"
    assert role.user_id.startswith("AROA") and role.user_id.endswith(":ops")
    assert role.kind == "role" and role.username is None


def test_the_development_principal_is_the_account_root() -> None:
    [dev] = creds.dev_credentials().values()
    assert dev.arn == "arn:aws:iam::111122223333:root" and dev.user_id == "111122223333"
    assert dev.root and dev.access_key_id == "test"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[users]]\naccount = "1"\nname = "a"\naccess_key_id = "K"\nsecret_access_key = "s"\n', "12 digits"),
        ('[[users]]\naccount = "111122223333"\naccess_key_id = "K"\nsecret_access_key = "s"\n', "lacks name"),
        ('[[users]]\naccount = "111122223333"\nname = "a"\naccess_key_id = "K"\n', "lacks secret_access_key"),
        ('[[users]]\naccount = "111122223333"\nname = "a"\npolices = []\n', "unknown field 'polices'"),
        ("[[groups]]\n", "unknown section 'groups'"),
        ("", "no [[users]] or [[roles]] entries"),
        ('[[users]]\naccount = "111122223333"\nname = "a"\n', "no active access keys"),
        (
            '[[users]]\naccount = "111122223333"\nname = "a"\naccess_key_id = "K"\nsecret_access_key = "s"\n'
            '[[users]]\naccount = "444455556666"\nname = "b"\naccess_key_id = "K"\nsecret_access_key = "t"\n',
            "access key K is defined twice",
        ),
        (
            '[[users]]\naccount = "111122223333"\nname = "a"\naccess_key_id = "K"\nsecret_access_key = "s"\n'
            '[[users.policies]]\nname = "p"\ndocument = "{}"\n',
            "policy 'p'",
        ),
        (
            '[[users]]\naccount = "111122223333"\nname = "a"\naccess_key_id = "K"\nsecret_access_key = "s"\n'
            '[[users.policies]]\nname = "p"\nfile = "missing.json"\n',
            "cannot read",
        ),
        ("[[users]\n", "not valid TOML"),
    ],
)
def test_files_that_will_not_do_are_refused_naming_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "c.toml", text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        creds.load(path)


def test_a_policy_with_a_principal_is_not_an_identity_policy(tmp_path: Path) -> None:
    document = '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}'
    path = write(
        tmp_path / "c.toml",
        '[[users]]\naccount = "111122223333"\nname = "a"\naccess_key_id = "K"\nsecret_access_key = "s"\n'
        f"[[users.policies]]\nname = \"p\"\ndocument = '{document}'\n",
    )
    with pytest.raises(IamFileError, match="cannot have a Principal"):
        creds.load(path)


# --- the rewrite -----------------------------------------------------------------------------


def test_dump_reads_back_the_same_whatever_the_text(tmp_path: Path) -> None:
    awkward = ["'''", "ends with '", "tab\there", "line\nbreak", 'quote " and \\ backslash', "é\x7f"]
    document = IamFile(
        [
            PrincipalEntry(
                "user",
                "111122223333",
                f"u{i}",
                policies=[PolicyEntry("p", document=text), PolicyEntry("f", file="x.json")],
            )
            for i, text in enumerate(awkward)
        ]
    )
    text = document.dump()
    assert IamFile.from_data(tomllib.loads(text), "t") == document


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    write(path, "")
    os.chmod(path, 0o644)
    IamFile([PrincipalEntry("user", "111122223333", "a")]).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["c.toml"]  # no temporary file left behind


# --- paycrypt iam --------------------------------------------------------------------------------


def iam(path: Path, *args: str) -> tuple[int, dict | None, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["iam", "--credentials", str(path), *args])
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else None, err.getvalue()


def test_iam_cli_creates_principals_keys_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    policy_file = write(tmp_path / "tagged.json", ALLOW_ALL)
    code, out, _ = iam(path, "create-user", "--account", "111122223333", "--name", "alice")
    assert code == 0 and out["User"]["Arn"] == "arn:aws:iam::111122223333:user/alice"
    code, out, _ = iam(path, "create-access-key", "--account", "111122223333", "--user", "alice")
    key_id, secret = out["AccessKey"]["AccessKeyId"], out["AccessKey"]["SecretAccessKey"]
    assert code == 0 and key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, _, _ = iam(
        path, "put-user-policy", "--account", "111122223333", "--user", "alice",
        "--policy-name", "all", "--policy-document", ALLOW_ALL,
    )  # fmt: skip
    assert code == 0
    code, _, _ = iam(
        path, "attach-policy", "--account", "111122223333", "--user", "alice",
        "--policy-name", "tagged", "--policy-file", str(policy_file),
    )  # fmt: skip
    assert code == 0
    iam(path, "create-role", "--account", "444455556666", "--name", "Operator")
    iam(path, "create-access-key", "--account", "444455556666", "--role", "Operator")
    iam(path, "create-user", "--account", "444455556666", "--root")
    code, listed, _ = iam(path, "list-users")
    assert code == 0
    [alice] = [u for u in listed["Users"] if u["UserName"] == "alice"]
    assert alice["AccessKeys"] == [{"AccessKeyId": key_id, "Status": "Active"}]
    assert [p["PolicyName"] for p in alice["Policies"]] == ["all", "tagged"]
    assert alice["Policies"][1]["File"] == "tagged.json"  # relative to the credentials file
    assert listed["Roles"][0]["Arn"] == "arn:aws:sts::444455556666:assumed-role/Operator/paycrypt"
    assert secret not in json.dumps(listed)  # a secret is shown once, by create-access-key
    loaded = creds.load(path)
    assert loaded[key_id].secret_access_key == secret and len(loaded[key_id].policies) == 2
    # update, detach, delete
    assert iam(path, "update-access-key", "--access-key-id", key_id, "--status", "Inactive")[0] == 0
    assert key_id not in creds.load(path)
    assert iam(path, "delete-user-policy", "--account", "111122223333", "--user", "alice",
               "--policy-name", "all")[0] == 0  # fmt: skip
    assert iam(path, "delete-access-key", "--access-key-id", key_id)[0] == 0
    assert iam(path, "delete-user", "--account", "111122223333", "--name", "alice")[0] == 0
    assert "alice" not in path.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create-user", "--account", "12", "--name", "x"), "12 digits"),
        (("create-user", "--account", "111122223333", "--name", "bad name"), "a name must be"),
        (("create-access-key", "--account", "111122223333", "--user", "nobody"), "no user nobody"),
        (("delete-access-key", "--access-key-id", "AKIANONE"), "no access key"),
        (
            (
                "put-user-policy",
                "--account",
                "111122223333",
                "--user",
                "alice",
                "--policy-name",
                "p",
                "--policy-document",
                '{"Statement": []}',
            ),
            "not a valid identity policy",
        ),
        (("create-user", "--account", "111122223333", "--name", "alice"), "already exists"),
    ],
)
def test_iam_cli_refusals_leave_the_file_alone(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    path = tmp_path / "credentials.toml"
    assert iam(path, "create-user", "--account", "111122223333", "--name", "alice")[0] == 0
    before = path.read_text()
    code, _, err = iam(path, *args)
    assert code == 1 and message in err
    assert path.read_text() == before


# --- the store follows the file ----------------------------------------------------------------


def test_credential_store_follows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(creds, "RELOAD_CHECK_SECONDS", 0.0)
    path = tmp_path / "credentials.toml"
    iam(path, "create-user", "--account", "111122223333", "--name", "alice")
    first = iam(path, "create-access-key", "--account", "111122223333", "--user", "alice")[1]
    store = creds.CredentialStore.from_file(path)
    assert store.lookup(first["AccessKey"]["AccessKeyId"]) is not None
    time.sleep(0.01)
    second = iam(path, "create-access-key", "--account", "111122223333", "--user", "alice")[1]
    assert store.lookup(second["AccessKey"]["AccessKeyId"]) is not None
    # A file that no longer reads keeps the last good one in force.
    path.write_text("[[users]\n")
    assert store.lookup(first["AccessKey"]["AccessKeyId"]) is not None
