"""The TLS listener (issue 2, item 4): PANs, PIN blocks and key blocks need not cross a network in clear.

An in-thread server is given a certificate from `paycrypt.tls.self_signed`; boto3 trusts exactly
that certificate. The listener must serve the real API over https, refuse plain http, and refuse
TLS below 1.2. The `paycrypt serve --tls-self-signed` path is run as a subprocess.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions
import pytest
from botocore.config import Config

from paycrypt import tls
from paycrypt.server import Settings
from tests.api.cli import AwsCli
from tests.api.processes import ServerProcess
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port, serving

HOSTS = ["127.0.0.1", "localhost"]


@dataclass
class TlsServer:
    port: int
    cert: Path

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    base = tmp_path_factory.mktemp("paycrypt-tls")
    cert, key = tls.self_signed(base / "tls", HOSTS)
    settings = Settings(port=free_port(), data_dir=base / "data", tls_cert=cert, tls_key=key)
    with serving(settings):
        yield TlsServer(settings.port, cert)


def client(service: str, endpoint: str, verify: object) -> object:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10)
    session = aws_session("test", "test", REGION)
    return session.client(service, endpoint_url=endpoint, verify=verify, config=config)


def _create_key_and_cvv2(endpoint: str, cert: Path) -> str:
    control = client("payment-cryptography", endpoint, str(cert))
    data = client("payment-cryptography-data", endpoint, str(cert))
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    value = data.generate_card_validation_data(
        KeyIdentifier=arn,
        PrimaryAccountNumber="4123456789012345",
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    )["ValidationData"]
    assert len(value) == 3 and value.isdigit()
    return arn


def test_boto3_over_https_with_the_servers_certificate(tls_server: TlsServer) -> None:
    arn = _create_key_and_cvv2(tls_server.endpoint, tls_server.cert)
    control = client("payment-cryptography", tls_server.endpoint, str(tls_server.cert))
    assert control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"


def test_certificate_is_verified_not_ignored(tls_server: TlsServer) -> None:
    """A client that trusts only the system CAs rejects the self-signed certificate: verify= mattered."""
    control = client("payment-cryptography", tls_server.endpoint, True)
    with pytest.raises(botocore.exceptions.SSLError):
        control.list_keys()


def test_plain_http_to_the_tls_port_gets_no_http_answer(tls_server: TlsServer) -> None:
    control = client("payment-cryptography", f"http://127.0.0.1:{tls_server.port}", None)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        control.list_keys()
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        try:
            reply = sock.recv(64)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"HTTP/")


def _handshake(context: ssl.SSLContext, port: int) -> tuple[str, str]:
    """The protocol version and cipher suite a handshake with the server settles on."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1") as secure,
    ):
        return secure.version(), secure.cipher()[0]


def _client_hello_version(context: ssl.SSLContext) -> bytes:
    """The client_version a context puts in its ClientHello, read by a bare socket (RFC 5246 7.4.1.2)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            data = b""
            while len(data) < 11:
                chunk = conn.recv(11 - len(data))
                if not chunk:
                    break
                data += chunk
            received.append(data)

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=5) as sock,
            contextlib.suppress(ssl.SSLError, OSError),
        ):
            context.wrap_socket(sock, server_hostname="127.0.0.1")
    finally:
        thread.join(timeout=10)
        listener.close()
    # Record header (type 0x16, version, length), handshake header (type 0x01, length), client_version.
    hello = received[0]
    assert hello[0] == 0x16 and hello[5] == 0x01, hello
    return hello[9:11]


def _tls11_only_context(cert: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers TLS 1.1 only at security level 0
    return context


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_client_cannot_connect(tls_server: TlsServer) -> None:
    context = _tls11_only_context(tls_server.cert)
    try:
        offered = _client_hello_version(context)
    except (ssl.SSLError, IndexError):
        offered = b""
    if offered != b"\x03\x02":
        # This OpenSSL will not even offer TLS 1.1: check the floor from the other side instead.
        default = ssl.create_default_context(cafile=str(tls_server.cert))
        assert _handshake(default, tls_server.port)[0] in ("TLSv1.2", "TLSv1.3")
        pytest.skip("the local OpenSSL refuses to offer TLS 1.1; negotiated version checked instead")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake(context, tls_server.port)


def test_tls_1_2_is_the_floor_and_is_accepted_with_an_aead_suite(tls_server: TlsServer) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(tls_server.cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(context, tls_server.port)
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher


@pytest.mark.cli
def test_cli_tls_self_signed_serves_https(tmp_path: Path, processes: list[ServerProcess]) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, free_port(), "--tls-self-signed")
    processes.append(server)
    server.wait_listening()
    cert = data_dir / "tls" / "cert.pem"
    assert cert.exists() and (data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    _create_key_and_cvv2(f"https://127.0.0.1:{server.port}", cert)
    assert f"https://127.0.0.1:{server.port}" in server.log()


@pytest.mark.cli
def test_aws_cli_over_https_with_ca_bundle(tls_server: TlsServer, tmp_path: Path) -> None:
    cli = AwsCli(tls_server.endpoint, tmp_path)
    cli.env["AWS_CA_BUNDLE"] = str(tls_server.cert)
    _, created, _ = cli(
        "payment-cryptography",
        "create-key",
        "--exportable",
        "--key-attributes",
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Generate=true,Verify=true}",
    )
    assert created["Key"]["KeyState"] == "CREATE_COMPLETE"
    _, identity, _ = cli("sts", "get-caller-identity")
    assert identity["Account"] == "111122223333"
