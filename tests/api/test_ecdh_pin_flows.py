"""PIN select, verify, reveal and reset to a mobile app over ECDH, as AWS's own sample runs them.

The flow is AWS's ECDH PIN sample (aws-samples/samples-for-payment-cryptography-service,
python_sdk_example/ecdh_flows: `setup.py` creates the K3 key pair with KeyModesOfUse
{DeriveKey: true} and **no DeriveKeyUsage**; `backend.py` sets a PIN with TranslatePinData
ECDH → PEK and a PVV, reveals it with TranslatePinData PEK → ECDH, and resets it; `crypto_utils.py`
uses P-256, AES_128, NIST_SP800 with SHA_512 and 32 random bytes of SharedInformation), run
through boto3 with only the endpoint changed. The same K3 key is the local key of every
WrappedKeyMaterial.DiffieHellmanSymmetricKey, in TranslatePinData (both ways), GeneratePinData
and VerifyPinData.

The app is computed here with `cryptography` only, not paycrypt's code: ECDH on P-256 (Z, the
x-coordinate) and the KDF the API names NIST_SP800, NIST SP 800-56A's one-step concatenation KDF
(`ConcatKDFHash`, OtherInfo = SharedInformation, the KDF AWS's sample uses). Its ISO 9564 format 4
PIN blocks are psec's (tests/api/pin_terminal.py) and the PVVs psec's Visa PVV, both independent
of paycrypt.
"""

from __future__ import annotations

import secrets

import psec.pin
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from tests import kx_partner as kp
from tests.api import pin_terminal as term
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_partner_ca, put_known_key

# Every ECDH agreement these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

PAN = "4111111111111111"
PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # psec.pin.generate_visa_pvv's docstring key
K3_ATTRIBUTES = {
    "KeyAlgorithm": "ECC_NIST_P256",
    "KeyClass": "ASYMMETRIC_KEY_PAIR",
    "KeyModesOfUse": {"DeriveKey": True},
    "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
}
ISO4 = {"IsoFormat4": {"PrimaryAccountNumber": PAN}}
ISO0 = {"IsoFormat0": {"PrimaryAccountNumber": PAN}}


class App:
    """The cardholder's mobile app: its own P-256 key pair, certified by the issuer's CA."""

    def __init__(self, ca: kp.Party, service_certificate: x509.Certificate) -> None:
        self.party = kp.leaf(ca, "ECC_NIST_P256", "cardholder app")
        self.service_key = service_certificate.public_key()

    def derive(self, shared_information: str) -> bytes:
        """ECDH Z with the K3 key's public key, then SP 800-56A ConcatKDF(SHA-512) to 16 bytes."""
        z = self.party.key.exchange(ec.ECDH(), self.service_key)  # type: ignore[call-arg, arg-type]
        return ConcatKDFHash(hashes.SHA512(), 16, bytes.fromhex(shared_information)).derive(z)


def _ecdh(ca_arn: str, app: App, shared_information: str) -> dict:
    """The WrappedKey the backend sends (the sample's get_apc_ecdh_parameters)."""
    return {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_512",
                "PublicKeyCertificate": app.party.b64,
                "SharedInformation": shared_information,
            }
        }
    }


@pytest.fixture(scope="module")
def issuer(server, control) -> dict:
    """The sample's setup(): the CA imported as a root, the PVK (a known key, so psec can check
    the PVVs), the PEK, and the K3 key pair without DeriveKeyUsage."""
    ca = kp.ca("ECC_NIST_P256", "pindemo")
    k3 = control.create_key(Enabled=True, Exportable=True, KeyAttributes=K3_ATTRIBUTES)["Key"]
    assert "DeriveKeyUsage" not in k3
    certificate = control.get_public_key_certificate(KeyIdentifier=k3["KeyArn"])
    service_certificate = kp.load_b64(certificate["KeyCertificate"])
    service_certificate.verify_directly_issued_by(kp.load_b64(certificate["KeyCertificateChain"]))
    pek = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "TDES_3KEY",
            "KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
        },
    )["Key"]["KeyArn"]
    pvk = put_known_key(
        server, PVK, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", {"Generate": True, "Verify": True}
    )["KeyArn"]
    return {
        "ca": ca,
        "ca_arn": import_partner_ca(control, "RootCertificatePublicKey", ca),
        "k3": k3["KeyArn"],
        "service_certificate": service_certificate,
        "pek": pek,
        "pvk": pvk,
    }


def _shared() -> str:
    return secrets.token_bytes(32).hex().upper()


