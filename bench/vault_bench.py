"""The PKCS#11 vault against the file vault, in one run (issue 16, Performance).

1. Unseal rate, in process: N keys sealed by each vault, then each unsealed once (every unseal a
   miss, as after a restart): unseals/s, and seals/s. The PKCS#11 vault asks the token to unwrap
   each block's KBPK; the file vault holds its master key.
2. CVV2 verify over HTTP with a warm key cache: `paycrypt serve --vault file` and `paycrypt serve
   --vault pkcs11` (SoftHSM2), the same pre-signed VerifyCardValidationData requests replayed by
   wrk (or bench/loadgen.py), as bench/http_bench.py does. The runs alternate file, pkcs11, file,
   pkcs11 … so a noisy neighbour hits both alike; the ratio is pkcs11 ÷ file of the medians.

SoftHSM2 (Debian `softhsm2`) is set up under a temporary directory of its own: SOFTHSM2_CONF, a
token, a random PIN in a 0600 file, and the master key made by `paycrypt vault init`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import http_bench
import signing

from paycrypt.crypto import keygen
from paycrypt.store.records import KeyRecord
from paycrypt.vault.base import Vault
from paycrypt.vault.factory import PKCS11, VaultSettings, open_vault

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TOKEN = "paycrypt-bench"


def softhsm(base: Path) -> VaultSettings:
    """A SoftHSM2 token under `base` with its master key; SOFTHSM2_CONF set for us and our children."""
    (base / "tokens").mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin, pin_file = secrets.token_hex(8), base / "user.pin"
    pin_file.touch(mode=0o600)
    pin_file.write_text(pin + "\n")
    init = ["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--pin", pin]
    subprocess.run([*init, "--so-pin", secrets.token_hex(8)], check=True, capture_output=True)
    settings = VaultSettings(PKCS11, MODULE, TOKEN, pin_file=pin_file)
    paycrypt = Path(sys.executable).parent / "paycrypt"
    vault_init = [str(paycrypt), "vault", "init", "--data-dir", str(base), *serve_options(settings)]
    subprocess.run(vault_init, check=True, capture_output=True)
    return settings


def serve_options(settings: VaultSettings) -> tuple[str, ...]:
    if settings.kind != PKCS11:
        return ("--vault", "file")
    return (
        *(
            "--vault",
            PKCS11,
            "--pkcs11-module",
            str(settings.module),
            "--pkcs11-token",
            str(settings.token_label),
        ),
        *("--pkcs11-pin-file", str(settings.pin_file)),
    )


def record(n: int) -> KeyRecord:
    arn = f"arn:aws:payment-cryptography:us-east-1:111122223333:key/bench{n:011d}"
    return KeyRecord(
        arn=arn,
        account="111122223333",
        region="us-east-1",
        key_id=arn.rsplit("/", 1)[1],
        key_attributes={
            "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
            "KeyAlgorithm": "TDES_2KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {"Generate": True, "Verify": True},
        },
        key_check_value="000000",
        key_check_value_algorithm="ANSI_X9_24",
        enabled=True,
        exportable=False,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime.now(dt.UTC),
        key_block="",
    )


def unseal_rate(vault: Vault, keys: int) -> tuple[float, float]:
    """(seals/s, unseals/s) over `keys` distinct keys, each unsealed once."""
    records = [record(n) for n in range(keys)]
    started = time.perf_counter()
    sealed = [dataclasses.replace(r, key_block=vault.seal(r, keygen.generate("TDES_2KEY"))) for r in records]
    sealing = time.perf_counter() - started
    started = time.perf_counter()
    for r in sealed:
        vault.unseal(r, r.key_block)
    return keys / sealing, keys / (time.perf_counter() - started)


def http_run(
    kind: str, settings: VaultSettings, args: argparse.Namespace, workdir: Path
) -> http_bench.Result:
    """One server on `settings`' vault: a CVK, CVV2 verify requests signed once, warm-up, measure."""
    workdir.mkdir(parents=True)
    with http_bench.running_server("uvicorn", "paycrypt", workdir, serve_options(settings)) as (port, pid):
        endpoint = f"http://{http_bench.HOST}:{port}"
        key_arn = signing.create_cvk(endpoint)
        requests = signing.verify_requests(
            endpoint, key_arn, signing.cvv2_cases(endpoint, key_arn, http_bench.SIGNED_REQUESTS)
        )
        http_bench.check_requests(port, requests)  # the key is unsealed: the cache is warm
        requests_file = http_bench.write_requests(workdir / "cvv2.req", requests)
        return http_bench.measure(kind, "cvv2-verify", port, pid, requests_file, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=2000, help="keys sealed and unsealed per vault")
    parser.add_argument("--repeat", type=int, default=3, help="runs per vault, alternating")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per HTTP run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args()
    if not MODULE.is_file() or shutil.which("softhsm2-util") is None:
        parser.error("needs softhsm2 (apt-get install softhsm2)")
    with tempfile.TemporaryDirectory(prefix="paycrypt-vault-bench-") as tmp:
        base = Path(tmp)
        vaults = {"file": VaultSettings(), "pkcs11": softhsm(base / "softhsm")}
        print(f"## Unseal rate, in process ({args.keys} keys, each unsealed once)\n")
        print("| vault | run | seals/s | unseals/s |\n|---|---:|---:|---:|")
        rates: dict[str, list[float]] = {kind: [] for kind in vaults}
        for run in range(args.repeat):
            for kind, settings in vaults.items():
                vault = open_vault(settings, base / f"unseal-{kind}")
                seals, unseals = unseal_rate(vault, args.keys)
                rates[kind].append(unseals)
                print(f"| {kind} | {run + 1} | {seals:,.0f} | {unseals:,.0f} |", flush=True)
        print(f"\n## CVV2 verify over HTTP, warm cache ({args.load}, {args.concurrency} connections)\n")
        print(http_bench.HEADER.replace("| stack |", "| vault |"), flush=True)
        served: dict[str, list[float]] = {kind: [] for kind in vaults}
        for run in range(args.repeat):
            for kind, settings in vaults.items():
                result = http_run(kind, settings, args, base / f"http-{kind}-{run}")
                served[kind].append(result.rps)
                print(result.row(), flush=True)
        unseal_ratio = statistics.median(rates["pkcs11"]) / statistics.median(rates["file"])
        http_ratio = statistics.median(served["pkcs11"]) / statistics.median(served["file"])
        print(f"\nmedian unseals/s, pkcs11 / file: {unseal_ratio:.3f}")
        print(f"median CVV2 verify req/s over HTTP, pkcs11 / file: {http_ratio:.3f}")


if __name__ == "__main__":
    main()
