"""EMV benchmark: ARQC verification with an ARPC, in process and over HTTP, with pyemv alongside.

What one run measures (issue 5):

1. In process, the guide's Visa CVN18 known answer (IMK 0123456789ABCDEFFEDCBA9876543210,
   EmvCommon, ATC 000B, the 72-byte data, ARQC 61EDCC708B4C97B4) with ARPC method 2 (CSU 12345678):
   - ``paycrypt crypto``: `crypto.emv_keys` + `crypto.emv_cryptogram` alone (option A, session
     key, ARQC recompute and constant-time compare, ARPC);
   - ``paycrypt service``: `service.emv_ops.verify_auth_request_cryptogram` on a SQLite store,
     i.e. key lookup, usage check, cached unsealed material, crypto and the output dict;
   - ``pyemv``: the same computation with pyemv 1.5.0 (kd.derive_icc_mk_a, kd.derive_common_sk,
     ac.generate_ac, hmac.compare_digest, ac.generate_arpc_2), in the same process and run.
   Each is run for ``--inproc-seconds`` per repeat; the table gives the median of the repeats.
2. Over HTTP, VerifyAuthRequestCryptogram (EmvCommon, ARPC method 2) against ``paycrypt serve``
   (uvicorn) with bench/http_bench.py's machinery: an E0 key is created with boto3,
   GenerateAuthRequestCryptogram makes 16 ARQCs for different PANs and ATCs, botocore signs the
   16 verify requests once, and wrk (or bench/loadgen.py) replays them over keep-alive
   connections. A CVV2 verify on the same server is measured alongside as the reference floor
   of a data-plane call. The key is generated (a subprocess server cannot be given the guide's
   key until ImportKey lands); the computation is the same.

Run: ``python bench/emv_bench.py`` (``--help`` for the knobs).
"""

from __future__ import annotations

import argparse
import hmac
import statistics
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import http_bench
import pyemv.ac
import pyemv.kd
import signing

from paycrypt.crypto import emv_cryptogram, emv_keys
from paycrypt.service.issuer import emv

# pyemv 1.5.0 still calls TripleDES from its old location (seed-C §5.10); the warnings are noise here.
warnings.filterwarnings("ignore", message=".*TripleDES.*")

IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN, PSN, ATC = "9137631040001422", "01", "000B"
DATA = (
    "00000000170000000000000008400080008000084016051700000000093800000B1F220103"
    "0000000000000000000000000000000000000000000000000000008000000000000000"
)
ARQC, CSU, ARPC = "61EDCC708B4C97B4", "12345678", "D94886EF"
E0 = {
    "KeyUsage": "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
    "KeyAlgorithm": "TDES_2KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"DeriveKey": True},
}


# --- in process ----------------------------------------------------------------------------------


def paycrypt_crypto() -> str:
    key = emv_keys.derive_ac_key(IMK, "EMV_OPTION_A", "EmvCommon", PAN, PSN, atc=ATC)
    if not emv_cryptogram.verify_arqc(key, DATA, ARQC):
        raise AssertionError("ARQC did not verify")
    return emv_cryptogram.arpc_method2(key, ARQC, CSU)


_DATA_BYTES, _ARQC_BYTES, _CSU_BYTES = bytes.fromhex(DATA), bytes.fromhex(ARQC), bytes.fromhex(CSU)


def pyemv_same() -> str:
    """The same ARQC and ARPC with pyemv; PaddingType.VISA leaves the aligned data as it is."""
    mk = pyemv.kd.derive_icc_mk_a(IMK, PAN, PSN)
    sk = pyemv.kd.derive_common_sk(mk, bytes.fromhex(ATC) + bytes(6))
    arqc = pyemv.ac.generate_ac(sk, _DATA_BYTES, pyemv.ac.PaddingType.VISA)
    if not hmac.compare_digest(arqc, _ARQC_BYTES):
        raise AssertionError("ARQC did not verify")
    return pyemv.ac.generate_arpc_2(sk, _ARQC_BYTES, _CSU_BYTES, b"").hex().upper()


