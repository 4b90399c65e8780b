"""MAC and data-encryption benchmark: VerifyMac, EncryptData and their DUKPT forms, in process
and over HTTP.

What one run measures (issue 6, Performance; bench/README.md has the figures):

1. In process, each for ``--inproc-seconds`` of CPU time per repeat (median of ``--repeat``
   runs; rates are per CPU second, so a neighbour on the shared VM does not count), calling
   the service functions (`service.mac_ops`, `service.data_encryption`) on a SQLite store:
   - the crypto alone with `cryptography` (AES-CMAC, AES-CBC of the same 64 bytes): the floor;
   - VerifyMac ISO9797_ALGORITHM3 (TDES retail MAC), CMAC (AES-128) and HMAC (SHA-256) over
     64 bytes; EncryptData Symmetric AES-128 CBC of 64 bytes;
   - DUKPT with and without `service.dukpt_keys`' transaction cache: VerifyMac DukptCmac (AES-128
     BDK) and DecryptData Dukpt (TDES BDK), each "no cache" (cache disabled, a fresh KSN per
     call: a terminal's next transaction), "cache hit" (the same KSN again), and a terminal
     transaction as a host sees it: verify the request MAC, decrypt the data, MAC the response,
     all under one KSN (three derivations without the cache, one with it).
2. Over HTTP against ``paycrypt serve`` (uvicorn) with bench/http_bench.py's machinery (the
   known keys are stored in the server's data directory before it starts, botocore signs the
   requests once, wrk or bench/loadgen.py replays them over keep-alive connections):
   VerifyMac retail MAC and AES-CMAC, EncryptData AES-CBC, and VerifyMac DukptCmac with 16 KSNs
   replayed (cache hits after the first round) and 6,000 KSNs (more than the cache holds, so
   every request misses).

Run: ``python bench/mac_enc_bench.py`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import http_bench
import signing
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.clock import ManualClock, SystemClock
from paycrypt.service import data_encryption, dukpt_keys, key_rules, keys, mac_ops
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.local import LocalKeyFileVault

warnings.filterwarnings("ignore", message=".*TripleDES.*")

ACCOUNT = "111122223333"
REGION = "us-east-1"
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 Annex A
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3-2017 supplement
GV = {"Generate": True, "Verify": True}
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}
MESSAGE = secrets.token_bytes(64).hex()
MISS_REQUESTS = 6000  # distinct DUKPT requests over HTTP: more than dukpt_keys.CACHE_SIZE


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


def _ctx(now: Any) -> Context:
    return Context(
        Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/test", "AIDABENCH"), REGION, now, str(uuid.uuid4())
    )


def _store(svc: Service, material: bytes, usage: str, algorithm: str, modes_of_use: dict[str, bool]) -> str:
    attributes = {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": modes_of_use,
    }
    key_rules.check_create(attributes, None)
    new = keys.NewKey(
        attributes=attributes, material=material, exportable=True, enabled=True, origin="EXTERNAL"
    )
    return keys.store_key(svc, _ctx(svc.clock.now()), new).arn


def _ksns(standard: str) -> Iterator[str]:
    """Distinct valid KSNs, counters 1, 2, 3, … on many devices (1 to 10 or 16 one-bits)."""
    for device in itertools.count():
        if standard == "TDES":
            base = (0xFFFF9876543210E00000 + (device << 21)) & ((1 << 80) - 1)
            for counter in range(1, 4097):
                if counter.bit_count() <= 10:
                    yield f"{base | counter:020X}"
        else:
            for counter in range(1, 4097):
                yield f"12345678{device:08X}{counter:08X}"


# --- requests --------------------------------------------------------------------------------------


def mac_params(arn: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"KeyIdentifier": arn, "MessageData": MESSAGE, "GenerationAttributes": attributes}


def verify_params(svc: Service, ctx: Context, arn: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A VerifyMac request whose Mac the service itself generated (so it answers 200)."""
    mac = mac_ops.generate_mac(svc, ctx, mac_params(arn, attributes))["Mac"]
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


def rate(call: Callable[[], Any], seconds: float) -> float:
    """Calls per CPU second of this process (a neighbour's job on the shared VM does not count)."""
    done, started = 0, time.process_time()
    deadline = started + seconds
    while True:
        for _ in range(20):
            call()
        done += 20
        now = time.process_time()
        if now >= deadline:
            return done / (now - started)


