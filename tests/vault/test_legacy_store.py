"""A store written before the vault became a protocol still opens and works, unmigrated.

`legacy_store/` was written by the server of commit 54ae7d5 (the last before this change), through
boto3: `paycrypt.sql` is its database (sqlite3 `iterdump`), `master.key.hex` its master key and
`expected.json` what it answered then (key ARNs and KCVs, a CVV2, an AES-ECB cipher text, an HMAC,
a DUKPT cipher text, an import token). Its blocks carry no KP optional block (they predate it).

Today's server opens it as it is: every key, service-CA key and token key unseals with its KCV
unchanged, every value computed then is computed again, and the old blocks are not rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from pathlib import Path

import pytest

from paycrypt.clock import ManualClock
from paycrypt.crypto import keygen
from paycrypt.errors import InternalServer
from paycrypt.server import Settings
from paycrypt.service.rules import check_values
from paycrypt.store.records import KeyRecord
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault
from tests import kx_partner as kp
from tests.conftest import RunningServer, free_port, serving

FIXTURE = Path(__file__).parent / "legacy_store"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def restore(data_dir: Path) -> None:
    """The fixture as a data directory: its database, and its master key in a 0600 file."""
    data_dir.mkdir(mode=0o700)
    db = sqlite3.connect(data_dir / "paycrypt.db")
    db.executescript((FIXTURE / "paycrypt.sql").read_text())
    db.close()
    key = data_dir / "master.key"
    key.touch(mode=0o600)
    key.write_bytes(bytes.fromhex((FIXTURE / "master.key.hex").read_text()))


def rows(data_dir: Path) -> dict[str, tuple[str, str]]:
    """name or ARN → (meta JSON, key block) of every stored key and exchange key."""
    db = sqlite3.connect(f"file:{data_dir / 'paycrypt.db'}?mode=ro", uri=True)
    try:
        found = dict(
            (arn, (meta, block)) for arn, meta, block in db.execute("SELECT arn, meta, key_block FROM keys")
        )
        for name, meta, block in db.execute("SELECT name, meta, key_block FROM exchange_keys"):
            found[name] = (meta, block)
        return found
    finally:
        db.close()


def test_every_stored_block_unseals_with_its_kcv(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    restore(data_dir)
    vault = MasterKeyVault(bytes.fromhex((FIXTURE / "master.key.hex").read_text()))
    stored = rows(data_dir)
    assert len(stored) == len(EXPECTED["keys"]) + 2  # the keys, the RSA service CA and the token key
    for arn, (meta, block) in stored.items():
        record = KeyRecord.from_json(json.loads(meta), block)
        assert "KP" not in block[:200]  # written before blocks named their master key
        assert vault.sealed_by(block) == vault.key_id  # which is the one key a vault had then
        material = vault.unseal(record, block)
        algorithm = record.key_attributes["KeyAlgorithm"]
        kcv, _ = check_values.compute(algorithm, record.key_check_value_algorithm, material)
        assert kcv == record.key_check_value, arn
        resealed = vault.reseal(record, block)  # what rotation will do: the same key, now named
        assert vault.sealed_by(resealed) == vault.key_id and "KP" in resealed[:200]
        assert vault.unseal(record, resealed) == material
    assert {
        arn: KeyRecord.from_json(json.loads(stored[arn][0]), "").key_check_value
        for arn in EXPECTED["keys"].values()
    } == {arn: EXPECTED["kcvs"][name] for name, arn in EXPECTED["keys"].items()}


def test_another_master_key_cannot_open_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    restore(data_dir)
    meta, block = rows(data_dir)[EXPECTED["keys"]["cvk"]]
    record = KeyRecord.from_json(json.loads(meta), block)
    cache = KeyCache(MasterKeyVault(secrets.token_bytes(32)))
    with pytest.raises(InternalServer, match="failed its integrity check"):
        cache.material(record)


@pytest.fixture
def legacy_server(tmp_path: Path):
    data_dir = tmp_path / "data"
    restore(data_dir)
    settings = Settings(port=free_port(), data_dir=data_dir, purge_interval=3600)
    # The clock of the day the store was written (an hour on), so its 30-day import token is valid.
    clock = ManualClock(dt.datetime.fromisoformat(EXPECTED["created"]) + dt.timedelta(hours=1))
    with serving(settings, clock) as running:
        yield running


def test_the_server_opens_it_and_computes_what_it_computed_then(legacy_server: RunningServer) -> None:
    control = legacy_server.client("payment-cryptography")
    data = legacy_server.client("payment-cryptography-data")
    keys, plain = EXPECTED["keys"], EXPECTED["plain"]
    before = rows(legacy_server.data_dir)
    for name, arn in keys.items():
        assert control.get_key(KeyIdentifier=arn)["Key"]["KeyCheckValue"] == EXPECTED["kcvs"][name]

    cvv2 = data.generate_card_validation_data(
        KeyIdentifier="alias/legacy-cvk",
        PrimaryAccountNumber=EXPECTED["pan"],
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": EXPECTED["expiry"]}},
    )["ValidationData"]
    assert cvv2 == EXPECTED["cvv2"]
    aes = data.encrypt_data(
        KeyIdentifier=keys["aes"], PlainText=plain, EncryptionAttributes={"Symmetric": {"Mode": "ECB"}}
    )["CipherText"]
    assert aes == EXPECTED["aes_ecb"]
    mac = data.generate_mac(
        KeyIdentifier=keys["hmac"],
        MessageData=EXPECTED["hmac_message"],
        GenerationAttributes={"Algorithm": "HMAC_SHA256"},
    )["Mac"]
    assert mac == EXPECTED["hmac_sha256"]
    dukpt = data.encrypt_data(
        KeyIdentifier=keys["bdk"],
        PlainText=plain,
        EncryptionAttributes={"Dukpt": {"KeySerialNumber": EXPECTED["dukpt_ksn"], "Mode": "ECB"}},
    )["CipherText"]
    assert dukpt == EXPECTED["dukpt_ecb"]

    # Key pairs: the RSA private key decrypts what its public key encrypted; both pairs' private
    # keys, and the legacy RSA service CA that signs, give certificates of the stored public keys.
    rsa = {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}
    sealed = data.encrypt_data(KeyIdentifier=keys["rsa"], PlainText=plain, EncryptionAttributes=rsa)
    opened = data.decrypt_data(
        KeyIdentifier=keys["rsa"], CipherText=sealed["CipherText"], DecryptionAttributes=rsa
    )
    assert opened["PlainText"] == plain
    for name in ("rsa", "ecc"):
        certificate = kp.load_b64(
            control.get_public_key_certificate(KeyIdentifier=keys[name])["KeyCertificate"]
        )
        assert kp.kcv_public_key(certificate) == EXPECTED["kcvs"][name]

    # The import token of that day (its key pair sealed in the old form) still unwraps a key.
    params = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048", ReuseLastGeneratedToken=True
    )
    assert params["ImportToken"] == EXPECTED["import_token"]
    clear = keygen.generate("TDES_2KEY")  # RSA-2048 protects TDES, not AES (X9.24-1 strength)
    imported = control.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "Exportable": True,
                "ImportToken": params["ImportToken"],
                "KeyAttributes": {
                    "KeyAlgorithm": "TDES_2KEY",
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
                    "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                },
                "WrappedKeyCryptogram": kp.rsa_wrap(kp.load_b64(params["WrappingKeyCertificate"]), clear),
                "WrappingSpec": "RSA_OAEP_SHA_256",
            }
        }
    )["Key"]
    assert imported["KeyCheckValue"] == kp.kcv_tdes(clear)

    # The key that was pending deletion is restored and used.
    control.restore_key(KeyIdentifier=keys["deleted"])
    control.start_key_usage(KeyIdentifier=keys["deleted"])
    data.generate_card_validation_data(
        KeyIdentifier=keys["deleted"],
        PrimaryAccountNumber=EXPECTED["pan"],
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": EXPECTED["expiry"]}},
    )

    # No old block was rewritten; the one key stored today names its master key.
    after = rows(legacy_server.data_dir)
    assert {arn: block for arn, (_, block) in before.items()} == {arn: after[arn][1] for arn in before}
    assert "KP" in after[imported["KeyArn"]][1][:200]
