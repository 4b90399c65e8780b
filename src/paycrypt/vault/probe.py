"""Is the vault usable now? A readiness probe's question (wire/health.py).

The probe seals a fresh random key for a record that names no stored key, and unseals it again:
the whole path a call takes to its key material, through the master key (in a file, or in a
PKCS#11 token whose session may have been lost), without touching any stored key. The material
is never kept: it lives for the one round trip.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from paycrypt.store.records import KeyRecord
from paycrypt.vault.base import Vault

PROBE_ARN = "paycrypt:readiness-probe"  # not an ARN any key can have


class VaultUnusable(Exception):
    """The vault sealed and unsealed without an error, but gave back other material."""


def check(vault: Vault) -> None:
    """Raise unless `vault` seals a key and unseals the same key back."""
    record = KeyRecord(
        arn=PROBE_ARN,
        account="000000000000",
        region="-",
        key_id="readiness-probe",
        key_attributes={
            "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
            "KeyAlgorithm": "AES_128",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
        },
        key_check_value="",
        key_check_value_algorithm="CMAC",
        enabled=False,
        exportable=False,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime.now(dt.UTC),
        key_block="",
    )
    material = secrets.token_bytes(16)
    block = vault.seal(record, material)
    if not hmac.compare_digest(vault.unseal(record, block), material):
        raise VaultUnusable("the vault unsealed other material than it sealed")
