"""`paycrypt ceremony import-key` (issue 16 item 6) against a server started by the test.

Vectors:
- TDES: the three components of ID TECH's key-injection guide ("Combining components into keys":
  the ANSI test key 0123456789ABCDEFFEDCBA9876543210 XOR 988A59D7273186B8C9C9922B6D40BA75 XOR
  8936E5269ADFABE7D4829B2EFB3BF5D9 gives component 3, 109FF9963445E0B0E397B39DE02F7DBC). The
  key's check value 08D7B4 is the one the AWS Payment Cryptography user guide shows for that key
  in every EMV example (spec/seed-D §1). Each component's check value is computed here with
  `cryptography` (TDES-ECB of eight zero bytes), not with paycrypt.
- AES: the key of RFC 4493 / SP 800-38B (2B7E151628AED2A6ABF7158809CF4F3C) in two components;
  RFC 4493 §4 gives AES-128(K, 0) = 7DF76B0C…, which identifies the combined key, and its CMAC
  check value is computed here with `cryptography`'s CMAC.

The command runs on a pseudo-terminal as its controlling terminal, as custodians would run it:
what the terminal shows is read back and holds no component.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shlex
import socket
import subprocess
import termios
import threading
import time
from collections.abc import Sequence

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.cli import ceremony
from tests.api.processes import PAYCRYPT
from tests.docs_pages import code_blocks, page, shell_commands

TDES_COMPONENTS = (
    "988A59D7273186B8C9C9922B6D40BA75",
    "8936E5269ADFABE7D4829B2EFB3BF5D9",
    "109FF9963445E0B0E397B39DE02F7DBC",
)
TDES_KEY = "0123456789ABCDEFFEDCBA9876543210"
TDES_KCV = "08D7B4"
AES_KEY = "2B7E151628AED2A6ABF7158809CF4F3C"
AES_ZERO_BLOCK = "7DF76B0C1AB899B33E42F047B91B546F"  # RFC 4493 §4: AES-128(K, 0^128)
AES_COMPONENTS = ("5A5A5A5A5A5A5A5A0123456789ABCDEF",)  # the second is the key XOR this one

pytestmark = pytest.mark.cli  # runs the `paycrypt` command (tests/cli_marker.py)


def tdes_kcv(hex_key: str) -> str:
    encryptor = Cipher(TripleDES(bytes.fromhex(hex_key)), modes.ECB()).encryptor()
    return (encryptor.update(bytes(8)) + encryptor.finalize())[:3].hex().upper()


def aes_cmac_kcv(hex_key: str) -> str:
    mac = cmac.CMAC(algorithms.AES(bytes.fromhex(hex_key)))
    mac.update(bytes(16))
    return mac.finalize()[:3].hex().upper()


def xor_hex(*values: str) -> str:
    out = bytes(len(values[0]) // 2)
    for value in values:
        out = bytes(a ^ b for a, b in zip(out, bytes.fromhex(value), strict=True))
    return out.hex().upper()


def aes_components() -> tuple[str, str]:
    return AES_COMPONENTS[0], xor_hex(AES_KEY, AES_COMPONENTS[0])


def test_the_vectors_hold() -> None:
    """The published relations the tests lean on, checked with `cryptography` alone."""
    assert xor_hex(*TDES_COMPONENTS) == TDES_KEY and tdes_kcv(TDES_KEY) == TDES_KCV
    encryptor = Cipher(algorithms.AES(bytes.fromhex(AES_KEY)), modes.ECB()).encryptor()
    assert encryptor.update(bytes(16)).hex().upper() == AES_ZERO_BLOCK
    assert xor_hex(*aes_components()) == AES_KEY


ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _controlling_terminal() -> None:
    """In the child: a session of its own, with the pty (its stdin) as controlling terminal, so
    getpass's /dev/tty is the custodians' terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Session:
    """The command on a pseudo-terminal: answer prompts as custodians would, keep all it shows."""

    def __init__(self, endpoint: str, args: Sequence[str]) -> None:
        self.controller, terminal = pty.openpty()
        self.child = subprocess.Popen(
            [str(PAYCRYPT), "ceremony", "import-key", "--endpoint-url", endpoint, *args],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, **ENV},
            preexec_fn=_controlling_terminal,
            text=True,
        )
        os.close(terminal)
        self.shown = ""

    def answer(self, prompt: str, line: str) -> None:
        deadline = time.monotonic() + 60
        while prompt not in self.shown:
            assert time.monotonic() < deadline, f"no prompt {prompt!r} in:\n{self.shown}"
            self._read(0.2)
        self.shown = self.shown.replace(prompt, f"<{prompt}>", 1)  # answered: the next one is new
        os.write(self.controller, line.encode() + b"\r")

    def finish(self) -> tuple[int, str]:
        out, _ = self.child.communicate(timeout=60)
        while self._read(0.2):
            pass
        os.close(self.controller)
        return self.child.returncode, out

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.controller], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.shown += chunk.decode(errors="replace")
        return bool(chunk)


