"""DUKPT working keys for data-plane operations: one place from (BDK, KSN, members) to a key.

Every operation that takes DukptAttributes (MACs, data encryption, and PIN translation) derives
its working key here, so the members' defaults, the errors that name them, and the cache are the
same everywhere. The table from DukptKeyVariant to the standards' keys is in
`crypto.dukpt_variants`.

Cache (measured in bench/README.md): deriving a transaction key walks the KSN counter's one-bits
(up to 10 TDES or 16 AES steps, ~50–250 µs), while turning it into a PIN, MAC or data key is
one or two cipher calls. A terminal transaction uses one KSN for all of its keys (the request
MAC, the data, the PIN, then the response MAC), so the per-transaction secret is kept per
(BDK, KSN) in the service's key cache (`vault.keycache`), beside the unsealed BDK it comes from.
It is reached only after the BDK has been resolved and its usage checked, and it is forgotten
with the BDK (DeleteKey, StopKeyUsage, purge).
"""

from __future__ import annotations

from paycrypt.crypto import dukpt_variants
from paycrypt.crypto.dukpt_tdes import InvalidKsnError
from paycrypt.crypto.dukpt_variants import DukptKey, Purpose
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.store.records import KeyRecord

__all__ = ["TRANSACTION_SECRET", "DukptKey", "Purpose", "working_key"]

TRANSACTION_SECRET = "dukpt-transaction-secret"  # the key cache's kind: (this, KSN)


def working_key(
    svc: Service,
    record: KeyRecord,
    ksn_hex: str,
    purpose: Purpose,
    variant: str | None,
    derivation_type: str | None,
    *,
    ksn_path: str,
    type_path: str,
) -> DukptKey:
    """The working key for a stored BDK whose usage the caller has checked.

    `ksn_path` and `type_path` name the KeySerialNumber and derivation-type members in errors.
    """
    algorithm = record.key_attributes["KeyAlgorithm"]
    ksn = dukpt_variants.full_ksn(bytes.fromhex(ksn_hex), algorithm)
    try:
        secret = svc.keycache.derived(
            record,
            (TRANSACTION_SECRET, ksn),
            lambda bdk: dukpt_variants.transaction_secret(bdk, algorithm, ksn),
        )
    except InvalidKsnError as exc:
        raise invalid(ksn_path, str(exc)) from None
    try:
        return dukpt_variants.working_key(secret, algorithm, ksn, purpose, variant, derivation_type)
    except ValueError as exc:
        raise invalid(type_path, str(exc)) from None