def in_process(args: argparse.Namespace, workdir: Path) -> None:
    svc = Service(SqliteStore(workdir / "inproc.db"), secrets.token_bytes(32), ManualClock())
    k = Keys(svc)
    ctx = _ctx(svc.clock.now())
    cache = dukpt_keys.cache_for(svc)
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
        return lambda: mac_ops.verify_mac(svc, ctx, params)

    def fresh_cmac() -> Callable[[], Any]:
        """DukptCmac verifications of distinct transactions (a fresh KSN each call)."""
        requests = [
            verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n))
            for n in itertools.islice(_ksns("AES"), 5000)
        ]
        cycle = itertools.cycle(requests)
        return lambda: mac_ops.verify_mac(svc, ctx, next(cycle))

    def fresh_decrypt() -> Callable[[], Any]:
        requests = [dukpt_decrypt_params(k.arn["tdes_bdk"], n) for n in itertools.islice(_ksns("TDES"), 5000)]
        cycle = itertools.cycle(requests)
        return lambda: data_encryption.decrypt_data(svc, ctx, next(cycle))

    def transactions() -> Callable[[], Any]:
        """One host transaction: verify the request MAC, decrypt the data, MAC the response."""
        ksns = list(itertools.islice(_ksns("AES"), 5000))
        requests = [verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(n)) for n in ksns]
        cycle = itertools.cycle(zip(ksns, requests, strict=True))

        def run() -> None:
            ksn, request = next(cycle)
            mac_ops.verify_mac(svc, ctx, request)
            decrypt = {
                "KeyIdentifier": k.arn["aes_bdk"],
                "CipherText": MESSAGE,
                "DecryptionAttributes": {"Dukpt": {"KeySerialNumber": ksn, "Mode": "CBC"}},
            }
            data_encryption.decrypt_data(svc, ctx, decrypt)
            mac_ops.generate_mac(svc, ctx, mac_params(k.arn["aes_bdk"], dukpt_cmac(ksn, "RESPONSE")))

        return run

    same_cmac = verify_params(svc, ctx, k.arn["aes_bdk"], dukpt_cmac(next(_ksns("AES"))))
    same_decrypt = dukpt_decrypt_params(k.arn["tdes_bdk"], "FFFF9876543210E003FF")  # 10 one-bits
    full = dukpt_keys.CACHE_SIZE
    scenarios: list[tuple[str, Callable[[], Any], int]] = [
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
        ("VerifyMac DukptCmac AES-128, no cache (fresh KSN)", fresh_cmac(), 0),
        ("VerifyMac DukptCmac AES-128, cache hit (same KSN)", verify(same_cmac), full),
        ("DecryptData Dukpt TDES, no cache (fresh KSN)", fresh_decrypt(), 0),
        (
            "DecryptData Dukpt TDES 10 one-bits, no cache (same KSN)",
            lambda: data_encryption.decrypt_data(svc, ctx, same_decrypt),
            0,
        ),
        (
            "DecryptData Dukpt TDES 10 one-bits, cache hit (same KSN)",
            lambda: data_encryption.decrypt_data(svc, ctx, same_decrypt),
            full,
        ),
        ("AES DUKPT transaction (verify + decrypt + MAC), no cache", transactions(), 0),
        ("AES DUKPT transaction (verify + decrypt + MAC), cache", transactions(), full),
    ]
    print("\n| in process (median) | calls per CPU s | CPU µs each |\n|---|---:|---:|", flush=True)
    for name, call, cache_size in scenarios:
        cache.size = cache_size
        cache.clear()
        median = statistics.median(rate(call, args.inproc_seconds) for _ in range(args.repeat))
        print(f"| {name} | {median:,.0f} | {1e6 / median:.1f} |", flush=True)
    cache.size = full


# --- over HTTP ------------------------------------------------------------------------------------


def capture_many(endpoint: str, method: str, params: list[dict[str, Any]]) -> list[bytes]:
    """Sign many requests with one botocore client (signing.capture builds a client per call)."""
    sdk = signing.client("payment-cryptography-data", endpoint)
    captured: list[bytes] = []

    def stop(request: Any, **_: Any) -> None:
        raise signing._Captured(request)

    sdk.meta.events.register("before-send", stop)
    for p in params:
        try:
            getattr(sdk, method)(**p)
        except signing._Captured as exc:
            captured.append(signing.raw_http(exc.request, endpoint))
    return captured


def over_http(args: argparse.Namespace, workdir: Path) -> None:
    data_dir = workdir / "data-uvicorn-paycrypt"  # where http_bench.running_server points the server
    store = SqliteStore(data_dir / "paycrypt.db")
    svc = Service(store, LocalKeyFileVault(data_dir / "master.key").master_key(), SystemClock())
    k = Keys(svc)
    ctx = _ctx(svc.clock.now())
    aes_ksns = list(itertools.islice(_ksns("AES"), MISS_REQUESTS))
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
    store.close()
    print(f"\nover HTTP: load generator {args.load}, concurrency {args.concurrency}, {args.seconds:g} s each")
    print(http_bench.HEADER, flush=True)
    with http_bench.running_server("uvicorn", "paycrypt", workdir) as (port, pid):
        endpoint = f"http://{http_bench.HOST}:{port}"
        for i, (scenario, method, params) in enumerate(scenarios):
            requests = capture_many(endpoint, method, params)
            http_bench.check_requests(port, requests[:16])
            requests_file = http_bench.write_requests(workdir / f"mac-enc-{i}.req", requests)
            http_bench.repeated("uvicorn", scenario, port, pid, requests_file, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--inproc-seconds", type=float, default=2.0, help="seconds per in-process measurement"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per HTTP scenario")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds before each HTTP scenario"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario")
    parser.add_argument(
        "--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if args.seconds > 20:
        parser.error("keep each measurement bounded: --seconds at most 20")
    print(f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="paycrypt-mac-enc-bench-") as tmp:
        in_process(args, Path(tmp))
        if not args.skip_http:
            over_http(args, Path(tmp))


if __name__ == "__main__":
    main()
