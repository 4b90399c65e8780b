"""PIN translation benchmark: TranslatePinData PEK→PEK and DUKPT→PEK, in process and over HTTP.

What one run measures (issues 6 and 7):

1. In process, each for ``--inproc-seconds`` of CPU time per repeat (median of ``--repeat`` runs;
   the rate is per CPU second of the benchmark process, so a neighbour's job does not count):
   - ``psec PEK→PEK``: the same translation composed from psec 1.3.0's functions (des.decrypt_tdes_ecb,
     pinblock.decode_pinblock_iso_0, pinblock.encode_pinblock_iso_0, des.encrypt_tdes_ecb): the
     floor a Python implementation of the crypto alone reaches;
   - ``paycrypt PEK→PEK``: `service.pin_translation.translate_pin_data` on a SQLite store, TDES
     PEK to TDES PEK, ISO format 0 to 0 (key lookup, usage checks, cached unsealed keys, crypto),
     and AES-128 PEK to AES-128 PEK, ISO format 4 to 4;
   - ``paycrypt DUKPT→PEK`` for a TDES BDK (X9.24-1, ISO 0 → ISO 0) and an AES-128 BDK (X9.24-3,
     ISO 4 → ISO 4 under an AES PEK), each with the DUKPT transaction secret in the key cache
     (`vault.keycache`; the same KSN again: a hit) and without it (secrets derived afresh, and a
     fresh KSN per call: what a terminal's next transaction costs). KSN counters are spread over
     1–10 one-bits (TDES) and 1–12 (AES), as a terminal's life spreads them.
2. Over HTTP, the same four paycrypt translations against ``paycrypt serve`` (uvicorn) with
   bench/http_bench.py's machinery: the known keys are stored in the server's data directory
   before it starts (as ImportKey would), botocore signs the requests once, and wrk (or
   bench/loadgen.py) replays them over keep-alive connections. DUKPT is measured twice: 16
   requests replayed (the transaction cache hits after the first round) and 6,000 distinct KSNs
   replayed round robin (the server runs with a 4,096-entry key cache, so every request misses:
   the terminal-traffic case).

Run: ``python bench/pin_translation_bench.py`` (``--help`` for the knobs).
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
import http_bench
from psec import des as psec_des
from psec import pinblock as psec_pinblock

from paycrypt.crypto import dukpt_variants, pinblock, primitives
from paycrypt.service.core import Service
from paycrypt.service.transactions import pin_translation

warnings.filterwarnings("ignore", message=".*TripleDES.*")

PAN = "4012345678909"
PIN = "1234"
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 Annex A
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3-2017 supplement
EDWU = harness.EDWU
_store = harness.store_known_key  # (svc, material, usage, algorithm, modes) -> ARN
MISS_REQUESTS = 6000  # distinct DUKPT requests over HTTP: more than harness.DUKPT_SERVE_OPTIONS' cache


# --- keys and requests ------------------------------------------------------------------------------


class Keys:
    """The known keys of one run, stored in a Service's store."""

    def __init__(self, svc: Service) -> None:
        self.pek_in = primitives.set_odd_parity(secrets.token_bytes(16))
        self.pek_out = primitives.set_odd_parity(secrets.token_bytes(16))
        self.aes_pek = secrets.token_bytes(16)
        self.aes_pek_in = secrets.token_bytes(16)
        self.arn = {
            "pek_in": _store(svc, self.pek_in, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU),
            "pek_out": _store(svc, self.pek_out, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU),
            "aes_pek": _store(svc, self.aes_pek, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", EDWU),
            "aes_pek_in": _store(svc, self.aes_pek_in, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", EDWU),
            "tdes_bdk": _store(
                svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True}
            ),
            "aes_bdk": _store(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", {"DeriveKey": True}),
        }


def _dukpt_block(standard: str, ksn: str) -> str:
    bdk, algorithm, fmt = (
        (TDES_BDK, "TDES_2KEY", "ISO_FORMAT_0")
        if standard == "TDES"
        else (
            AES_BDK,
            "AES_128",
            "ISO_FORMAT_4",
        )
    )
    key = dukpt_variants.derive(bdk, algorithm, bytes.fromhex(ksn), dukpt_variants.Purpose.PIN).key
    return pinblock.encrypt_pin(key, fmt, PIN, PAN)


def pek_request(k: Keys) -> dict[str, Any]:
    return {
        "IncomingKeyIdentifier": k.arn["pek_in"],
        "OutgoingKeyIdentifier": k.arn["pek_out"],
        "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        "OutgoingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        "EncryptedPinBlock": pinblock.encrypt_pin(k.pek_in, "ISO_FORMAT_0", PIN, PAN),
    }


def aes_pek_request(k: Keys) -> dict[str, Any]:
    """AES-128 PEK to AES-128 PEK, ISO format 4 to 4."""
    return {
        "IncomingKeyIdentifier": k.arn["aes_pek_in"],
        "OutgoingKeyIdentifier": k.arn["aes_pek"],
        "IncomingTranslationAttributes": {"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        "OutgoingTranslationAttributes": {"IsoFormat4": {"PrimaryAccountNumber": PAN}},
        "EncryptedPinBlock": pinblock.encrypt_pin(k.aes_pek_in, "ISO_FORMAT_4", PIN, PAN),
    }


def dukpt_request(k: Keys, standard: str, ksn: str) -> dict[str, Any]:
    fmt = "IsoFormat0" if standard == "TDES" else "IsoFormat4"
    return {
        "IncomingKeyIdentifier": k.arn["tdes_bdk" if standard == "TDES" else "aes_bdk"],
        "OutgoingKeyIdentifier": k.arn["pek_out" if standard == "TDES" else "aes_pek"],
        "IncomingTranslationAttributes": {fmt: {"PrimaryAccountNumber": PAN}},
        "OutgoingTranslationAttributes": {fmt: {"PrimaryAccountNumber": PAN}},
        "EncryptedPinBlock": _dukpt_block(standard, ksn),
        "IncomingDukptAttributes": {"KeySerialNumber": ksn},
    }


def psec_translation(k: Keys, pek: dict[str, Any]) -> Callable[[], str]:
    """The PEK→PEK translation of `pek` (pek_request) composed from psec's functions (bench/run.py
    uses it too)."""
    block = bytes.fromhex(pek["EncryptedPinBlock"])

    def psec_pek_to_pek() -> str:
        clear = psec_des.decrypt_tdes_ecb(k.pek_in, block)
        pin = psec_pinblock.decode_pinblock_iso_0(clear, PAN)
        return psec_des.encrypt_tdes_ecb(k.pek_out, psec_pinblock.encode_pinblock_iso_0(pin, PAN)).hex()

    return psec_pek_to_pek


# --- in process -----------------------------------------------------------------------------------


def in_process(args: argparse.Namespace, workdir: Path) -> list[tuple[str, float]]:
    svc = harness.inproc_service(workdir)
    k = Keys(svc)
    ctx = harness.context(svc.clock.now())
    pek = pek_request(k)
    aes_pek = aes_pek_request(k)
    psec_pek_to_pek = psec_translation(k, pek)
    assert bytes.fromhex(psec_pek_to_pek()) == bytes.fromhex(
        pin_translation.translate_pin_data(svc, ctx, pek)["PinBlock"]
    )

    aes_out = pin_translation.translate_pin_data(svc, ctx, aes_pek)["PinBlock"]
    assert psec_pinblock.decipher_pinblock_iso_4(k.aes_pek, bytes.fromhex(aes_out), PAN) == PIN

    def fresh(standard: str, count: int = 20000) -> Callable[[], Any]:
        """Translations of distinct transactions (a fresh KSN each call)."""
        requests = [
            dukpt_request(k, standard, ksn) for ksn in itertools.islice(harness.ksns(standard), count)
        ]
        cycle = itertools.cycle(requests)
        return lambda: pin_translation.translate_pin_data(svc, ctx, next(cycle))

    def repeated(standard: str) -> Callable[[], Any]:
        request = dukpt_request(k, standard, next(harness.ksns(standard)))
        return lambda: pin_translation.translate_pin_data(svc, ctx, request)

    scenarios: list[tuple[str, Callable[[], Any], bool]] = [
        ("psec PEK→PEK (TDES, ISO 0→0), crypto only", psec_pek_to_pek, True),
        ("paycrypt PEK→PEK (TDES, ISO 0→0)", lambda: pin_translation.translate_pin_data(svc, ctx, pek), True),
        (
            "paycrypt PEK→PEK (AES-128, ISO 4→4)",
            lambda: pin_translation.translate_pin_data(svc, ctx, aes_pek),
            True,
        ),
        ("paycrypt DUKPT→PEK TDES, cache hit (same KSN)", repeated("TDES"), True),
        ("paycrypt DUKPT→PEK TDES, no cache (fresh KSN)", fresh("TDES"), False),
        ("paycrypt DUKPT→PEK AES-128 ISO 4, cache hit (same KSN)", repeated("AES"), True),
        ("paycrypt DUKPT→PEK AES-128 ISO 4, no cache (fresh KSN)", fresh("AES"), False),
    ]
    results = []
    print("\n| in process | translations per CPU s | CPU µs each |\n|---|---:|---:|", flush=True)
    for name, call, cached in scenarios:
        harness.use_keycache(svc, cached)
        rates = [harness.rate(call, args.inproc_seconds, clock=time.process_time) for _ in range(args.repeat)]
        median = statistics.median(rates)
        results.append((name, median))
        print(f"| {name} | {median:,.0f} | {1e6 / median:.1f} |", flush=True)
    harness.use_keycache(svc, derivations=True)
    return results


# --- over HTTP ------------------------------------------------------------------------------------


def over_http(args: argparse.Namespace, workdir: Path) -> None:
    with harness.server_data_service(workdir) as svc:
        k = Keys(svc)
    tdes_ksns = list(itertools.islice(harness.ksns("TDES"), MISS_REQUESTS))
    aes_ksns = list(itertools.islice(harness.ksns("AES"), MISS_REQUESTS))
    translate = "translate_pin_data"
    scenarios = [
        ("PEK→PEK TDES ISO 0", translate, [pek_request(k)] * http_bench.SIGNED_REQUESTS),
        ("PEK→PEK AES ISO 4", translate, [aes_pek_request(k)] * http_bench.SIGNED_REQUESTS),
        (
            "DUKPT→PEK TDES, 16 KSNs (cache hits)",
            translate,
            [dukpt_request(k, "TDES", n) for n in tdes_ksns[:16]],
        ),
        ("DUKPT→PEK TDES, 6000 KSNs (misses)", translate, [dukpt_request(k, "TDES", n) for n in tdes_ksns]),
        (
            "DUKPT→PEK AES ISO 4, 16 KSNs (cache hits)",
            translate,
            [dukpt_request(k, "AES", n) for n in aes_ksns[:16]],
        ),
        (
            "DUKPT→PEK AES ISO 4, 6000 KSNs (misses)",
            translate,
            [dukpt_request(k, "AES", n) for n in aes_ksns],
        ),
    ]
    harness.replay(args, workdir, "pin", scenarios, harness.DUKPT_SERVE_OPTIONS)


def main() -> None:
    harness.main(__doc__, "pin", in_process, over_http)


if __name__ == "__main__":
    main()
