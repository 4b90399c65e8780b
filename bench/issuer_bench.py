"""Issuer benchmark: CVV2 verify, Visa PVV verify and IBM 3624 verify, in process and over HTTP.

What one run measures (issue 4, Performance):

1. In process, each for ``--inproc-seconds`` per repeat (median of ``--repeat`` runs), on a SQLite
   store with known keys (unsealed once, then cached, as on the server):
   - ``psec``: the same verification composed from psec 1.3.0's functions, the floor a Python
     implementation of the crypto alone reaches — CVV2: ``cvv.generate_cvv`` and a compare; PVV:
     ``des.decrypt_tdes_ecb``, ``pinblock.decode_pinblock_iso_0``, ``pin.generate_visa_pvv`` and a
     compare. psec has no IBM 3624 verify of an encrypted block to compare with (its
     ``pin.generate_ibm3624_offset`` is measured composed the same way as PVV, for reference).
   - ``paycrypt crypto``: paycrypt's crypto modules alone, composed the same way;
   - ``paycrypt service``: the service functions the server calls (`card_validation.
     verify_card_validation_data`, `pin_data.verify_pin_data`): key lookup by ARN, state and
     usage checks, cached key material, the crypto, a constant-time compare.
2. Over HTTP, the three verifications against ``paycrypt serve`` (uvicorn) with
   bench/http_bench.py's machinery: the keys are stored in the server's data directory before it
   starts (as ImportKey would), botocore signs 16 distinct requests once, and wrk (or
   bench/loadgen.py) replays them over keep-alive connections; every response must be 200.

Run: ``python bench/issuer_bench.py`` (``--help`` for the knobs). Figures: bench/README.md,
"Issuer verifications".
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import http_bench
import signing
from psec import cvv as psec_cvv
from psec import des as psec_des
from psec import pin as psec_pin
from psec import pinblock as psec_pinblock

from paycrypt.crypto import cvv, ibm3624, pinblock, primitives, visa_pvv
from paycrypt.service.core import Service
from paycrypt.service.issuer import card_validation, pin_data

warnings.filterwarnings("ignore", message=".*TripleDES.*")

EXPIRY = "1228"
DEC = "0123456789012345"
GEN_VERIFY = {"Generate": True, "Verify": True}
EDWU = harness.EDWU
_store = harness.store_known_key  # (svc, material, usage, algorithm, modes) -> ARN
TDES = "TDES_2KEY"


class Keys:
    """The known keys of one run, stored in a Service's store."""

    def __init__(self, svc: Service) -> None:
        self.cvk = primitives.set_odd_parity(secrets.token_bytes(16))
        self.pvk = primitives.set_odd_parity(secrets.token_bytes(16))
        self.pek = primitives.set_odd_parity(secrets.token_bytes(16))
        self.arn = {
            "cvk": _store(svc, self.cvk, "TR31_C0_CARD_VERIFICATION_KEY", TDES, GEN_VERIFY),
            "visa": _store(svc, self.pvk, "TR31_V2_VISA_PIN_VERIFICATION_KEY", TDES, GEN_VERIFY),
            "ibm": _store(svc, self.pvk, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", TDES, GEN_VERIFY),
            "pek": _store(svc, self.pek, "TR31_P0_PIN_ENCRYPTION_KEY", TDES, EDWU),
        }


def _card(i: int) -> tuple[str, str]:
    """(PAN, PIN) of the i-th test card."""
    return signing.luhn_pan(f"4{i:05d}12345"), f"{(i * 7919) % 10000:04d}"


def cvv2_request(k: Keys, i: int) -> dict[str, Any]:
    pan, _ = _card(i)
    return {
        "KeyIdentifier": k.arn["cvk"],
        "PrimaryAccountNumber": pan,
        "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": EXPIRY}},
        "ValidationData": cvv.cvv(k.cvk, pan, EXPIRY, "000"),
    }


def pvv_request(k: Keys, i: int) -> dict[str, Any]:
    pan, pin = _card(i)
    return {
        "VerificationKeyIdentifier": k.arn["visa"],
        "EncryptionKeyIdentifier": k.arn["pek"],
        "VerificationAttributes": {
            "VisaPin": {
                "PinVerificationKeyIndex": 1,
                "VerificationValue": visa_pvv.generate_pvv(k.pvk, pan, 1, pin),
            }
        },
        "EncryptedPinBlock": pinblock.encrypt_pin(k.pek, "ISO_FORMAT_0", pin, pan),
        "PrimaryAccountNumber": pan,
        "PinBlockFormat": "ISO_FORMAT_0",
    }


def ibm_request(k: Keys, i: int) -> dict[str, Any]:
    pan, pin = _card(i)
    validation = pan[:16]
    return {
        "VerificationKeyIdentifier": k.arn["ibm"],
        "EncryptionKeyIdentifier": k.arn["pek"],
        "VerificationAttributes": {
            "Ibm3624Pin": {
                "DecimalizationTable": DEC,
                "PinValidationDataPadCharacter": "F",
                "PinValidationData": validation,
                "PinOffset": ibm3624.pin_offset(k.pvk, DEC, validation, "F", pin),
            }
        },
        "EncryptedPinBlock": pinblock.encrypt_pin(k.pek, "ISO_FORMAT_0", pin, pan),
        "PrimaryAccountNumber": pan,
        "PinBlockFormat": "ISO_FORMAT_0",
    }