KEK_ARGS = (
    "--key-usage",
    "TR31_K0_KEY_ENCRYPTION_KEY",
    *("--mode", "Encrypt", "--mode", "Decrypt", "--mode", "Wrap", "--mode", "Unwrap"),
)


def documented_arguments() -> list[str]:
    """The ceremony's options as docs/operations.md gives them (its endpoint is the test's)."""
    [command] = [
        c for b in code_blocks(page("operations.md"), "sh") for c in shell_commands(b) if "ceremony" in c
    ]
    words = shlex.split(command)
    assert words[0].startswith("AWS_ENDPOINT_URL=") and words[1:4] == ["paycrypt", "ceremony", "import-key"]
    return words[4:]


def test_three_custodians_load_the_tdes_key_and_nothing_echoes(server, control) -> None:
    """As docs/operations.md runs it: three custodians, a TDES KEK."""
    session = Session(server.endpoint, documented_arguments())
    for number, component in enumerate(TDES_COMPONENTS, start=1):
        session.answer(f"Component {number} of 3 (hex, not shown): ", component)
        session.answer(f"Check value of component {number}: ", tdes_kcv(component))
    session.answer("Type yes if it matches the key's record: ", "yes")
    status, out = session.finish()

    assert status == 0, session.shown
    assert f"the combined key's check value is {TDES_KCV}" in session.shown
    for component in TDES_COMPONENTS:  # never echoed: not in what the terminal showed
        assert component not in session.shown.upper() and component not in out
    assert TDES_KEY not in session.shown.upper() and TDES_KEY not in out
    arn = out.split()[1]
    key = control.get_key(KeyIdentifier=arn)["Key"]
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"], key["KeyOrigin"]) == (
        TDES_KCV,
        "ANSI_X9_24",
        "EXTERNAL",
    )
    service = server.parts.service
    assert service.keycache.material(service.store.get_key(arn)).hex().upper() == TDES_KEY
    events = [
        json.loads(line)
        for path in sorted(server.data_dir.glob("audit*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert events
    imported = [e for e in events if e["eventName"] == "ImportKey" and arn in json.dumps(e)]
    assert len(imported) == 1 and imported[0]["userIdentity"]["arn"] == "arn:aws:iam::111122223333:root"
    assert not any(c in json.dumps(events).upper() for c in (*TDES_COMPONENTS, TDES_KEY))


class Script:
    """A terminal whose custodians type from a list; what they were shown is kept."""

    def __init__(self, *typed: str) -> None:
        self.typed = list(typed)
        self.shown: list[str] = []

    def secret(self, prompt: str) -> str:
        self.shown.append(prompt)
        return self.typed.pop(0)

    ask = secret

    def say(self, text: str) -> None:
        self.shown.append(text)


def request(algorithm: str, **changes: object) -> ceremony.Request:
    base = dict(
        algorithm=algorithm,
        usage="TR31_K0_KEY_ENCRYPTION_KEY",
        modes=("Encrypt", "Decrypt", "Wrap", "Unwrap"),
        exportable=True,
        endpoint=None,
        region="us-east-1",
        root_fingerprint=None,
    )
    return ceremony.Request(**{**base, **changes})  # type: ignore[arg-type]


def test_two_custodians_load_the_aes_key(server, control) -> None:
    first, second = aes_components()
    terminal = Script(first, aes_cmac_kcv(first), second, aes_cmac_kcv(second).lower(), "yes")
    key = ceremony.ceremony(request("AES_128"), 2, terminal, client=lambda r: control)
    assert key["KeyCheckValue"] == aes_cmac_kcv(AES_KEY) and key["KeyCheckValueAlgorithm"] == "CMAC"
    assert f"the combined key's check value is {aes_cmac_kcv(AES_KEY)}" in terminal.shown
    service = server.parts.service
    material = service.keycache.material(service.store.get_key(key["KeyArn"]))
    encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()
    assert encryptor.update(bytes(16)).hex().upper() == AES_ZERO_BLOCK  # RFC 4493's key
    assert not any(AES_KEY in line.upper() or first in line or second in line for line in terminal.shown)


def test_a_pinned_root_must_match(server, control) -> None:
    first, second = aes_components()
    terminal = Script(first, aes_cmac_kcv(first), second, aes_cmac_kcv(second), "yes")
    with pytest.raises(ceremony.CeremonyError, match="the root is not"):
        ceremony.ceremony(
            request("AES_128", root_fingerprint="00" * 32), 2, terminal, client=lambda r: control
        )
    shown = next(line for line in terminal.shown if "fingerprint is" in line).split()[-1]
    terminal = Script(first, aes_cmac_kcv(first), second, aes_cmac_kcv(second), "yes")
    pinned = ":".join(shown[i : i + 2] for i in range(0, len(shown), 2)).lower()
    key = ceremony.ceremony(
        request("AES_128", root_fingerprint=pinned), 2, terminal, client=lambda r: control
    )
    assert key["KeyCheckValue"] == aes_cmac_kcv(AES_KEY)


class Listener:
    """A TCP port that counts connections: where a refused ceremony must not have connected."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections = 0
        self.socket.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.socket.close()


def test_a_wrong_component_check_value_is_refused_before_anything_is_sent() -> None:
    listener = Listener()
    try:
        session = Session(listener.endpoint, ("--components", "3", "--key-algorithm", "TDES_2KEY", *KEK_ARGS))
        session.answer("Component 1 of 3 (hex, not shown): ", TDES_COMPONENTS[0])
        session.answer("Check value of component 1: ", tdes_kcv(TDES_COMPONENTS[0]))
        session.answer("Component 2 of 3 (hex, not shown): ", TDES_COMPONENTS[1][:-1] + "4")  # mistyped
        session.answer("Check value of component 2: ", tdes_kcv(TDES_COMPONENTS[1]))
        status, out = session.finish()
    finally:
        listener.close()
    assert status == 1 and out == ""
    assert f"component 2's check value is not {tdes_kcv(TDES_COMPONENTS[1])}" in session.shown
    assert "Component 3" not in session.shown  # stopped at once
    assert listener.connections == 0


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        (("12345",), "32 hex digits, not 5"),
        (("XY" * 16,), "hex digits only"),
        (
            (
                TDES_COMPONENTS[0],
                tdes_kcv(TDES_COMPONENTS[0]),
                TDES_COMPONENTS[1],
                tdes_kcv(TDES_COMPONENTS[1]),
                "no",
            ),
            "not confirmed",
        ),
    ],
)
def test_refusals_send_nothing(typed: tuple[str, ...], refusal: str) -> None:
    def no_client(r: ceremony.Request) -> object:
        raise AssertionError("a client was made")

    with pytest.raises(ceremony.CeremonyError, match=refusal):
        ceremony.ceremony(request("TDES_2KEY"), 2, Script(*typed), client=no_client)


def test_components_from_a_pipe_are_refused(server) -> None:
    done = subprocess.run(
        [str(PAYCRYPT), "ceremony", "import-key", "--endpoint-url", server.endpoint, "--components", "2",
         "--key-algorithm", "TDES_2KEY", *KEK_ARGS],
        input="\n".join((TDES_COMPONENTS[0], tdes_kcv(TDES_COMPONENTS[0]))),
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=60,
        start_new_session=True,
    )  # fmt: skip
    assert done.returncode == 1 and "paycrypt ceremony: components are typed at a terminal" in done.stderr


def test_one_custodian_is_not_split_knowledge(server) -> None:
    done = subprocess.run(
        [
            str(PAYCRYPT),
            "ceremony",
            "import-key",
            "--components",
            "1",
            "--key-algorithm",
            "TDES_2KEY",
            *KEK_ARGS,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "at least 2" in done.stderr