def test_pin_select_verify_reveal_and_reset(server, data, issuer) -> None:
    app = App(issuer["ca"], issuer["service_certificate"])
    k3, pek, pvk, ca_arn = issuer["k3"], issuer["pek"], issuer["pvk"], issuer["ca_arn"]
    before = db_snapshot(server.data_dir)

    # set PIN: the app's ISO 4 block under its ECDH key, translated to the PEK, then the PVV
    shared = _shared()
    selected = data.translate_pin_data(
        EncryptedPinBlock=term.encrypt_pin_block(app.derive(shared), 4, "7391", PAN),
        IncomingKeyIdentifier=k3,
        OutgoingKeyIdentifier=pek,
        IncomingWrappedKey=_ecdh(ca_arn, app, shared),
        IncomingTranslationAttributes=ISO4,
        OutgoingTranslationAttributes=ISO0,
    )
    assert selected["KeyArn"] == pek
    pvv = data.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=pek,
        PinBlockFormat="ISO_FORMAT_0",
        PrimaryAccountNumber=PAN,
        GenerationAttributes={
            "VisaPinVerificationValue": {
                "PinVerificationKeyIndex": 1,
                "EncryptedPinBlock": selected["PinBlock"],
            }
        },
    )["PinData"]["VerificationValue"]
    assert pvv == psec.pin.generate_visa_pvv(PVK, "1", "7391", PAN)

    # verify: the app sends the PIN again under a fresh agreement; a wrong PIN is refused
    shared = _shared()
    key = app.derive(shared)
    params = {
        "VerificationKeyIdentifier": pvk,
        "EncryptionKeyIdentifier": k3,
        "EncryptionWrappedKey": _ecdh(ca_arn, app, shared),
        "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}},
        "PinBlockFormat": "ISO_FORMAT_4",
        "PrimaryAccountNumber": PAN,
    }
    verified = data.verify_pin_data(**params, EncryptedPinBlock=term.encrypt_pin_block(key, 4, "7391", PAN))
    assert (verified["EncryptionKeyArn"], verified["EncryptionKeyCheckValue"]) == (k3, kp.kcv_aes(key))
    wrong = expect_error(
        data.verify_pin_data,
        "VerificationFailedException",
        400,
        **params,
        EncryptedPinBlock=term.encrypt_pin_block(key, 4, "7392", PAN),
    )
    assert wrong["Reason"] == "INVALID_PIN"

    # reveal: the PEK block out to the app under its ECDH key
    shared = _shared()
    revealed = data.translate_pin_data(
        EncryptedPinBlock=selected["PinBlock"],
        IncomingKeyIdentifier=pek,
        OutgoingKeyIdentifier=k3,
        OutgoingWrappedKey=_ecdh(ca_arn, app, shared),
        IncomingTranslationAttributes=ISO0,
        OutgoingTranslationAttributes=ISO4,
    )
    assert revealed["KeyArn"] == k3 and revealed["KeyCheckValue"] == kp.kcv_aes(app.derive(shared))
    assert term.decrypt_pin_block(app.derive(shared), 4, revealed["PinBlock"], PAN) == "7391"

    # reset: a random PIN generated straight under the app's ECDH key, with its PVV
    shared = _shared()
    reset = data.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=k3,
        EncryptionWrappedKey=_ecdh(ca_arn, app, shared),
        PinBlockFormat="ISO_FORMAT_4",
        PrimaryAccountNumber=PAN,
        GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
    )
    assert reset["EncryptionKeyArn"] == k3 and reset["EncryptionKeyCheckValue"] == kp.kcv_aes(
        app.derive(shared)
    )
    new_pin = term.decrypt_pin_block(app.derive(shared), 4, reset["EncryptedPinBlock"], PAN)
    assert reset["PinData"]["VerificationValue"] == psec.pin.generate_visa_pvv(PVK, "1", new_pin, PAN)

    assert db_snapshot(server.data_dir) == before  # no derived key is ever stored


def test_derive_key_usage_still_restricts_when_given(server, control, data, issuer) -> None:
    """A K3 key created with DeriveKeyUsage D0 derives data keys only: the PIN flow is refused,
    naming the usage, and nothing is stored."""
    d0_k3 = control.create_key(
        Exportable=True, DeriveKeyUsage="TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", KeyAttributes=K3_ATTRIBUTES
    )["Key"]["KeyArn"]
    certificate = kp.load_b64(control.get_public_key_certificate(KeyIdentifier=d0_k3)["KeyCertificate"])
    app = App(issuer["ca"], certificate)
    shared = _shared()
    before = db_snapshot(server.data_dir)
    response = expect_error(
        data.translate_pin_data,
        "ValidationException",
        400,
        EncryptedPinBlock=term.encrypt_pin_block(app.derive(shared), 4, "7391", PAN),
        IncomingKeyIdentifier=d0_k3,
        OutgoingKeyIdentifier=issuer["pek"],
        IncomingWrappedKey=_ecdh(issuer["ca_arn"], app, shared),
        IncomingTranslationAttributes=ISO4,
        OutgoingTranslationAttributes=ISO0,
    )
    assert "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY" in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before
