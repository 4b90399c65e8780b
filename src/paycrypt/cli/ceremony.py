"""`paycrypt ceremony import-key`: load a working key from clear components typed by its custodians,
without the server ever receiving a clear component or the clear key.

    AWS_ENDPOINT_URL=https://paycrypt.example:8443 paycrypt ceremony import-key --components 3 \\
        --key-algorithm TDES_2KEY --key-usage TR31_K0_KEY_ENCRYPTION_KEY \\
        --mode Encrypt --mode Decrypt --mode Wrap --mode Unwrap

How, and why each step:

1. Each of N custodians types a component (hex; not echoed: `getpass` turns the terminal's echo
   off, so it never reaches the scrollback) and then that component's check value, which is
   compared at once: a mistyped component is refused before the next custodian starts, and no
   request is sent until every component has passed.
2. The components are XORed into the key on this machine, and only the key's check value is
   shown; the operator confirms it against the value on the key's paper record.
3. The command is an API client like any other (botocore, credentials and region from the usual
   AWS environment and configuration, the endpoint from --endpoint-url or AWS_ENDPOINT_URL):
   GetParametersForImport (KEY_CRYPTOGRAM; RSA_2048 for TDES, RSA_3072 for AES-128: the smallest
   as strong as the key, which the server requires) gives a wrapping certificate, which is
   checked against its chain (and, with --root-fingerprint, against the root the operator
   expects); the key is encrypted to it here with RSA-OAEP SHA-256; ImportKey with that
   KeyCryptogram stores it. The server sees a cryptogram only, and the audit trail records the
   import under the operator's own principal.
4. The imported key's check value, as the server computed it, must equal the combined key's.

Components live only in this process's memory, as bytearrays overwritten once combined; the key,
likewise, once wrapped (Python may still hold the typed text until it exits, which is at once).
Nothing is logged and nothing is written to a file. Input must come from a terminal: a pipe or
a file of components is refused, since it would put them where this command promises they never go.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paycrypt.cli.errors import CliError
from paycrypt.crypto import certificates, kcv, key_cryptogram, keygen

RSA_WRAPPING = ("RSA_2048", "RSA_3072", "RSA_4096")
WRAPPING_SPEC = "RSA_OAEP_SHA_256"
MODES = ("Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify", "DeriveKey", "NoRestrictions")

# The key family -> (the check value algorithm of components and key, as ImportKey names it, how).
CHECK_VALUES: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "TDES": ("ANSI_X9_24", kcv.ansi_x9_24),
    "AES": ("CMAC", kcv.aes_cmac),
}


def wrapping_algorithm(algorithm: str) -> str | None:
    """The smallest RSA key as strong as `algorithm` (the server refuses a weaker one), if any."""
    return next((rsa for rsa in RSA_WRAPPING if certificates.strong_enough(rsa, algorithm)), None)


# What a ceremony can load: a TDES or AES key that some RSA wrapping key is as strong as (AES-192
# and AES-256 are stronger than RSA-4096, so they come in by TR-34 or under a KEK, not this way).
ALGORITHMS = sorted(
    name
    for name in keygen.SYMMETRIC_LENGTHS
    if name.split("_", 1)[0] in CHECK_VALUES and wrapping_algorithm(name) is not None
)


class CeremonyError(CliError):
    """The ceremony stops; the message says why and never holds a component or the key."""


class Terminal(Protocol):
    def secret(self, prompt: str) -> str:
        """A line typed without echo."""
        ...

    def ask(self, prompt: str) -> str:
        """A line typed with echo (check values, confirmation: not secret)."""
        ...

    def say(self, text: str) -> None: ...


class Tty:
    """The custodians' terminal: getpass (echo off) for components, input() for the rest, messages
    to standard error (standard output is for the result)."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err

    def secret(self, prompt: str) -> str:
        return getpass.getpass(prompt, stream=self.err)

    def ask(self, prompt: str) -> str:
        self.err.write(prompt)
        self.err.flush()
        return sys.stdin.readline().rstrip("\n")

    def say(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def family(algorithm: str) -> str:
    return algorithm.split("_", 1)[0]


def check_value(algorithm: str, key: bytes | bytearray) -> str:
    return CHECK_VALUES[family(algorithm)][1](bytes(key)).hex().upper()


def collect(terminal: Terminal, algorithm: str, count: int) -> bytearray:
    """The key, XOR of `count` components each typed with its check value and checked at once."""
    length = keygen.SYMMETRIC_LENGTHS[algorithm]
    key = bytearray(length)
    for number in range(1, count + 1):
        component = _component(terminal.secret(f"Component {number} of {count} (hex, not shown): "), length)
        try:
            given = terminal.ask(f"Check value of component {number}: ").strip().upper()
            actual = check_value(algorithm, component)
            if given != actual:
                raise CeremonyError(
                    f"component {number}'s check value is not {given or 'empty'}: it was mistyped, "
                    "or is not this key's component (nothing was sent)"
                )
            for i, byte in enumerate(component):
                key[i] ^= byte
        finally:
            component[:] = bytes(length)
        terminal.say(f"component {number} accepted (check value {actual})")
    return key


def _component(typed: str, length: int) -> bytearray:
    text = "".join(typed.split())
    if len(text) != 2 * length:
        raise CeremonyError(
            f"a component of this key is {2 * length} hex digits, not {len(text)} (nothing was sent)"
        )
    try:
        return bytearray.fromhex(text)
    except ValueError:
        raise CeremonyError("a component is hex digits only (nothing was sent)") from None


@dataclass(frozen=True)
class Request:
    """What the operator asked for: the key's attributes and where to import it."""

    algorithm: str
    usage: str
    modes: tuple[str, ...]
    exportable: bool
    endpoint: str | None
    region: str | None
    root_fingerprint: str | None

    def attributes(self) -> dict[str, Any]:
        return {
            "KeyAlgorithm": self.algorithm,
            "KeyUsage": self.usage,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {mode: True for mode in self.modes},
        }


def import_key(client: Any, request: Request, key: bytearray, terminal: Terminal) -> dict[str, Any]:
    """GetParametersForImport, RSA-OAEP here, ImportKey; the stored key's description."""
    params = client.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm=wrapping_algorithm(request.algorithm)
    )
    certificate = _checked_certificate(params, request.root_fingerprint, terminal)
    try:
        cryptogram = key_cryptogram.wrap(certificate.public_key(), bytes(key), WRAPPING_SPEC)  # type: ignore[arg-type]
    finally:
        key[:] = bytes(len(key))
    kcv_algorithm = CHECK_VALUES[family(request.algorithm)][0]
    return client.import_key(  # type: ignore[no-any-return]
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": request.attributes(),
                "Exportable": request.exportable,
                "ImportToken": params["ImportToken"],
                "WrappedKeyCryptogram": cryptogram.hex().upper(),
                "WrappingSpec": WRAPPING_SPEC,
            }
        },
        KeyCheckValueAlgorithm=kcv_algorithm,
    )["Key"]