def paycrypt_service(workdir: Path) -> Callable[[], str]:
    svc = harness.inproc_service(workdir)
    ctx = harness.context(svc.clock.now())
    arn = harness.store_known_key(svc, IMK, E0["KeyUsage"], E0["KeyAlgorithm"], E0["KeyModesOfUse"])
    params = {
        "KeyIdentifier": arn,
        "TransactionData": DATA,
        "AuthRequestCryptogram": ARQC,
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "SessionKeyDerivationAttributes": {
            "EmvCommon": {
                "PrimaryAccountNumber": PAN,
                "PanSequenceNumber": PSN,
                "ApplicationTransactionCounter": ATC,
            }
        },
        "AuthResponseAttributes": {"ArpcMethod2": {"CardStatusUpdate": CSU}},
    }
    return lambda: emv.verify_auth_request_cryptogram(svc, ctx, params)["AuthResponseValue"]


def in_process(args: argparse.Namespace, workdir: Path) -> None:
    subjects: list[tuple[str, Callable[[], str]]] = [
        ("paycrypt crypto (emv_keys + emv_cryptogram)", paycrypt_crypto),
        ("paycrypt service (emv_ops, SQLite store, cached key)", paycrypt_service(workdir)),
        ("pyemv 1.5.0 (kd + ac)", pyemv_same),
    ]
    for name, call in subjects:
        if call() != ARPC:
            raise AssertionError(f"{name} did not give the ARPC {ARPC}")
    runs: dict[str, list[float]] = {name: [] for name, _ in subjects}
    for _ in range(args.repeat):
        for name, call in subjects:  # interleaved, so drift on a shared machine hits all alike
            runs[name].append(harness.rate(call, args.inproc_seconds, batch=200))
    print("| in process: ARQC verify + ARPC method 2 (guide CVN18) | verifies/s (median) | µs each | runs |")
    print("|---|---:|---:|---|")
    for name, values in runs.items():
        median = statistics.median(values)
        spread = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {name} | {median:,.0f} | {1e6 / median:.1f} | {spread} |", flush=True)


# --- over HTTP -----------------------------------------------------------------------------------


def arqc_cases(endpoint: str, key_arn: str, count: int) -> list[dict[str, Any]]:
    """VerifyAuthRequestCryptogram inputs whose ARQCs the server generated, so each answers 200."""
    data = signing.client("payment-cryptography-data", endpoint)
    cases = []
    for i in range(count):
        session = {
            "EmvCommon": {
                "PrimaryAccountNumber": signing.luhn_pan(f"4{i:05d}12345"),
                "PanSequenceNumber": "01",
                "ApplicationTransactionCounter": f"{i + 1:04X}",
            }
        }
        common = {
            "KeyIdentifier": key_arn,
            "TransactionData": DATA,
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "SessionKeyDerivationAttributes": session,
        }
        arqc = data.generate_auth_request_cryptogram(**common)["AuthRequestCryptogram"]
        cases.append(
            {
                **common,
                "AuthRequestCryptogram": arqc,
                "AuthResponseAttributes": {"ArpcMethod2": {"CardStatusUpdate": CSU}},
            }
        )
    return cases


def over_http(args: argparse.Namespace, workdir: Path) -> None:
    load = f"load generator {args.load}, concurrency {args.concurrency}"
    print(f"\nover HTTP: uvicorn, {load}, {args.seconds:g} s per run")
    print(http_bench.HEADER, flush=True)
    with http_bench.running_server("uvicorn", "paycrypt", workdir) as (port, pid):
        endpoint = f"http://{http_bench.HOST}:{port}"
        control = signing.client("payment-cryptography", endpoint)
        imk_arn = control.create_key(KeyAttributes=E0, Exportable=True)["Key"]["KeyArn"]
        cases = arqc_cases(endpoint, imk_arn, http_bench.SIGNED_REQUESTS)
        arqc_verify = [
            signing.capture(
                "payment-cryptography-data",
                endpoint,
                lambda sdk, c=case: sdk.verify_auth_request_cryptogram(**c),
            )
            for case in cases
        ]
        cvk = signing.create_cvk(endpoint)
        cvv2_verify = signing.verify_requests(
            endpoint, cvk, signing.cvv2_cases(endpoint, cvk, http_bench.SIGNED_REQUESTS)
        )
        for scenario, requests in (
            ("arqc-verify+arpc2", arqc_verify),
            ("cvv2-verify (reference)", cvv2_verify),
        ):
            http_bench.check_requests(port, requests)
            requests_file = http_bench.write_requests(workdir / f"{scenario.split()[0]}.req", requests)
            http_bench.repeated("uvicorn", scenario, port, pid, requests_file, args)


def main() -> None:
    harness.main(__doc__, "emv", in_process, over_http, http_seconds=10.0, note=", {repeat} runs each\n")


if __name__ == "__main__":
    main()