# --- in process -----------------------------------------------------------------------------------


def verifications(svc: Service) -> list[tuple[str, str, Callable[[], Any]]]:
    """(operation, implementation, call) of each verification, on keys stored in `svc` (bench/run.py
    takes its psec and service pairs from here)."""
    k = Keys(svc)
    ctx = harness.context(svc.clock.now())
    cvv2, pvv, ibm = cvv2_request(k, 1), pvv_request(k, 1), ibm_request(k, 1)
    pan = cvv2["PrimaryAccountNumber"]
    block = bytes.fromhex(pvv["EncryptedPinBlock"])
    visa = pvv["VerificationAttributes"]["VisaPin"]
    offset = ibm["VerificationAttributes"]["Ibm3624Pin"]["PinOffset"]

    def psec_cvv2() -> bool:
        return psec_cvv.generate_cvv(k.cvk, pan, EXPIRY, "000") == cvv2["ValidationData"]

    def psec_pvv() -> bool:
        pin = psec_pinblock.decode_pinblock_iso_0(psec_des.decrypt_tdes_ecb(k.pek, block), pan)
        return psec_pin.generate_visa_pvv(k.pvk, "1", pin[:4], pan) == visa["VerificationValue"]

    def psec_ibm() -> bool:
        pin = psec_pinblock.decode_pinblock_iso_0(psec_des.decrypt_tdes_ecb(k.pek, block), pan)
        return psec_pin.generate_ibm3624_offset(k.pvk, DEC, pin, pan[:16], 0, 16, "F") == offset

    def crypto_cvv2() -> bool:
        return primitives.constant_time_equal(cvv.cvv(k.cvk, pan, EXPIRY, "000"), cvv2["ValidationData"])

    def crypto_pvv() -> bool:
        pin = pinblock.decrypt_pin(k.pek, "ISO_FORMAT_0", pvv["EncryptedPinBlock"], pan)
        return primitives.constant_time_equal(
            visa_pvv.generate_pvv(k.pvk, pan, 1, pin), visa["VerificationValue"]
        )

    def crypto_ibm() -> bool:
        pin = pinblock.decrypt_pin(k.pek, "ISO_FORMAT_0", pvv["EncryptedPinBlock"], pan)
        return ibm3624.verify_offset(k.pvk, DEC, pan[:16], "F", pin, offset)

    return [
        ("CVV2 verify", "psec (crypto only)", psec_cvv2),
        ("CVV2 verify", "paycrypt crypto", crypto_cvv2),
        (
            "CVV2 verify",
            "paycrypt service",
            lambda: card_validation.verify_card_validation_data(svc, ctx, cvv2),
        ),
        ("PVV verify", "psec (crypto only)", psec_pvv),
        ("PVV verify", "paycrypt crypto", crypto_pvv),
        ("PVV verify", "paycrypt service", lambda: pin_data.verify_pin_data(svc, ctx, pvv)),
        ("IBM 3624 verify", "psec (crypto only)", psec_ibm),
        ("IBM 3624 verify", "paycrypt crypto", crypto_ibm),
        ("IBM 3624 verify", "paycrypt service", lambda: pin_data.verify_pin_data(svc, ctx, ibm)),
    ]


def in_process(args: argparse.Namespace, workdir: Path) -> None:
    scenarios = verifications(harness.inproc_service(workdir))
    for _, _, call in scenarios:  # every path agrees that the value verifies
        assert call() is not False
    print(f"\nin process ({args.inproc_seconds:g} s each, median of {args.repeat})")
    print("| operation | implementation | verifications/s | µs each |\n|---|---|---:|---:|", flush=True)
    for operation, implementation, call in scenarios:
        median = statistics.median(harness.rate(call, args.inproc_seconds) for _ in range(args.repeat))
        print(f"| {operation} | {implementation} | {median:,.0f} | {1e6 / median:.1f} |", flush=True)


# --- over HTTP ------------------------------------------------------------------------------------


def over_http(args: argparse.Namespace, workdir: Path) -> None:
    with harness.server_data_service(workdir) as svc:
        k = Keys(svc)
    count = http_bench.SIGNED_REQUESTS
    scenarios = [
        ("CVV2 verify", "verify_card_validation_data", [cvv2_request(k, i) for i in range(count)]),
        ("PVV verify", "verify_pin_data", [pvv_request(k, i) for i in range(count)]),
        ("IBM 3624 verify", "verify_pin_data", [ibm_request(k, i) for i in range(count)]),
    ]
    harness.replay(args, workdir, "issuer", scenarios)


def main() -> None:
    harness.main(__doc__, "issuer", in_process, over_http)


if __name__ == "__main__":
    main()
