"""No clear key material in any module-global: the key cache that the server builds and passes in
(src/paycrypt/vault/keycache.py) is the one place that holds it, so forget(arn) reaches all of it.

Two checks over every module of paycrypt:
- every module-level cache (an `lru_cache`/`cache` function, a weak dictionary), at module level or
  on a class, is one of a known list whose entries are not key material, each with what it holds:
  a new one must say so here, and must not take key material (the contents of an `lru_cache`
  cannot be inspected, so the list is the check);
- after a run of operations that unseal and derive keys (CVV2, DUKPT, RSA decryption, the service
  CA signing, an import token), no module global holds, at any depth, a clear key that run used
  (raw or as hex), a DUKPT transaction secret, a parsed private key, or a cipher context (a
  `CipherKey`'s or any other: the key inside one is out of this walk's sight).
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import weakref
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import CipherContext

import paycrypt
from paycrypt.crypto import dukpt_variants
from paycrypt.crypto.primitives import CipherKey
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import key_certificates, parameters
from paycrypt.service.issuer import card_validation
from paycrypt.service.keys import lifecycle
from paycrypt.service.transactions import data_encryption

# Module-level caches and what they hold; none holds key material.
KNOWN_CACHES = {
    "paycrypt.arns.parse": "key and alias ARNs requests name, split into region, account and resource",
    "paycrypt.audit.events._user_identity": "the caller identity block of audit events",
    "paycrypt.audit.events._head": "an audit event's start: its version and the caller identity block",
    "paycrypt.audit.events._tail": "an audit event's end: the plane's constants and the caller's account",
    "paycrypt.auth.sigv4.canonical_uri": "request paths, normalised",
    "paycrypt.console.render.environment": "the console's Jinja2 environment (its templates)",
    "paycrypt.auth.sigv4._parse_timestamp": "X-Amz-Date values, parsed",
    "paycrypt.auth.sigv4._scope_passed": "SigV4 credential scopes (access key id, date, region, service) "
    "that passed their checks",
    "paycrypt.auth.sigv4._signed_header_names": "SignedHeaders lists, sorted",
    "paycrypt.auth.sigv4.signing_key": "SigV4 signing keys, derived from access-key secrets (credentials, "
    "not payment keys; the credential store holds the secrets themselves)",
    "paycrypt.policy.conditions._compiled": "compiled condition patterns",
    "paycrypt.policy.evaluation._parse_text": "parsed policy documents",
}

TERMINAL_KSN = "123456789012345600000001"


def modules() -> Iterator[types.ModuleType]:
    for info in pkgutil.walk_packages(paycrypt.__path__, "paycrypt."):
        yield importlib.import_module(info.name)


def is_cache(value: object) -> bool:
    return hasattr(value, "cache_info") or isinstance(
        value, weakref.WeakKeyDictionary | weakref.WeakValueDictionary
    )


def module_caches() -> dict[str, object]:
    found: dict[str, object] = {}
    for module in modules():
        for name, value in vars(module).items():
            owner = getattr(value, "__module__", module.__name__)
            if is_cache(value) and owner == module.__name__:
                found[f"{module.__name__}.{name}"] = value
            if isinstance(value, type) and value.__module__ == module.__name__:
                for attribute, member in vars(value).items():
                    if is_cache(member):
                        found[f"{module.__name__}.{name}.{attribute}"] = member
    return found


def test_every_module_level_cache_is_known_and_holds_no_key_material() -> None:
    unknown = sorted(set(module_caches()) - set(KNOWN_CACHES))
    assert unknown == [], f"module-level caches not in KNOWN_CACHES (what do they hold?): {unknown}"


def run_operations(svc: Service, ctx: Context) -> list[bytes]:
    """Operations on `svc` that unseal keys and derive from them; the clear keys they used."""

    def create(algorithm: str, usage: str, key_class: str, modes: dict[str, bool]) -> str:
        attributes = {
            "KeyAlgorithm": algorithm,
            "KeyUsage": usage,
            "KeyClass": key_class,
            "KeyModesOfUse": modes,
        }
        return lifecycle.create_key(svc, ctx, {"KeyAttributes": attributes, "Exportable": True})["Key"][
            "KeyArn"
        ]

    cvk = create(
        "TDES_2KEY", "TR31_C0_CARD_VERIFICATION_KEY", "SYMMETRIC_KEY", {"Generate": True, "Verify": True}
    )
    bdk = create("AES_128", "TR31_B0_BASE_DERIVATION_KEY", "SYMMETRIC_KEY", {"DeriveKey": True})
    pair = create(
        "RSA_2048",
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        "ASYMMETRIC_KEY_PAIR",
        {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    )
    card_validation.generate_card_validation_data(
        svc,
        ctx,
        {
            "KeyIdentifier": cvk,
            "PrimaryAccountNumber": "4123456789012345",
            "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}},
        },
    )
    data_encryption.encrypt_data(
        svc,
        ctx,
        {
            "KeyIdentifier": bdk,
            "PlainText": "00112233445566778899AABBCCDDEEFF",
            "EncryptionAttributes": {"Dukpt": {"KeySerialNumber": TERMINAL_KSN, "Mode": "ECB"}},
        },
    )
    rsa_attributes = {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}
    out = data_encryption.encrypt_data(
        svc, ctx, {"KeyIdentifier": pair, "PlainText": "00112233", "EncryptionAttributes": rsa_attributes}
    )
    data_encryption.decrypt_data(
        svc,
        ctx,
        {"KeyIdentifier": pair, "CipherText": out["CipherText"], "DecryptionAttributes": rsa_attributes},
    )
    key_certificates.get_public_key_certificate(svc, ctx, {"KeyIdentifier": pair})  # the RSA service CA signs
    parameters.get_parameters_for_import(
        svc, ctx, {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}
    )

    records = [svc.store.get_key(arn) for arn in (cvk, bdk, pair)]
    records += [
        svc.store.get_exchange_key(f"arn:aws:payment-cryptography:us-east-1:{ctx.account}:service-ca/RSA")
    ]
    clear = [svc.keycache.material(record) for record in records if record is not None]
    ksn = dukpt_variants.full_ksn(bytes.fromhex(TERMINAL_KSN), "AES_128")
    clear.append(dukpt_variants.transaction_secret(clear[1], "AES_128", ksn))
    assert len(clear) == 5
    return clear


def walk(value: Any, depth: int, seen: set[int]) -> Iterator[Any]:
    """`value` and what it holds (containers, and the attributes of plain objects), to `depth`."""
    if id(value) in seen or depth < 0:
        return
    seen.add(id(value))
    yield value
    if isinstance(value, types.ModuleType | types.FunctionType | types.BuiltinFunctionType | type):
        return
    if isinstance(value, dict | types.MappingProxyType):
        children: list[Any] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        children = list(value)
    elif isinstance(value, str | bytes | bytearray | int | float | bool) or value is None:
        children = []
    else:
        children = list(getattr(value, "__dict__", {}).values())
        children += [getattr(value, slot, None) for slot in getattr(type(value), "__slots__", ())]
    for child in children:
        yield from walk(child, depth - 1, seen)


def test_no_module_global_holds_key_material_after_a_run(svc: Service, ctx: Context) -> None:
    clear = run_operations(svc, ctx)
    raw = list(clear)
    text = [form for key in clear for form in (key.hex(), key.hex().upper())]
    findings: list[str] = []
    seen: set[int] = {id(svc)}  # the service holds the cache on purpose; it is no module global
    for module in modules():
        for name, value in vars(module).items():
            for held in walk(value, 6, seen):
                where = f"{module.__name__}.{name}"
                if isinstance(held, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                    findings.append(f"{where}: a parsed private key")
                elif isinstance(held, CipherKey | CipherContext):  # its key is inside, out of sight
                    findings.append(f"{where}: a key's cipher context")
                elif isinstance(held, bytes | bytearray) and any(key in held for key in raw):
                    findings.append(f"{where}: a clear key")
                elif isinstance(held, str) and any(form in held for form in text):
                    findings.append(f"{where}: a clear key in hex")
    assert findings == []
    assert len(svc.keycache) >= len(clear)  # ...while the key cache holds every one of them
    kept = [entry.value for entry in svc.keycache._table.values() if isinstance(entry.value, CipherKey)]
    assert any(any(kept_key._contexts) for kept_key in kept)  # ...with the CVK's contexts CVV2 built
