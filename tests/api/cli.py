"""The real `aws` CLI (awscli from PyPI, installed beside the test interpreter), pointed at a server.

Each call runs `awscli.clidriver.main()`, what the `aws` script runs, in a child forked from a helper
that imported awscli once (tests/api/aws_forkserver.py): 1.2 s of CPU less per call. With
PAYCRYPT_TEST_AWS_SUBPROCESS=1 in the environment, each call is its own `aws` process instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import cli_marker
from tests.api import aws_forkserver

AWS = str(Path(sys.executable).with_name("aws"))


class AwsCli:
    """Runs `aws … --output json` with only the endpoint, credentials and region set, as a user would."""

    def __init__(
        self,
        endpoint: str,
        home: Path,
        region: str = "us-east-1",
        access_key: str = "test",
        secret: str = "test",
    ) -> None:
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_PAGER": "",
        }
        self.env.pop("AWS_SESSION_TOKEN", None)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [AWS, *args, "--output", "json"]
        if os.environ.get(aws_forkserver.FALLBACK_ENV) == "1":
            return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        cli_marker.check("aws")  # no Popen of `aws` for the marker's own check to see
        return aws_forkserver.run(argv, self.env, timeout=60)

    def __call__(self, *args: str, ok: bool = True) -> tuple[int, dict, str]:
        """(exit code, parsed JSON output, stderr); with ok, the command must succeed."""
        done = self.run(*args)
        if ok:
            assert done.returncode == 0, done.stderr
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr
