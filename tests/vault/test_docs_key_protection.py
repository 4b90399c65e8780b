"""docs/key-protection.md's set-up example, run as written on a SoftHSM2 token of its own (its own
SOFTHSM2_CONF, for the child processes only): the token, `paycrypt vault init`, `paycrypt vault
status`, and `paycrypt serve`, which then creates and uses a key through boto3."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import string
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.api.processes import PAYCRYPT, ServerProcess
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port
from tests.docs_pages import code_blocks, page, shell_commands
from tests.softhsm import SoftHsm

PAGE = "key-protection.md"


@pytest.mark.cli
def test_the_setup_example_runs(softhsm: SoftHsm, tmp_path: Path) -> None:
    [script] = [block for block in code_blocks(page(PAGE), "sh") if "paycrypt vault init" in block]
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf), "SO_PIN": secrets.token_hex(4)}
    env["USER_PIN"] = secrets.token_hex(8)
    env["PAYCRYPT_DATA_DIR"] = str(tmp_path / "data")
    outputs: dict[str, dict] = {}
    for command in shell_commands(script):
        words = shlex.split(string.Template(command).substitute(env))
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            env[name] = value
            continue
        if words[0] == "paycrypt":
            words[0] = str(PAYCRYPT)
        if words[1] == "serve":
            port = free_port()
            server = ServerProcess(tmp_path / "data", port, *words[2:], env=env)
            try:
                server.wait_listening()
                control = boto3.client(
                    "payment-cryptography",
                    endpoint_url=f"http://127.0.0.1:{port}",
                    region_name=REGION,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                )
                key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
                assert key["KeyCheckValue"]
            finally:
                server.stop()
            assert f"master key check value {outputs['init']['MasterKeyCheckValue']}" in server.log()
            assert env["USER_PIN"] not in server.log()
            assert not (tmp_path / "data" / "master.key").exists()
            continue
        done = subprocess.run(words, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
        if words[1] == "vault":
            outputs[words[2]] = json.loads(done.stdout)
    assert outputs["status"]["Vault"] == "pkcs11"
    assert outputs["status"]["MasterKeyCheckValue"] == outputs["init"]["MasterKeyCheckValue"]
    assert outputs["status"]["BlocksByVersion"] == []
