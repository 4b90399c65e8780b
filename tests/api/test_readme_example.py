"""The README's example runs as written, against `paycrypt serve` started as its quick start starts it.

The AWS CLI commands run one by one with the values they print put in for the README's
placeholders (`<KeyArn>`, `<value>`); the boto3 script runs whole. Only the port differs from the
README's: the test server listens on a free one.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from tests.api.cli import AwsCli
from tests.api.processes import ServerProcess
from tests.conftest import free_port
from tests.docs_pages import code_blocks, readme_section, shell_commands

pytestmark = pytest.mark.cli

README_ENDPOINT = "http://127.0.0.1:8443"


@pytest.fixture
def endpoint(tmp_path: Path, processes: list[ServerProcess]) -> str:
    """`paycrypt serve` on its defaults (loopback, no credentials file: test/test), a data dir of its own."""
    port = free_port()
    server = ServerProcess(tmp_path / "data", port)
    processes.append(server)
    server.wait_listening()
    return f"http://127.0.0.1:{port}"


def example(kind: str) -> str:
    [block] = code_blocks(readme_section("example"), kind)
    return block


def test_the_cli_example(endpoint: str, tmp_path: Path) -> None:
    commands = [shlex.split(command, comments=True) for command in shell_commands(example("sh"))]
    export, unset, *calls = commands
    assert export[0] == "export" and unset == ["unset", "AWS_SESSION_TOKEN"]
    env = dict(assignment.split("=", 1) for assignment in export[1:])
    assert env.pop("AWS_ENDPOINT_URL") == README_ENDPOINT
    aws = AwsCli(
        endpoint,
        tmp_path,
        region=env.pop("AWS_DEFAULT_REGION"),
        access_key=env.pop("AWS_ACCESS_KEY_ID"),
        secret=env.pop("AWS_SECRET_ACCESS_KEY"),
    )  # AwsCli unsets AWS_SESSION_TOKEN, as the README does
    assert not env, f"the README exports {env}, which the test does not set"
    printed: dict[str, str] = {}
    answers = []
    for words in calls:
        assert words[0] == "aws", words
        placeholders = {word for word in words if re.fullmatch(r"<\w+>", word)}
        assert placeholders <= printed.keys(), (
            f"{placeholders - printed.keys()} before any command printed it"
        )
        _, output, _ = aws(*(printed.get(word, word) for word in words[1:]))
        answers.append(output)
        if "Key" in output:
            printed["<KeyArn>"] = output["Key"]["KeyArn"]
        if "ValidationData" in output:
            printed["<value>"] = output["ValidationData"]
    create, generate, verify, delete, restore = answers
    assert create["Key"]["KeyState"] == "CREATE_COMPLETE"
    assert re.fullmatch(r"\d{3}", generate["ValidationData"])
    assert verify["KeyArn"] == printed["<KeyArn>"]
    assert delete["Key"]["KeyState"] == "DELETE_PENDING"
    assert restore["Key"]["KeyState"] == "CREATE_COMPLETE"


def test_the_boto3_example(endpoint: str) -> None:
    script = example("python")
    assert README_ENDPOINT in script
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script.replace(README_ENDPOINT, endpoint), "README.md", "exec"), {})  # our own README
    assert out.getvalue() == "111122223333\n"  # STS GetCallerIdentity: the development root user's account
