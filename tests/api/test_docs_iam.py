"""The identity-and-access page's examples (docs/identity-and-access.md) work as written.

The `paycrypt iam` commands of the two-principal, tag-scoped setup are read from the page and
run as they are (in process, against a fresh credentials file); a server started with the file
then behaves as the page says. The credentials-file example parses.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from paycrypt.auth.iam_file import IamFile
from paycrypt.cli.main import main
from paycrypt.server import Settings
from tests.api.helpers import expect_error
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port, serving
from tests.docs_pages import code_blocks, page, shell_commands

PAGE = "identity-and-access.md"
PAN = "4111111111111111"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}


def test_the_credentials_file_example_reads() -> None:
    [example] = code_blocks(page(PAGE), "toml")
    document = IamFile.from_data(tomllib.loads(example), PAGE)
    kinds = [(p.kind, p.root, p.name) for p in document.principals]
    assert kinds == [("user", False, "alice"), ("user", True, "root"), ("role", False, "Partner")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("paycrypt-docs-iam")
    credentials = base / "credentials.toml"
    script = next(b for b in code_blocks(page(PAGE), "sh") if "paycrypt iam create-user" in b)
    keys: dict[str, tuple[str, str]] = {}
    for command in shell_commands(script):
        words = shlex.split(command, comments=True)
        assert words[:2] == ["paycrypt", "iam"], command
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["iam", "--credentials", str(credentials), *words[2:]]) == 0, command
        if words[2] == "create-access-key":
            made = json.loads(out.getvalue())["AccessKey"]
            keys[made["UserName"]] = (made["AccessKeyId"], made["SecretAccessKey"])
    settings = Settings(port=free_port(), data_dir=base / "data", credentials_file=credentials)
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})

    def client(who: str, service: str = "payment-cryptography") -> Any:
        access_key, secret = keys[who]
        session = aws_session(access_key, secret, REGION)
        return session.client(service, endpoint_url=f"http://127.0.0.1:{settings.port}", config=config)

    with serving(settings):
        yield {"client": client}


def test_the_two_principal_tag_scoped_setup(setup: dict[str, Any]) -> None:
    admin, app = setup["client"]("admin"), setup["client"]("app", "payment-cryptography-data")
    project = [{"Key": "Project", "Value": "X"}]
    key = admin.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, Tags=project)["Key"]["KeyArn"]
    expect_error(
        admin.create_key,
        "AccessDeniedException",
        400,
        Exportable=True,
        KeyAttributes=CVK_ATTRIBUTES,
        Tags=[{"Key": "Project", "Value": "Y"}],
    )
    other = admin.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    value = app.generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )
    app.verify_card_validation_data(
        KeyIdentifier=key,
        PrimaryAccountNumber=PAN,
        VerificationAttributes=CVV2,
        ValidationData=value["ValidationData"],
    )
    expect_error(
        app.generate_card_validation_data,
        "AccessDeniedException",
        403,
        KeyIdentifier=other,
        PrimaryAccountNumber=PAN,
        GenerationAttributes=CVV2,
    )
    admin.tag_resource(ResourceArn=other, Tags=project)  # re-tagged into the project
    app.generate_card_validation_data(
        KeyIdentifier=other, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )
    app_control = setup["client"]("app")
    expect_error(
        app_control.untag_resource, "AccessDeniedException", 400, ResourceArn=key, TagKeys=["Project"]
    )
