"""Known test keys for known-answer tests, two ways.

- `import_known_key_via_api(control, material, usage, algorithm, modes)` loads a published key the
  way a user would, through boto3 and ImportKey (issue 3): a KEK by RSA unwrap (KeyCryptogram under
  the import token's RSA_4096 certificate), then the key itself as a TR-31 block (built with psec)
  under that KEK. The guide's strength rule lets an RSA-wrapped KEK (at most AES_128) carry keys of
  at most 128-bit strength, so for AES_192, AES_256 and HMAC keys the KEK is an AES_256 key agreed by
  ECDH instead (a P-521 K3 key pair and a test-side partner CA), as the guide recommends for
  AES-256. The KEKs are made once per server and client and reused.
- `put_known_key(server, ...)` stores a key directly through `lifecycle.store_key`, the path ImportKey
  itself ends in; it needs the in-thread server object and remains for tests that want no
  ImportKey in their path.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import psec

from tests import kx_partner as kp
from tests.conftest import RunningServer
from tests.service import stored_keys

ACCOUNT = "111122223333"


def put_known_key(
    server: RunningServer, material: bytes, key_usage: str, key_algorithm: str, modes: dict[str, bool]
) -> dict[str, Any]:
    """Store `material` as a key of the dev account in the server's own Service
    (tests/service/stored_keys.store) and return its API Key view."""
    record = stored_keys.store(server.app.service, material, key_usage, key_algorithm, modes)
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}


# TR-31 mode of use letter for the sets of true KeyModesOfUse (seed-B §12).
_MODE_LETTERS = {
    frozenset({"Encrypt", "Decrypt", "Wrap", "Unwrap"}): "B",
    frozenset({"Encrypt", "Wrap"}): "E",
    frozenset({"Decrypt", "Unwrap"}): "D",
    frozenset({"Generate", "Verify"}): "C",
    frozenset({"Generate"}): "G",
    frozenset({"Verify"}): "V",
    frozenset({"DeriveKey"}): "X",
    frozenset({"NoRestrictions"}): "N",
}
_HM = {"HMAC_SHA224": "20", "HMAC_SHA256": "21", "HMAC_SHA384": "22", "HMAC_SHA512": "23"}
_RSA_WRAPPABLE = {"TDES_2KEY", "TDES_3KEY", "AES_128"}  # at most 128-bit strength (seed-B §2)
_KEKS: dict[tuple[int, str], tuple[str, bytes]] = {}
_K1_MODES = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}


def import_known_key_via_api(
    control: Any,
    material: bytes,
    usage: str,
    algorithm: str,
    modes: dict[str, bool],
    *,
    exportable: bool = True,
    key_check_value_algorithm: str | None = None,
) -> dict[str, Any]:
    """Import a known symmetric key through boto3 ImportKey and return the API's Key.

    `usage` is the KeyUsage (e.g. TR31_C0_CARD_VERIFICATION_KEY), `algorithm` the KeyAlgorithm and
    `modes` the KeyModesOfUse flags, which must name one TR-31 mode of use (B, E, D, C, G, V, X, N).
    """
    kek_arn, kek = _kek(control, "rsa" if algorithm in _RSA_WRAPPABLE else "ecdh")
    letter = _MODE_LETTERS[frozenset(name for name, on in modes.items() if on)]
    family = "H" if algorithm in _HM else algorithm[0]  # T, A or H
    count, blocks = ("01", f"HM06{_HM[algorithm]}") if algorithm in _HM else ("00", "")
    header = f"D0000{usage.split('_')[1]}{family}{letter}00{'E' if exportable else 'N'}{count}00{blocks}"
    block = psec.tr31.wrap(kek, header, material)
    extra = {"KeyCheckValueAlgorithm": key_check_value_algorithm} if key_check_value_algorithm else {}
    return control.import_key(
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "WrappedKeyBlock": block}}, **extra
    )["Key"]


def _kek(control: Any, kind: str) -> tuple[str, bytes]:
    cached = _KEKS.get((id(control), kind))
    if cached is not None:
        try:
            if control.get_key(KeyIdentifier=cached[0])["Key"]["KeyState"] == "CREATE_COMPLETE":
                return cached
        except Exception:  # deleted or purged by another test: make a new one
            pass
    made = _rsa_kek(control) if kind == "rsa" else _ecdh_kek(control)
    _KEKS[(id(control), kind)] = made
    return made


def _rsa_kek(control: Any) -> tuple[str, bytes]:
    """An AES_128 KEK wrapped with RSA-OAEP under the import token's certificate (the guide's RSA unwrap)."""
    params = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_4096", ReuseLastGeneratedToken=True
    )
    kek = secrets.token_bytes(16)
    key = control.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": "AES_128",
                    "KeyModesOfUse": _K1_MODES,
                },
                "Exportable": False,
                "ImportToken": params["ImportToken"],
                "WrappedKeyCryptogram": kp.rsa_wrap(kp.load_b64(params["WrappingKeyCertificate"]), kek),
                "WrappingSpec": "RSA_OAEP_SHA_256",
            }
        }
    )["Key"]
    assert key["KeyCheckValue"] == kp.kcv_aes(kek)
    return key["KeyArn"], kek


def create_k3(control: Any) -> str:
    """CreateKey of a non-exportable P-521 K3 key pair that derives K1 keys (ECDH); its ARN."""
    return control.create_key(
        Exportable=False,
        DeriveKeyUsage="TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        KeyAttributes={
            "KeyAlgorithm": "ECC_NIST_P521",
            "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"DeriveKey": True},
        },
    )["Key"]["KeyArn"]


@dataclass(frozen=True)
class EcdhPartner:
    """A test-side partner that has agreed a KBPK with a paycrypt K3 key pair by ECDH (P-521,
    NIST SP 800-56A KDF, SHA-512, AES_256): what a DiffieHellmanTr31KeyBlock needs, less the block."""

    k3_arn: str
    root_arn: str
    certificate_b64: str
    shared_information: str
    kbpk: bytes = field(repr=False)

    def member(self, header: str, material: bytes) -> dict[str, Any]:
        """The DiffieHellmanTr31KeyBlock (ImportKey, TranslateKeyMaterial) carrying `material`."""
        return {
            "PrivateKeyIdentifier": self.k3_arn,
            "CertificateAuthorityPublicKeyIdentifier": self.root_arn,
            "PublicKeyCertificate": self.certificate_b64,
            "DeriveKeyAlgorithm": "AES_256",
            "KeyDerivationFunction": "NIST_SP800",
            "KeyDerivationHashAlgorithm": "SHA_512",
            "DerivationData": {"SharedInformation": self.shared_information},
            "WrappedKeyBlock": psec.tr31.wrap(self.kbpk, header, material),
        }


def ecdh_partner(control: Any) -> EcdhPartner:
    """A partner root CA imported as RootCertificatePublicKey, a new K3 key pair, and the KBPK the
    partner's leaf key agrees with it (computed with `cryptography` only, tests/kx_partner.py)."""
    root = kp.ca("ECC_NIST_P521", "Known-key partner root")
    root_arn = control.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "ECC_NIST_P521",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": root.b64,
            }
        }
    )["Key"]["KeyArn"]
    k3 = create_k3(control)
    service_certificate = kp.load_b64(control.get_public_key_certificate(KeyIdentifier=k3)["KeyCertificate"])
    partner = kp.leaf(root, "ECC_NIST_P521")
    shared = secrets.token_hex(16)
    kbpk = kp.ecdh_key(
        partner.key, service_certificate, algorithm="AES_256", hash_name="SHA_512", shared_information=shared
    )
    return EcdhPartner(k3, root_arn, partner.b64, shared, kbpk)


def _ecdh_kek(control: Any) -> tuple[str, bytes]:
    """An AES_256 KEK agreed by ECDH with a test-side partner (`ecdh_partner`)."""
    kek = secrets.token_bytes(32)
    member = ecdh_partner(control).member("D0000K1AB00N0000", kek)
    key = control.import_key(KeyMaterial={"DiffieHellmanTr31KeyBlock": member})["Key"]
    assert key["KeyCheckValue"] == kp.kcv_aes(kek)
    return key["KeyArn"], kek


def known_aes256_kek(control: Any) -> tuple[str, bytes]:
    """The per-client AES_256 TR31_K1 KEK (ARN, clear key) that import_known_key_via_api uses."""
    return _kek(control, "ecdh")


def import_partner_ca(
    control: Any, member: str, party: kp.Party, parent: str | None = None, algorithm: str = "ECC_NIST_P256"
) -> str:
    """ImportKey of a CA certificate as RootCertificatePublicKey or TrustedCertificatePublicKey."""
    body = kp.ca_certificate_member(party, algorithm, parent)
    return control.import_key(KeyMaterial={member: body})["Key"]["KeyArn"]
