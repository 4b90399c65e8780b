"""Which calls take more than about a millisecond of CPU, and so must not run on the event loop
(issue 13, item 3).

One rule per operation, on its validated parameters: every other request (a CVV, a MAC, a
symmetric PIN translation: tens of microseconds) runs on the event loop's thread, and these run
on a worker thread (wire/app.py). Measured in bench/gil_release.py (CPU ms per call; every one
of them releases the GIL inside OpenSSL, so a thread is enough; loading a stored RSA key, which
did not, costs 0.01 ms since keygen.load_private_key):

    RSA key generation          45 ms (RSA_2048) to 0.3-1.5 s (RSA_4096)   CreateKey, tokens, the CA
    RSA private-key operation   0.7 ms (2048) to 5 ms (4096)                TR-34, key cryptograms,
                                                                            DecryptData, signing
    certificate or CSR signing  5 ms under the RSA_4096 service CA          GetPublicKeyCertificate,
                                                                            tokens, CSRs
    ECDH with its chain checks  0.1-1 ms a curve operation, several each    dynamic keys, TR-31 by ECDH

ECC key generation (0.03-0.2 ms) and RSA public-key operations (0.1 ms) stay on the loop. The
control plane's key-exchange operations are rare (5 a second by the guide's quotas), so they go
off the loop whole; the data plane's only when the member that makes them heavy is present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Rule = Callable[[dict[str, Any]], bool]


def _always(params: dict[str, Any]) -> bool:
    return True


def _present(*paths: str) -> Rule:
    """True when any of the dotted member paths (e.g. "DecryptionAttributes.Asymmetric") is set."""
    split = [path.split(".") for path in paths]

    def rule(params: dict[str, Any]) -> bool:
        for names in split:
            value: Any = params
            for name in names:
                value = value.get(name) if isinstance(value, dict) else None
            if value is not None:
                return True
        return False

    return rule


def _creates_rsa_key(params: dict[str, Any]) -> bool:
    attributes = params.get("KeyAttributes")
    return isinstance(attributes, dict) and str(attributes.get("KeyAlgorithm", "")).startswith("RSA_")


def _ecdh(*wrapped_key_members: str) -> tuple[str, ...]:
    return tuple(f"{member}.WrappedKeyMaterial.DiffieHellmanSymmetricKey" for member in wrapped_key_members)


HEAVY: dict[str, Rule] = {
    # control plane
    "CreateKey": _creates_rsa_key,
    "GetParametersForImport": _always,
    "GetParametersForExport": _always,
    "ImportKey": _always,
    "ExportKey": _always,
    "GetPublicKeyCertificate": _always,
    "GetCertificateSigningRequest": _always,
    # data plane
    "DecryptData": _present("DecryptionAttributes.Asymmetric", *_ecdh("WrappedKey")),
    "EncryptData": _present(*_ecdh("WrappedKey")),
    "ReEncryptData": _present(
        "IncomingEncryptionAttributes.Asymmetric", *_ecdh("IncomingWrappedKey", "OutgoingWrappedKey")
    ),
    "GeneratePinData": _present(*_ecdh("EncryptionWrappedKey")),
    "VerifyPinData": _present(*_ecdh("EncryptionWrappedKey")),
    "TranslatePinData": _present(*_ecdh("IncomingWrappedKey", "OutgoingWrappedKey")),
    "TranslateKeyMaterial": _always,
}


def is_heavy(operation: str, params: dict[str, Any]) -> bool:
    rule = HEAVY.get(operation)
    return rule is not None and rule(params)
