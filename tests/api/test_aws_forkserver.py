"""The fork server behind tests/api/cli.py answers as a separate `aws` process would, and no call
sees what an earlier one set."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.api import aws_forkserver
from tests.api.cli import AWS

pytestmark = pytest.mark.cli


def both(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], ...]:
    alone = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    return alone, aws_forkserver.run(argv, env, timeout=60)


def test_the_same_answer_as_an_aws_process(tmp_path) -> None:
    env = {**os.environ, "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_DEFAULT_REGION": "eu-west-2"}
    for argv in (
        [AWS, "--version"],
        [AWS, "configure", "list"],
        [AWS, "payment-cryptography", "no-such-operation"],  # a usage error: status 252
    ):
        alone, forked = both(argv, env)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            alone.returncode,
            alone.stdout,
            alone.stderr,
        ), argv
    assert "eu-west-2" in both([AWS, "configure", "list"], env)[1].stdout


def test_no_call_sees_an_earlier_calls_environment(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    region = "ap-south-1"
    first = aws_forkserver.run([AWS, "configure", "list"], {**env, "AWS_DEFAULT_REGION": region}, 60)
    assert first.returncode == 0 and region in first.stdout
    second = aws_forkserver.run([AWS, "configure", "list"], env, 60)
    assert second.returncode == 0 and region not in second.stdout  # as in a new process: no region


def test_a_call_past_its_timeout_is_killed_and_the_next_runs(tmp_path) -> None:
    env = {**os.environ, "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(subprocess.TimeoutExpired):
            aws_forkserver.run([AWS, "payment-cryptography", "list-keys", "--endpoint-url", endpoint], env, 2)
    after = aws_forkserver.run([AWS, "--version"], env, 60)
    assert after.returncode == 0 and after.stdout.startswith("aws-cli/")
