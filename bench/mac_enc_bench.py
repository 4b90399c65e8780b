"""MAC and data-encryption benchmark: VerifyMac, EncryptData and their DUKPT forms, in process
and over HTTP.

What one run measures (issue 6, Performance; bench/README.md has the figures):

1. In process, each for ``--inproc-seconds`` of CPU time per repeat (median of ``--repeat``
   runs; rates are per CPU second, so a neighbour on the shared VM does not count), calling
   the service functions (`service.mac_ops`, `service.data_encryption`) on a SQLite store:
   - the crypto alone with `cryptography` (AES-CMAC, AES-CBC of the same 64 bytes): the floor;
   - VerifyMac ISO9797_ALGORITHM3 (TDES retail MAC), CMAC (AES-128) and HMAC (SHA-256) over
     64 bytes; EncryptData Symmetric AES-128 CBC of 64 bytes;
   - DUKPT with and without the transaction secret in the key cache (`vault.keycache`): VerifyMac
     DukptCmac (AES-128 BDK) and DecryptData Dukpt (TDES BDK), each "no cache" (secrets derived afresh,
     a fresh KSN per call: a terminal's next transaction), "cache hit" (the same KSN again), and a terminal
     transaction as a host sees it: verify the request MAC, decrypt the data, MAC the response,
     all under one KSN (three derivations without the cache, one with it).
2. Over HTTP against ``paycrypt serve`` (uvicorn) with bench/http_bench.py's machinery (the
   known keys are stored in the server's data directory before it starts, botocore signs the
   requests once, wrk or bench/loadgen.py replays them over keep-alive connections):
   VerifyMac retail MAC and AES-CMAC, EncryptData AES-CBC, and VerifyMac DukptCmac with 16 KSNs
   replayed (cache hits after the first round) and 6,000 KSNs (more than the server's 4,096-entry
   key cache holds, so every request misses).

Run: ``python bench/mac_enc_bench.py`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.transactions import data_encryption, macs

warnings.filterwarnings("ignore", message=".*TripleDES.*")

TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 Annex A
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3-2017 supplement
GV = {"Generate": True, "Verify": True}
EDWU = harness.EDWU
_store = harness.store_known_key  # (svc, material, usage, algorithm, modes) -> ARN
DERIVE = {"DeriveKey": True}
MESSAGE = secrets.token_bytes(64).hex()
MISS_REQUESTS = 6000  # distinct DUKPT requests over HTTP: more than harness.DUKPT_SERVE_OPTIONS' cache


class Keys:
    """The known keys of one run, stored in a Service's store."""

    def __init__(self, svc: Service) -> None:
        self.aes = secrets.token_bytes(16)
        self.arn = {
            "retail": _store(svc, secrets.token_bytes(16), "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GV),
            "cmac": _store(svc, self.aes, "TR31_M6_ISO_9797_5_CMAC_KEY", "AES_128", GV),
            "hmac": _store(svc, secrets.token_bytes(32), "TR31_M7_HMAC_KEY", "HMAC_SHA256", GV),
            "dek": _store(svc, self.aes, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", EDWU),
            "tdes_bdk": _store(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE),
            "aes_bdk": _store(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE),
        }


# --- requests --------------------------------------------------------------------------------------


def mac_params(arn: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"KeyIdentifier": arn, "MessageData": MESSAGE, "GenerationAttributes": attributes}


def verify_params(svc: Service, ctx: Context, arn: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A VerifyMac request whose Mac the service itself generated (so it answers 200)."""
    mac = macs.generate_mac(svc, ctx, mac_params(arn, attributes))["Mac"]
    return {"KeyIdentifier": arn, "MessageData": MESSAGE, "VerificationAttributes": attributes, "Mac": mac}


def encrypt_params(arn: str) -> dict[str, Any]:
    return {
        "KeyIdentifier": arn,
        "PlainText": MESSAGE,
        "EncryptionAttributes": {"Symmetric": {"Mode": "CBC"}},
    }


def dukpt_cmac(ksn: str, variant: str = "REQUEST") -> dict[str, Any]:
    return {"DukptCmac": {"KeySerialNumber": ksn, "DukptKeyVariant": variant}}


def dukpt_decrypt_params(arn: str, ksn: str) -> dict[str, Any]:
    return {
        "KeyIdentifier": arn,
        "CipherText": MESSAGE,
        "DecryptionAttributes": {"Dukpt": {"KeySerialNumber": ksn}},
    }


# --- in process -----------------------------------------------------------------------------------


def in_process(args: argparse.Namespace, workdir: Path) -> None:
    svc = harness.inproc_service(workdir)
    k = Keys(svc)
    ctx = harness.context(svc.clock.now())
    message = bytes.fromhex(MESSAGE)

    def crypto_cmac() -> bytes:
        c = cmac.CMAC(algorithms.AES(k.aes))
        c.update(message)
        return c.finalize()

    def crypto_cbc() -> bytes:
        enc = Cipher(algorithms.AES(k.aes), modes.CBC(bytes(16))).encryptor()
        return enc.update(message) + enc.finalize()

    retail = verify_params(svc, ctx, k.arn["retail"], {"Algorithm": "ISO9797_ALGORITHM3"})
    aes_cmac = verify_params(svc, ctx, k.arn["cmac"], {"Algorithm": "CMAC"})
    hmac = verify_params(svc, ctx, k.arn["hmac"], {"Algorithm": "HMAC"})
    encrypt = encrypt_params(k.arn["dek"])
    assert data_encryption.encrypt_data(svc, ctx, encrypt)["CipherText"] == crypto_cbc().hex().upper()

    def verify(params: dict[str, Any]) -> Callable[[], Any]:
        return lambda: macs.verify_mac(svc, ctx, params)

    def fresh_cmac() -> Callable[[], Any]:
        """DukptCmac verifications of distinct transactions (a fresh KSN each call)."""
        requests = [
            verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n))
            for n in itertools.islice(harness.ksns("AES"), 5000)
        ]
        cycle = itertools.cycle(requests)
        return lambda: macs.verify_mac(svc, ctx, next(cycle))

    def fresh_decrypt() -> Callable[[], Any]:
        requests = [
            dukpt_decrypt_params(k.arn["tdes_bdk"], n) for n in itertools.islice(harness.ksns("TDES"), 5000)
        ]
        cycle = itertools.cycle(requests)
        return lambda: data_encryption.decrypt_data(svc, ctx, next(cycle))

    def transactions() -> Callable[[], Any]:
        """One host transaction: verify the request MAC, decrypt the data, MAC the response."""
        ksns = list(itertools.islice(harness.ksns("AES"), 5000))
        requests = [verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n)) for n in ksns]
        cycle = itertools.cycle(zip(ksns, requests, strict=True))

        def run() -> None:
            ksn, request = next(cycle)
            macs.verify_mac(svc, ctx, request)
            decrypt = {
                "KeyIdentifier": k.arn["aes_bdk"],
                "CipherText": MESSAGE,
                "DecryptionAttributes": {"Dukpt": {"KeySerialNumber": ksn, "Mode": "CBC"}},
            }
            data_encryption.decrypt_data(svc, ctx, decrypt)
            macs.generate_mac(svc, ctx, mac_params(k.arn["aes_bdk"], dukpt_cmac(ksn, "RESPONSE")))

        return run

    same_cmac = verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(next(harness.ksns("AES"))))
    same_decrypt = dukpt_decrypt_params(k.arn["tdes_bdk"], "FFFF9876543210E003FF")  # 10 one-bits
    full, none = True, False
    scenarios: list[tuple[str, Callable[[], Any], bool]] = [
        ("cryptography AES-128 CMAC, 64 B (crypto only)", crypto_cmac, full),
        ("cryptography AES-128 CBC, 64 B (crypto only)", crypto_cbc, full),
        ("VerifyMac ISO9797_ALGORITHM3 (TDES), 64 B", verify(retail), full),
        ("VerifyMac CMAC (AES-128), 64 B", verify(aes_cmac), full),
        ("VerifyMac HMAC (SHA-256), 64 B", verify(hmac), full),
        (
            "EncryptData Symmetric AES-128 CBC, 64 B",
            lambda: data_encryption.encrypt_data(svc, ctx, encrypt),
            full,
        ),
        ("VerifyMac DukptCmac AES-128, no cache (fresh KSN)", fresh_cmac(), none),
        ("VerifyMac DukptCmac AES-128, cache hit (same KSN)", verify(same_cmac), full),
        ("DecryptData Dukpt TDES, no cache (fresh KSN)", fresh_decrypt(), none),
        (
            "DecryptData Dukpt TDES 10 one-bits, no cache (same KSN)",
            lambda: data_encryption.decrypt_data(svc, ctx, same_decrypt),
            none,
        ),
        (
            "DecryptData Dukpt TDES 10 one-bits, cache hit (same KSN)",
            lambda: data_encryption.decrypt_data(svc, ctx, same_decrypt),
            full,
        ),
        ("AES DUKPT transaction (verify + decrypt + MAC), no cache", transactions(), none),
        ("AES DUKPT transaction (verify + decrypt + MAC), cache", transactions(), full),
    ]
    print("\n| in process (median) | calls per CPU s | CPU µs each |\n|---|---:|---:|", flush=True)
    for name, call, cached in scenarios:
        harness.use_keycache(svc, cached)
        median = statistics.median(
            harness.rate(call, args.inproc_seconds, clock=time.process_time, batch=20)
            for _ in range(args.repeat)
        )
        print(f"| {name} | {median:,.0f} | {1e6 / median:.1f} |", flush=True)
    harness.use_keycache(svc, full)


# --- over HTTP ------------------------------------------------------------------------------------


def over_http(args: argparse.Namespace, workdir: Path) -> None:
    with harness.server_data_service(workdir) as svc:
        k = Keys(svc)
        ctx = harness.context(svc.clock.now())
        scenarios = _http_scenarios(svc, ctx, k)
    harness.replay(args, workdir, "mac-enc", scenarios, harness.DUKPT_SERVE_OPTIONS)


def _http_scenarios(svc: Service, ctx: Context, k: Keys) -> list[tuple[str, str, list[dict[str, Any]]]]:
    aes_ksns = list(itertools.islice(harness.ksns("AES"), MISS_REQUESTS))
    scenarios = [
        (
            "VerifyMac retail MAC",
            "verify_mac",
            [verify_params(svc, ctx, k.arn["retail"], {"Algorithm": "ISO9797_ALGORITHM3"})] * 16,
        ),
        (
            "VerifyMac AES-CMAC",
            "verify_mac",
            [verify_params(svc, ctx, k.arn["cmac"], {"Algorithm": "CMAC"})] * 16,
        ),
        ("EncryptData AES-CBC 64 B", "encrypt_data", [encrypt_params(k.arn["dek"])] * 16),
        (
            "VerifyMac DukptCmac, 16 KSNs (hits)",
            "verify_mac",
            [verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n)) for n in aes_ksns[:16]],
        ),
        (
            "VerifyMac DukptCmac, 6000 KSNs (misses)",
            "verify_mac",
            [verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n)) for n in aes_ksns],
        ),
    ]
    return scenarios


def main() -> None:
    harness.main(__doc__, "mac-enc", in_process, over_http)


if __name__ == "__main__":
    main()
