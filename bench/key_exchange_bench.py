"""Key exchange benchmark (issue 3, Performance): TR-31 import/export and TR-34 import, in process,
with psec's TR-31 rates measured side by side in the same run.

Each row runs for ``--seconds`` per repeat; the median of ``--repeat`` runs is printed, in
operations per second and µs per operation (wall clock, one thread):

- ``psec tr31.unwrap`` / ``psec tr31.wrap``: psec 1.3.0 alone, the floor a Python TR-31 reaches;
- ``paycrypt tr31.unwrap`` / ``tr31.wrap``: paycrypt's crypto module alone, same blocks;
- ``ImportKey Tr31KeyBlock``: the service function the server calls: KEK lookup and usage check,
  MAC-verified unwrap, header → attributes, the attribute table, KCV, sealing under the master
  key and the SQLite insert (WAL, synchronous=FULL: every import is fsynced before it returns);
- ``ExportKey Tr31KeyBlock``: lookup of key and KEK (material cached after the first call),
  header with KeyBlockHeaders defaults, wrap; nothing is written;
- ``tr34.unwrap``: paycrypt's TR-34 receive alone (signature verify, RSA-2048 OAEP decrypt);
- ``ImportKey Tr34KeyBlock``: the service function with an import token: chain check of the KDH
  certificate, token lookup, TR-34 unwrap, attributes, sealing and the fsynced insert.

Blocks are TDES keys (B under a TDES_2KEY KEK) and AES-128 keys (D under an AES-256 KEK); the TR-34
block carries a TDES_2KEY KEK, two-pass, built once by paycrypt's tr34.build.

Run: ``python bench/key_exchange_bench.py`` (``--help`` for the knobs). Figures: bench/README.md,
"Key exchange".
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import secrets
import statistics
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import psec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from paycrypt.clock import SystemClock
from paycrypt.crypto import tr31, tr34
from paycrypt.service.context import Context
from paycrypt.service.core import Quotas, Service
from paycrypt.service.exchange import export_key, import_key, parameters, service_ca
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault

warnings.filterwarnings("ignore", message=".*TripleDES.*")


def _ctx(svc: Service) -> Context:
    return harness.context(svc.clock.now())


def _store(svc: Service, material: bytes, usage: str, algorithm: str) -> str:
    return harness.store_known_key(svc, material, usage, algorithm, harness.EDWU)


def _party(name: str, issuer_key: rsa.RSAPrivateKey | None = None, issuer: x509.Name | None = None):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2045, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    return builder.sign(issuer_key or key, hashes.SHA256()), key


def _b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


def rate(function: Callable[[], Any], seconds: float, repeat: int) -> float:
    """Median operations per second over `repeat` runs of about `seconds` each (clock read per call)."""
    function()  # warm caches (key material, CA, token)
    return statistics.median(harness.rate(function, seconds, batch=1) for _ in range(repeat))


def scenario(svc: Service) -> list[tuple[str, str, Callable[[], Any]]]:
    """Keys, blocks, a partner CA, an import token and one TR-34 block in `svc`; the rows to time."""
    tdes_kek, aes_kek = secrets.token_bytes(16), secrets.token_bytes(32)
    tdes_arn = _store(svc, tdes_kek, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY")
    aes_arn = _store(svc, aes_kek, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256")
    tdes_block = psec.tr31.wrap(tdes_kek, "B0000P0TB00E0000", secrets.token_bytes(16))
    aes_block = psec.tr31.wrap(aes_kek, "D0000D0AB00E0000", secrets.token_bytes(16))
    tdes_key_arn = _store(svc, secrets.token_bytes(16), "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY")
    aes_key_arn = _store(svc, secrets.token_bytes(16), "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128")
    tdes_header = tr31.parse_header(tdes_block).header
    aes_header = tr31.parse_header(aes_block).header
    material = secrets.token_bytes(16)

    # TR-34: a partner root and KDH, an import token, one two-pass block
    root_certificate, root_key = _party("Bench Root")
    kdh_certificate, kdh_key = _party("Bench KDH", root_key, root_certificate.subject)
    ca_arn = import_key.import_key(
        svc,
        _ctx(svc),
        {
            "KeyMaterial": {
                "RootCertificatePublicKey": {
                    "KeyAttributes": {
                        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                        "KeyClass": "PUBLIC_KEY",
                        "KeyAlgorithm": "RSA_2048",
                        "KeyModesOfUse": {"Verify": True},
                    },
                    "PublicKeyCertificate": _b64(root_certificate),
                }
            }
        },
    )["Key"]["KeyArn"]
    params = parameters.get_parameters_for_import(
        svc, _ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    krd_certificate = x509.load_pem_x509_certificate(base64.b64decode(params["WrappingKeyCertificate"]))
    nonce = secrets.token_bytes(8)
    tr34_block = tr34.build(
        secrets.token_bytes(16),
        "D0112K1TB00E0000",
        kdh_certificate=kdh_certificate,
        kdh_private_key=kdh_key,
        krd_certificate=krd_certificate,
        nonce=nonce,
    )
    token = service_ca.find_token(svc, _ctx(svc), "import", params["ImportToken"], "TR34_KEY_BLOCK", "t")
    krd_private = token.private_key(svc)
    tr34_params = {
        "KeyMaterial": {
            "Tr34KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "SigningKeyCertificate": _b64(kdh_certificate),
                "ImportToken": params["ImportToken"],
                "WrappedKeyBlock": tr34_block.hex().upper(),
                "KeyBlockFormat": "X9_TR34_2012",
                "RandomNonce": nonce.hex(),
            }
        }
    }

    def import_tr31(arn: str, block: str) -> Callable[[], Any]:
        request = {"KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": arn, "WrappedKeyBlock": block}}}
        return lambda: import_key.import_key(svc, _ctx(svc), request)

    def export_tr31(key: str, kek: str) -> Callable[[], Any]:
        request = {
            "ExportKeyIdentifier": key,
            "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}},
        }
        return lambda: export_key.export_key(svc, _ctx(svc), request)

    return [
        ("psec tr31.unwrap", "B, TDES", lambda: psec.tr31.unwrap(tdes_kek, tdes_block)),
        ("paycrypt tr31.unwrap", "B, TDES", lambda: tr31.unwrap(tdes_kek, tdes_block)),
        ("psec tr31.unwrap", "D, AES-128 key", lambda: psec.tr31.unwrap(aes_kek, aes_block)),
        ("paycrypt tr31.unwrap", "D, AES-128 key", lambda: tr31.unwrap(aes_kek, aes_block)),
        ("ImportKey Tr31KeyBlock", "B, TDES", import_tr31(tdes_arn, tdes_block)),
        ("ImportKey Tr31KeyBlock", "D, AES-128 key", import_tr31(aes_arn, aes_block)),
        ("psec tr31.wrap", "B, TDES", lambda: psec.tr31.wrap(tdes_kek, "B0000P0TB00E0000", material)),
        ("paycrypt tr31.wrap", "B, TDES", lambda: tr31.wrap(tdes_kek, tdes_header, material)),
        (
            "psec tr31.wrap",
            "D, AES-128 key",
            lambda: psec.tr31.wrap(aes_kek, "D0000D0AB00E0000", material),
        ),
        ("paycrypt tr31.wrap", "D, AES-128 key", lambda: tr31.wrap(aes_kek, aes_header, material)),
        ("ExportKey Tr31KeyBlock", "B, TDES", export_tr31(tdes_key_arn, tdes_arn)),
        ("ExportKey Tr31KeyBlock", "D, AES-128 key", export_tr31(aes_key_arn, aes_arn)),
        (
            "paycrypt tr34.unwrap",
            "RSA-2048, 2-pass",
            lambda: tr34.unwrap(
                tr34_block,
                kdh_certificate=kdh_certificate,
                krd_certificate=krd_certificate,
                krd_private_key=krd_private,
                nonce=nonce,
            ),
        ),
        (
            "ImportKey Tr34KeyBlock",
            "RSA-2048, 2-pass",
            lambda: import_key.import_key(svc, _ctx(svc), tr34_params),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (the median is printed)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        durable = Service(
            SqliteStore(Path(tmp) / "paycrypt.db"),
            KeyCache(MasterKeyVault(secrets.token_bytes(32))),
            SystemClock(),
            Quotas(keys_per_region=10**9),
        )
        rows = scenario(durable)
        # The same imports on an in-memory SQLite store: what an import costs without the fsync.
        memory = Service(
            SqliteStore(Path(":memory:")),
            KeyCache(MasterKeyVault(secrets.token_bytes(32))),
            SystemClock(),
            Quotas(keys_per_region=10**9),
        )
        rows += [
            (f"{name} (no fsync)", block, f)
            for name, block, f in scenario(memory)
            if name.startswith("ImportKey")
        ]
        print(f"{'what':<36} {'block':<18} {'ops/s':>10} {'µs/op':>10}")
        for name, block, function in rows:
            ops = rate(function, args.seconds, args.repeat)
            print(f"{name:<36} {block:<18} {ops:>10,.0f} {1e6 / ops:>10,.1f}")


if __name__ == "__main__":
    main()
