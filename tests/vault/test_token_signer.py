"""Audit digests signed inside the PKCS#11 token (vault/token_signer.py) on this run's SoftHSM2
token: an ECDSA P-256 key pair generated there, its private key non-extractable; a trail written
with it verifies with the exported public key (`paycrypt audit verify`), and a tampered digest or
signature fails. The signatures are checked by `cryptography` (an implementation other than the
token's), against the public key the token gives.

Each test uses a master key label of its own, so each has a key pair of its own.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11

from paycrypt.audit import signing, streams
from paycrypt.server import Settings
from paycrypt.vault import factory, token_signer
from paycrypt.vault import pkcs11 as vault_pkcs11
from tests.api.processes import PAYCRYPT
from tests.audit.test_audit_integrity import problems, verify, write_trail
from tests.conftest import CVK_ATTRIBUTES, free_port, serving
from tests.softhsm import SoftHsm
from tests.vault.test_pkcs11 import session

NOWHERE = Path("/nonexistent")


@pytest.fixture
def settings(softhsm: SoftHsm) -> factory.VaultSettings:
    made = softhsm.vault_settings(key_label=f"audit-{secrets.token_hex(4)}")
    factory.create_master_key(made, NOWHERE)  # the master key and the audit key pair
    return made


def test_the_private_key_is_in_the_token_and_cannot_leave_it(
    softhsm: SoftHsm, settings: factory.VaultSettings
) -> None:
    label = f"{settings.key_label}-audit-signing"
    private = session(softhsm, softhsm.token_label).get_key(
        object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=label
    )
    assert private[Attribute.SENSITIVE] is True and private[Attribute.EXTRACTABLE] is False
    assert private[Attribute.TOKEN] is True and private[Attribute.DERIVE] is False
    with pytest.raises(p11.AttributeSensitive):
        private[Attribute.VALUE]


def test_signatures_verify_with_the_exported_public_key(
    settings: factory.VaultSettings, tmp_path: Path
) -> None:
    signer = factory.audit_signer(settings, tmp_path)
    assert signer is not None and signer.algorithm == signing.ECDSA_P256
    pem = (tmp_path / signing.PUBLIC_KEY_FILE).read_bytes()
    assert pem == signer.public_key_pem
    public = serialization.load_pem_public_key(pem)
    assert isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1)
    signature = signer.sign(b"string to sign")
    public.verify(signature, b"string to sign", ec.ECDSA(hashes.SHA256()))  # raises if it fails
    keys = signing.PublicKeys([pem])
    assert keys.verify(signer.fingerprint, signing.ECDSA_P256, b"string to sign", signature)
    assert not keys.verify(signer.fingerprint, signing.ECDSA_P256, b"string to sigm", signature)
    again = factory.audit_signer(settings, tmp_path)  # the same pair, found by label
    assert again is not None and again.fingerprint == signer.fingerprint


def test_a_trail_signed_in_the_token_verifies_and_a_tampered_digest_fails(
    settings: factory.VaultSettings, tmp_path: Path
) -> None:
    signer = factory.audit_signer(settings, tmp_path)
    files = write_trail(tmp_path, signer=signer)
    assert len(files) >= 5 and not (tmp_path / signing.PRIVATE_KEY_FILE).exists()  # no key file
    assert verify(tmp_path)[0] == 0 and problems(tmp_path) == []
    digest = tmp_path / streams.digest_name(files[1].name)
    assert '"digestSignatureAlgorithm": "ECDSA-P256-SHA256"' in digest.read_text()
    digest.write_text(digest.read_text().replace('"events": ', '"events": 1'))
    status, said = verify(tmp_path)
    assert status == 1 and f"digest {digest.name}: its signature fails" in said


def test_an_extractable_key_of_that_label_is_refused(
    softhsm: SoftHsm, settings: factory.VaultSettings
) -> None:
    other = vault_pkcs11.TokenConfig(softhsm.module, softhsm.token_label, f"unfit-{secrets.token_hex(4)}")
    login = vault_pkcs11.login(other, softhsm.pin)
    template = {**token_signer.PRIVATE_TEMPLATE, Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False}
    parameters = login.session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: token_signer.encode_named_curve_parameters("secp256r1")}, local=True
    )
    parameters.generate_keypair(
        store=True, label=token_signer.label(other), public_template=token_signer.PUBLIC_TEMPLATE,
        private_template=template,
    )  # fmt: skip
    with pytest.raises(vault_pkcs11.TokenUnavailable, match="is not sensitive"):
        token_signer.open_signer(other, login)


@pytest.mark.cli
def test_a_server_on_the_token_signs_its_digests_and_audit_verify_checks_them(
    settings: factory.VaultSettings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    old = write_trail(tmp_path / "before")  # a file-vault key's public key already there: kept aside
    (data_dir / signing.PUBLIC_KEY_FILE).write_bytes((old[0].parent / signing.PUBLIC_KEY_FILE).read_bytes())
    served = Settings(
        port=free_port(), data_dir=data_dir, vault=settings, store=f"sqlite:{data_dir / 'paycrypt.db'}"
    )
    with serving(served) as server:
        assert server.parts.audit.public_key_pem == factory.audit_signer(settings, tmp_path).public_key_pem
        server.client("payment-cryptography").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    assert len(list(data_dir.glob("audit-signing-*.pub"))) == 1  # the old key, under its fingerprint
    assert not (data_dir / signing.PRIVATE_KEY_FILE).exists()
    [digest] = data_dir.glob("*.digest.json")  # written when the server stopped
    assert '"digestSignatureAlgorithm": "ECDSA-P256-SHA256"' in digest.read_text()
    done = subprocess.run(
        [str(PAYCRYPT), "audit", "verify", "--data-dir", str(data_dir)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    digest.write_text(digest.read_text().replace('"events": ', '"events": 1'))
    tampered = subprocess.run(
        [str(PAYCRYPT), "audit", "verify", "--data-dir", str(data_dir)], capture_output=True, text=True
    )
    assert tampered.returncode == 1 and "its signature fails" in tampered.stdout
