"""The fork server behind tests/api/cli.py answers as a separate `aws` process would, and no call
sees what an earlier one set."""

from __future__ import annotations

import os
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