def _checked_certificate(
    params: dict[str, Any], expected_root: str | None, terminal: Terminal
) -> x509.Certificate:
    """The wrapping certificate, verified up its chain; the root's fingerprint shown (and compared
    with --root-fingerprint): the custodians' assurance that the key goes to their service."""
    try:
        certificate = certificates.load_certificate(params["WrappingKeyCertificate"])
        chain = x509.load_pem_x509_certificates(base64.b64decode(params["WrappingKeyCertificateChain"]))
        certificates.verify_chain(certificate, chain, dt.datetime.now(dt.UTC))
    except (certificates.CertificateError, ValueError) as exc:
        raise CeremonyError(
            f"the service's wrapping certificate does not verify: {exc} (nothing imported)"
        ) from None
    fingerprint = hashlib.sha256(chain[-1].public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    terminal.say(f"wrapping certificate verified; its root's SHA-256 fingerprint is {fingerprint}")
    if expected_root is not None and "".join(expected_root.split(":")).upper() != fingerprint:
        raise CeremonyError(f"the root is not {expected_root} (nothing imported)")
    return certificate


def client_for(request: Request) -> Any:
    """A botocore client of the control plane: the usual AWS credentials, region and endpoint."""
    import botocore.session  # here, not at the top: 0.4 s of start-up no other command needs

    session = botocore.session.get_session()
    endpoint = request.endpoint or os.environ.get("AWS_ENDPOINT_URL")
    return session.create_client("payment-cryptography", region_name=request.region, endpoint_url=endpoint)


def ceremony(
    request: Request, count: int, terminal: Terminal, client: Callable[[Request], Any] = client_for
) -> dict[str, Any]:
    """The whole ceremony (see the module's docstring); the imported key's description."""
    from botocore.exceptions import BotoCoreError, ClientError  # see client_for

    key = collect(terminal, request.algorithm, count)
    try:
        combined = check_value(request.algorithm, key)
        terminal.say(f"the combined key's check value is {combined}")
        if terminal.ask("Type yes if it matches the key's record: ").strip().lower() != "yes":
            raise CeremonyError("not confirmed (nothing was sent)")
        try:
            imported = import_key(client(request), request, key, terminal)
        except (BotoCoreError, ClientError) as exc:
            raise CeremonyError(f"the service refused or could not be reached: {exc}") from None
    finally:
        key[:] = bytes(len(key))
    if imported["KeyCheckValue"] != combined:
        raise CeremonyError(
            f"the service computed check value {imported['KeyCheckValue']} for key {imported['KeyArn']}, "
            f"not {combined}: do not use it"
        )
    return imported


def add_ceremony_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `ceremony` to the `paycrypt` command's subparsers; run it with `run_ceremony(args)`."""
    parser = subparsers.add_parser("ceremony", help="key ceremonies: load a key from custodians' components")
    commands = parser.add_subparsers(dest="ceremony_command", required=True)
    p = commands.add_parser("import-key", help="import a key from clear components typed by N custodians")
    p.add_argument("--components", type=int, required=True, help="how many custodians (at least 2)")
    p.add_argument("--key-algorithm", required=True, choices=ALGORITHMS)
    p.add_argument("--key-usage", required=True, help="e.g. TR31_K0_KEY_ENCRYPTION_KEY")
    p.add_argument("--mode", action="append", required=True, choices=MODES, help="a mode of use (repeat)")
    p.add_argument("--not-exportable", action="store_true", help="the key may never be exported")
    p.add_argument("--endpoint-url", default=None, help="the service (default $AWS_ENDPOINT_URL)")
    p.add_argument("--region", default=None, help="default: the AWS configuration's")
    p.add_argument(
        "--root-fingerprint",
        default=None,
        help="SHA-256 of the service CA the wrapping certificate must chain to (hex, colons allowed)",
    )
    return parser


def run_ceremony(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """The ceremony; CliError (CeremonyError) when it stops, saying why."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.components < 2:
        raise CliError("--components must be at least 2 (split knowledge)")
    if not sys.stdin.isatty():
        raise CliError("components are typed at a terminal, never read from a pipe or a file")
    request = Request(
        algorithm=args.key_algorithm,
        usage=args.key_usage,
        modes=tuple(args.mode),
        exportable=not args.not_exportable,
        endpoint=args.endpoint_url,
        region=args.region,
        root_fingerprint=args.root_fingerprint,
    )
    try:
        imported = ceremony(request, args.components, Tty(err))
    except (KeyboardInterrupt, EOFError):
        raise CliError("interrupted") from None
    print(f"imported {imported['KeyArn']} (check value {imported['KeyCheckValue']})", file=out)
    return 0
