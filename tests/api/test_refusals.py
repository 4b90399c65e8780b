"""Every row of the **Refusals and their evidence** table (docs/decisions/refusals.md), shown
through boto3.

`ROWS` maps each row to what shows it: a case in this file (a refusal with its AWS code, HTTP
status and the words the message must hold, the store unchanged; or a call now accepted, with
the value the standard defines), a test elsewhere that already shows it ("path::test"), or the
issue 12 item whose helper changes it. `test_every_row_is_shown` reads the table and
fails when a row and this map disagree, or a referenced test does not exist.

Known answers: ANSI X9.24-1:2009 Annex A (BDK 0123456789ABCDEFFEDCBA9876543210, KSN
FFFF9876543210E00001, PIN 1234, PAN 4012345678909, PIN block 1B9C1845EB993A7A) and the
X9.24-3-2017 supplement (AES BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, KSN 123456789012345600000001,
MAC-generation key A2DC23DE6FDE0824A2BC321E08E4B8B7). The partner side (RSA, TDES, AES) is
computed with `cryptography` and tests/api/pin_terminal.py, never with paycrypt's code.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.store.records import Team
from tests import kx_partner as kp
from tests.api import pin_terminal as term
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import ACCOUNT, import_partner_ca, put_known_key
from tests.conftest import CVK_ATTRIBUTES, RunningServer
from tests.docs_pages import page

ROOT = Path(__file__).resolve().parents[2]
TABLE = "decisions/refusals.md"

EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}
GEN_VERIFY = {"Generate": True, "Verify": True}
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
AES_MAC_REQUEST_KEY = bytes.fromhex("A2DC23DE6FDE0824A2BC321E08E4B8B7")  # X9.24-3 supplement, counter 1
ANNEX_A_PAN = "4012345678909"
ANNEX_A_BLOCK = "1B9C1845EB993A7A"  # PIN 1234 under the counter-1 PIN key of KSN FFFF9876543210E00001
IBM = {"DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F"}
PAN = "4111111111111111"


@dataclass
class Env:
    server: RunningServer
    control: Any
    data: Any
    _keys: dict

    def key(
        self, usage: str, algorithm: str, modes: dict, key_class: str = "SYMMETRIC_KEY", **kw: Any
    ) -> str:
        """A key CreateKey made (one per attribute set and options, reused across cases)."""
        name = (usage, algorithm, tuple(sorted(modes)), key_class, tuple(sorted(kw.items())))
        if name not in self._keys:
            attributes = {
                "KeyUsage": usage,
                "KeyAlgorithm": algorithm,
                "KeyClass": key_class,
                "KeyModesOfUse": modes,
            }
            self._keys[name] = self.control.create_key(
                Exportable=kw.get("exportable", True), KeyAttributes=attributes
            )["Key"]["KeyArn"]
        return self._keys[name]

    def known(self, material: bytes, usage: str, algorithm: str, modes: dict) -> str:
        return put_known_key(self.server, material, usage, algorithm, modes)["KeyArn"]

    def kek(self) -> str:
        return self.key("TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", EDWU)

    def rsa_pair(self) -> str:
        return self.key("TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", EDWU, "ASYMMETRIC_KEY_PAIR")

    def rsa_partner(self) -> tuple[str, kp.Party]:
        """A partner's RSA key, imported as a D1 public key under its imported root CA."""
        if "partner" not in self._keys:
            root = kp.ca("RSA_2048", "Refusals partner root")
            root_arn = import_partner_ca(self.control, "RootCertificatePublicKey", root, algorithm="RSA_2048")
            leaf = kp.leaf(root, "RSA_2048", "Refusals partner D1")
            arn = self.control.import_key(
                KeyMaterial={
                    "TrustedCertificatePublicKey": {
                        "KeyAttributes": {
                            "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
                            "KeyClass": "PUBLIC_KEY",
                            "KeyAlgorithm": "RSA_2048",
                            "KeyModesOfUse": {"Encrypt": True, "Wrap": True},
                        },
                        "PublicKeyCertificate": leaf.b64,
                        "CertificateAuthorityPublicKeyIdentifier": root_arn,
                    }
                }
            )["Key"]["KeyArn"]
            self._keys["partner"] = (arn, leaf)
        return self._keys["partner"]


@pytest.fixture(scope="module")
def env(server, control, data) -> Env:
    return Env(server, control, data, {})


# --- the cases ------------------------------------------------------------------------------------

Call = tuple[Callable[..., Any], dict[str, Any]]


@dataclass(frozen=True)
class Refused:
    """A call paycrypt refuses: `call(env)` sets up and returns the boto3 method and its parameters."""

    call: Callable[[Env], Call]
    code: str
    status: int
    says: str


CASES: dict[str, Refused | Callable[[Env], None]] = {}


def refused(row: str, code: str, status: int, says: str) -> Callable:
    def register(call: Callable[[Env], Call]) -> Callable[[Env], Call]:
        CASES[row] = Refused(call, code, status, says)
        return call

    return register


def accepted(row: str) -> Callable:
    def register(case: Callable[[Env], None]) -> Callable[[Env], None]:
        CASES[row] = case
        return case

    return register


@refused("G3", "ConflictException", 400, "pending deletion")
def _export_pending(env: Env) -> Call:
    arn = env.control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    env.control.delete_key(KeyIdentifier=arn)
    return env.control.export_key, {
        "ExportKeyIdentifier": arn,
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": env.kek()}},
    }


@refused("T3", "ValidationException", 400, "same tag key more than once")
def _repeated_tag_key(env: Env) -> Call:
    arn = env.key(**_cvk())
    tags = [{"Key": "Project", "Value": "a"}, {"Key": "Project", "Value": "b"}]
    return env.control.tag_resource, {"ResourceArn": arn, "Tags": tags}


@refused("M1", "ValidationException", 400, "cannot reach its quorum")
def _team_without_quorum(env: Env) -> Call:
    # `paycrypt mpa` refuses such a team; this one is written under it, as a concurrent change could.
    region = "eu-west-1"  # associations are per region: a mistake here must not protect us-east-1
    name = f"short-{secrets.token_hex(4)}"
    arn = f"arn:aws:mpa:{region}:{ACCOUNT}:approval-team/{name}"
    store = env.server.app.service.store
    with store.transaction():
        store.mpa.put_team(Team(arn, ACCOUNT, region, name, 2, time.time(), ("alice",)))
    control = env.server.client("payment-cryptography", region=region)
    return control.associate_mpa_team, {"Action": "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE", "MpaTeamArn": arn}


@refused("X2", "ValidationException", 400, "KeyMaterialType KEY_CRYPTOGRAM takes no parameters")
def _export_token_for_a_cryptogram(env: Env) -> Call:
    return env.control.get_parameters_for_export, {
        "KeyMaterialType": "KEY_CRYPTOGRAM",
        "SigningKeyAlgorithm": "RSA_2048",
    }


@refused("X9", "ValidationException", 400, "ExportKey exports symmetric keys")
def _export_a_key_pair(env: Env) -> Call:
    return env.control.export_key, {
        "ExportKeyIdentifier": env.rsa_pair(),
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": env.kek()}},
    }


@refused("X10", "ValidationException", 400, "KeyModesOfUse must be the key's modes or a subset of them")
def _widen_modes_on_export(env: Env) -> Call:
    generate_only = env.key("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate": True})
    headers = {"KeyModesOfUse": {"Generate": True, "Verify": True}}
    return env.control.export_key, {
        "ExportKeyIdentifier": generate_only,
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": env.kek(), "KeyBlockHeaders": headers}},
    }


@refused("X23", "ValidationException", 400, "OptionalBlocks exceed 112 characters")
def _optional_blocks_past_112_characters(env: Env) -> Call:
    # Two blocks of 4 + 52 characters are 112, the most the model allows in all; one more is refused.
    blocks = {"T1": "A" * 53, "T2": "B" * 52}
    return env.control.export_key, {
        "ExportKeyIdentifier": env.key(**_cvk()),
        "KeyMaterial": {
            "Tr31KeyBlock": {
                "WrappingKeyIdentifier": env.kek(),
                "KeyBlockHeaders": {"OptionalBlocks": blocks},
            }
        },
    }


@refused("X16", "ValidationException", 400, "WrappingKeyCertificate must hold an RSA key")
def _cryptogram_to_an_ecc_certificate(env: Env) -> Call:
    root = kp.ca("ECC_NIST_P256", "Refusals ECC root")
    root_arn = import_partner_ca(env.control, "RootCertificatePublicKey", root)
    leaf = kp.leaf(root, "ECC_NIST_P256", "Refusals ECC receiver")
    return env.control.export_key, {
        "ExportKeyIdentifier": env.key(**_cvk()),
        "KeyMaterial": {
            "KeyCryptogram": {
                "CertificateAuthorityPublicKeyIdentifier": root_arn,
                "WrappingKeyCertificate": leaf.b64,
            }
        },
    }


@refused("X17", "ValidationException", 400, "must be 20 hex characters for a TDES_2KEY BDK")
def _ipek_with_an_aes_ksn(env: Env) -> Call:
    bdk = env.key("TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE, exportable=False)
    return env.control.export_key, {
        "ExportKeyIdentifier": bdk,
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": env.kek()}},
        "ExportAttributes": {"ExportDukptInitialKey": {"KeySerialNumber": "123456789012345600000001"}},
    }


@refused("U4", "ValidationException", 400, "has KeyAlgorithm AES_128")
def _aes_issuer_master_key(env: Env) -> Call:
    imk = env.key("TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS", "AES_128", DERIVE)
    return env.data.verify_auth_request_cryptogram, {
        "KeyIdentifier": imk,
        "TransactionData": "00" * 16,
        "AuthRequestCryptogram": "00" * 8,
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "SessionKeyDerivationAttributes": {
            "EmvCommon": {
                "PrimaryAccountNumber": PAN,
                "PanSequenceNumber": "00",
                "ApplicationTransactionCounter": "0001",
            }
        },
    }


@refused("E1", "ValidationException", 400, "EMV data must be a multiple of 8 bytes")
def _emv_data_not_whole_blocks(env: Env) -> Call:
    # The Symmetric members' block rules are shown by
    # tests/service/transactions/test_data_encryption.py::test_symmetric_rules_name_the_member.
    imk = env.key("TR31_E1_EMV_MKEY_CONFIDENTIALITY", "TDES_2KEY", DERIVE)
    emv = {
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "PrimaryAccountNumber": PAN,
        "PanSequenceNumber": "00",
        "SessionDerivationData": "0001000000000000",
    }
    return env.data.encrypt_data, {
        "KeyIdentifier": imk,
        "PlainText": "00" * 12,
        "EncryptionAttributes": {"Emv": emv},
    }


@refused("E5", "ValidationException", 400, "longer than 190 bytes")
def _rsa_plaintext_too_long(env: Env) -> Call:
    return env.data.encrypt_data, {
        "KeyIdentifier": env.rsa_pair(),
        "PlainText": "00" * 191,  # OAEP-SHA256 with RSA-2048 carries at most 256 - 2*32 - 2 = 190 bytes
        "EncryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    }


@refused("E6", "ValidationException", 400, "KeyModesOfUse does not allow DecryptData")
def _decrypt_with_a_public_key(env: Env) -> Call:
    public, _ = env.rsa_partner()
    return env.data.decrypt_data, {
        "KeyIdentifier": public,
        "CipherText": "00" * 256,
        "DecryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    }


@accepted("E8")
def _re_encrypt_rsa_to_rsa(env: Env) -> None:
    """Decrypt under one D1 key pair, encrypt to a partner's imported D1 public key; the partner
    decrypts with its private key (`cryptography`)."""
    public, partner = env.rsa_partner()
    secret = secrets.token_bytes(32)
    oaep = {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}
    pair = env.rsa_pair()
    under_pair = env.data.encrypt_data(KeyIdentifier=pair, PlainText=secret.hex(), EncryptionAttributes=oaep)
    moved = env.data.re_encrypt_data(
        IncomingKeyIdentifier=pair,
        OutgoingKeyIdentifier=public,
        CipherText=under_pair["CipherText"],
        IncomingEncryptionAttributes=oaep,
        OutgoingEncryptionAttributes={"Asymmetric": {"PaddingType": "PKCS1"}},
    )
    assert moved["KeyArn"] == public
    assert partner.key.decrypt(bytes.fromhex(moved["CipherText"]), padding.PKCS1v15()) == secret
    # and back: the partner encrypts to the key pair, which re-encrypts to the partner with OAEP
    oaep_sha256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    back = env.data.re_encrypt_data(
        IncomingKeyIdentifier=pair,
        OutgoingKeyIdentifier=public,
        CipherText=under_pair["CipherText"],
        IncomingEncryptionAttributes=oaep,
        OutgoingEncryptionAttributes=oaep,
    )
    assert partner.key.decrypt(bytes.fromhex(back["CipherText"]), oaep_sha256) == secret


@accepted("D1")
def _sixteen_hex_ksn(env: Env) -> None:
    """X9.24-1 Annex A's PIN block under KSN 9876543210E00001 (16 hex, read as FFFF9876543210E00001)
    translates to PIN 1234, exactly as under the 20-hex KSN."""
    bdk = env.known(TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    zone = term.odd_parity(secrets.token_bytes(16))
    zone_arn = env.known(zone, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU)
    fmt = {"IsoFormat0": {"PrimaryAccountNumber": ANNEX_A_PAN}}
    blocks = [
        env.data.translate_pin_data(
            IncomingKeyIdentifier=bdk,
            OutgoingKeyIdentifier=zone_arn,
            IncomingTranslationAttributes=fmt,
            OutgoingTranslationAttributes=fmt,
            EncryptedPinBlock=ANNEX_A_BLOCK,
            IncomingDukptAttributes={"KeySerialNumber": ksn},
        )["PinBlock"]
        for ksn in ("9876543210E00001", "FFFF9876543210E00001")
    ]
    assert blocks[0] == blocks[1]
    assert term.decrypt_pin_block(zone, 0, blocks[0], ANNEX_A_PAN) == "1234"


@accepted("D5")
def _aes_dukpt_cbc_mac(env: Env) -> None:
    """DukptIso9797Algorithm1 under the X9.24-3 MAC-generation key is the AES CBC-MAC (IV zero,
    zero padding to 16 bytes), computed here with `cryptography`."""
    bdk = env.known(AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    message = bytes.fromhex("4012345678909D9870")  # 9 bytes: padded to one AES block
    padded = message + bytes(-len(message) % 16)
    encryptor = Cipher(algorithms.AES(AES_MAC_REQUEST_KEY), modes.CBC(bytes(16))).encryptor()
    expected = (encryptor.update(padded) + encryptor.finalize())[-16:].hex().upper()
    member = {
        "DukptIso9797Algorithm1": {
            "KeySerialNumber": "123456789012345600000001",
            "DukptKeyVariant": "REQUEST",
        }
    }
    mac = env.data.generate_mac(KeyIdentifier=bdk, MessageData=message.hex(), GenerationAttributes=member)[
        "Mac"
    ]
    assert mac == expected
    env.data.verify_mac(KeyIdentifier=bdk, MessageData=message.hex(), Mac=mac, VerificationAttributes=member)


@refused("C2", "ValidationException", 400, "a MAC must be at least 4 bytes")
def _mac_too_short(env: Env) -> Call:
    return env.data.verify_mac, {
        "KeyIdentifier": env.key("TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GEN_VERIFY),
        "MessageData": "00" * 8,
        "Mac": "A1B2C3",
        "VerificationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"},
    }


@refused("C4", "ValidationException", 400, "Mac is longer")
def _mac_too_long(env: Env) -> Call:
    return env.data.verify_mac, {
        "KeyIdentifier": env.key("TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GEN_VERIFY),
        "MessageData": "00" * 8,
        "Mac": "00" * 9,
        "VerificationAttributes": {"Algorithm": "ISO9797_ALGORITHM3"},
    }


@refused("C5", "ValidationException", 400, "VISA derives the session key from ApplicationTransactionCounter")
def _emv_mac_without_atc(env: Env) -> Call:
    emv_mac = {
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "PrimaryAccountNumber": PAN,
        "PanSequenceNumber": "00",
        "SessionKeyDerivationMode": "VISA",
        "SessionKeyDerivationValue": {"ApplicationCryptogram": "0123456789ABCDEF"},
    }
    return env.data.generate_mac, {
        "KeyIdentifier": env.key("TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", DERIVE),
        "MessageData": "00" * 8,
        "GenerationAttributes": {"EmvMac": emv_mac},
    }


def _ibm_keys(env: Env) -> dict[str, str]:
    return {
        "GenerationKeyIdentifier": env.key("TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY),
        "EncryptionKeyIdentifier": env.key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU),
    }


@refused("I2", "ValidationException", 400, "it is required with PinBlockFormat ISO_FORMAT_0")
def _format_0_without_pan(env: Env) -> Call:
    attributes = {"Ibm3624RandomPin": {**IBM, "PinValidationData": "1234567890"}}
    return env.data.generate_pin_data, {
        **_ibm_keys(env),
        "GenerationAttributes": attributes,
        "PinBlockFormat": "ISO_FORMAT_0",
    }


@refused("I3", "ValidationException", 400, "PinDataLength: 6 does not match the length")
def _pin_length_against_offset(env: Env) -> Call:
    attributes = {"Ibm3624PinFromOffset": {**IBM, "PinValidationData": "1234567890", "PinOffset": "1234"}}
    return env.data.generate_pin_data, {
        **_ibm_keys(env),
        "GenerationAttributes": attributes,
        "PinBlockFormat": "ISO_FORMAT_1",
        "PinDataLength": 6,
    }


@refused("I4", "ValidationException", 400, "a Visa PVV has 4 digits")
def _five_digit_pvv(env: Env) -> Call:
    return env.data.verify_pin_data, {
        "VerificationKeyIdentifier": env.key("TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY),
        "EncryptionKeyIdentifier": env.key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU),
        "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 1, "VerificationValue": "12345"}},
        "EncryptedPinBlock": "0123456789ABCDEF",
        "PinBlockFormat": "ISO_FORMAT_0",
        "PrimaryAccountNumber": PAN,
    }


@refused("I6", "ValidationException", 400, "binds the PIN to the PAN")
def _format_0_to_format_1(env: Env) -> Call:
    pek = env.key("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU)
    return env.data.translate_pin_data, {
        "IncomingKeyIdentifier": pek,
        "OutgoingKeyIdentifier": pek,
        "IncomingTranslationAttributes": {"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        "OutgoingTranslationAttributes": {"IsoFormat1": {}},
        "EncryptedPinBlock": "0123456789ABCDEF",
    }


def _cvk() -> dict[str, Any]:
    return {"usage": CVK_ATTRIBUTES["KeyUsage"], "algorithm": "TDES_2KEY", "modes": GEN_VERIFY}


# --- rows shown elsewhere, and rows other items of issue 12 change -------------------------------

KEY_EXCHANGE = "tests/service/exchange/test_key_exchange.py::"
ELSEWHERE: dict[str, str] = {
    "G1": "tests/api/test_issuer_api.py::test_pin_key_state_and_usage",
    "G2": "tests/api/test_keys.py::test_pending_key_state_conflicts",
    "G4": "tests/api/test_keys.py::test_restore_of_live_key_conflicts",
    "G5": "tests/api/test_replication.py::test_replica_is_read_only",
    "K1": "tests/api/test_bad_input.py::test_create_key_validation",
    "K2": "tests/api/test_bad_input.py::test_create_key_validation",
    "K3": "tests/api/test_bad_input.py::test_create_key_validation",
    "K6": KEY_EXCHANGE + "test_certificate_refusals",
    "T1": "tests/api/test_keys.py::test_tag_limits",
    "T2": "tests/api/test_keys.py::test_tag_limits",
    "T4": "tests/api/test_keys.py::test_tag_limits",
    "T5": "tests/api/test_keys.py::test_alias_lifecycle",
    "R1": "tests/api/test_replication.py::test_asymmetric_keys_do_not_replicate",
    "R2": "tests/api/test_replication.py::test_bad_replication_regions",
    "R3": "tests/api/test_replication.py::test_bad_replication_regions",
    "R4": "tests/api/test_replication.py::test_bad_replication_regions",
    "R5": "tests/api/test_replication.py::test_bad_region_lists_elsewhere",
    "R6": "tests/api/test_replication.py::test_bad_region_lists_elsewhere",
    "R7": "tests/api/test_replication.py::test_remove_region_deletes_its_replica",
    "P1": "tests/api/test_resource_policies.py::test_public_and_malformed_policies_are_refused",
    "P2": "tests/api/test_resource_policies.py::test_public_and_malformed_policies_are_refused",
    "P3": "tests/api/test_resource_policies.py::test_a_foreign_key_not_shared_is_access_denied",
    "P4": "tests/api/test_resource_policies.py::test_a_key_policy_cannot_lock_its_account_out",
    "M2": "tests/api/test_mpa.py::test_changing_or_removing_the_team_needs_its_approval",
    "L1": "tests/api/test_keys.py::test_bad_next_token",
    "X1": KEY_EXCHANGE + "test_tokens_are_bound_and_expire",
    "X3": KEY_EXCHANGE + "test_tr34_export_token_and_byoca",
    "X4": KEY_EXCHANGE + "test_certificate_refusals",
    "X5": KEY_EXCHANGE + "test_key_cryptogram_refusals",
    "X6": KEY_EXCHANGE + "test_tr31_tampering_wrong_kbpk_and_structure",
    "X7": KEY_EXCHANGE + "test_tr31_import_hmac_with_hm_and_kcv_algorithm",
    "X8": "tests/api/test_key_exchange.py::test_export_ipek",
    "X11": "tests/api/test_tr31_optional_blocks.py::test_export_computes_hm_and_pb_only",
    "X12": KEY_EXCHANGE + "test_key_cryptogram_export",
    "X13": "tests/api/test_key_exchange.py::test_translate_key_material",
    "X14": KEY_EXCHANGE + "test_tr34_import_two_and_one_pass",
    "X15": KEY_EXCHANGE + "test_key_cryptogram_refusals",
    "X19": KEY_EXCHANGE + "test_ecdh_refusals",
    "X20": "tests/service/working_keys/test_dynamic_keys.py::test_ecdh_refusals",
    "X21": KEY_EXCHANGE + "test_public_key_certificate_and_csr",
    "X22": KEY_EXCHANGE + "test_as2805_cryptogram_rules",
    "U1": "tests/api/test_issuer_api.py::test_pin_key_state_and_usage",
    "U2": "tests/service/transactions/test_macs.py::test_key_usage_is_the_algorithms_own",
    "U3": "tests/service/transactions/test_macs.py::test_hmac_algorithm_must_name_the_keys_hash",
    "U5": "tests/service/transactions/test_data_encryption.py::test_dynamic_key_needs_symmetric_attributes",
    "E2": "tests/api/test_data_encryption_api.py::test_bad_input",
    "E3": "tests/api/test_data_encryption_api.py::test_bad_input",
    "E4": "tests/api/test_data_encryption_api.py::test_bad_input",
    "E7": "tests/api/test_data_encryption_api.py::test_bad_input",
    "D2": "tests/api/test_data_encryption_api.py::test_bad_input",
    "D3": "tests/api/test_data_encryption_api.py::test_bad_input",
    "D4": "tests/service/issuer/test_issuer_service.py::test_dukpt_bad_inputs",
    "D6": "tests/service/transactions/test_macs.py::test_dukpt_iso9797_with_an_aes_bdk",
    "C1": "tests/api/test_mac_api.py::test_bad_input",
    "C3": "tests/api/test_mac_api.py::test_bad_input",
    "I1": "tests/api/test_issuer_api.py::test_seed_g1_as_printed_is_refused",
    "I5": "tests/service/transactions/test_pin_translation.py::test_wrapped_key_rules",
    "I7": "tests/service/transactions/test_pin_translation.py::test_pan_must_match",
    "I8": "tests/api/test_pin_translation.py::test_as2805_wrong_stan_or_amount",
    "I9": "tests/api/test_emv.py::test_pin_change_bad_input",
    "V1": "tests/service/issuer/test_issuer_service.py::test_amex_needs_an_amex_pan",
    "Y1": "tests/api/test_emv.py::test_odd_transaction_data_names_its_path",
    "Y2": "tests/api/test_emv.py::test_pin_change_bad_input",
    "A1": "tests/service/transactions/test_as2805_kek_validation.py::test_derive_key_algorithm_must_be_tdes",
}

# Rows issue 12's other items changed: the items the decision must name, and the test showing it.
OTHER_ITEMS: dict[str, tuple[tuple[int, ...], str]] = {
    "K4": (
        (1, 2),
        "tests/api/test_kcv_algorithms.py::test_root_certificate_import_accepts_any_kcv_algorithm",
    ),
    "K5": ((6,), "tests/api/test_hmac_key_length.py::test_tr31_import_refuses_a_short_hmac_key"),
    "X18": ((3,), "tests/api/test_ecdh_pin_flows.py::test_pin_select_verify_reveal_and_reset"),
}


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", sorted(CASES))
def test_row(env: Env, row: str) -> None:
    case = CASES[row]
    if not isinstance(case, Refused):
        case(env)
        return
    method, params = case.call(env)
    before = db_snapshot(env.server.data_dir)
    response = expect_error(method, case.code, case.status, **params)
    assert case.says in response["Error"]["Message"], response["Error"]["Message"]
    assert db_snapshot(env.server.data_dir) == before


def table_rows() -> dict[str, str]:
    """Row id -> decision cell of the **Refusals and their evidence** table."""
    rows = {}
    for line in page(TABLE).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and re.fullmatch(r"[A-Z]\d+", cells[0]):
            assert cells[0] not in rows, f"row {cells[0]} twice"
            rows[cells[0]] = cells[-1]
    return rows


def test_every_row_is_shown() -> None:
    rows = table_rows()
    shown = set(CASES) | set(ELSEWHERE) | set(OTHER_ITEMS)
    assert set(rows) == shown, {"in the table only": set(rows) - shown, "here only": shown - set(rows)}
    assert not set(CASES) & set(ELSEWHERE), "a row is shown twice"
    for row, (items, _) in OTHER_ITEMS.items():
        assert all(f"item {item}" in rows[row] for item in items), (row, rows[row])
    for row, case in CASES.items():
        decision = rows[row]
        assert decision.startswith("accepted now") != isinstance(case, Refused), (row, decision)
    for row, where in [*ELSEWHERE.items(), *((row, test) for row, (_, test) in OTHER_ITEMS.items())]:
        path, name = where.split("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{row}: {where} does not exist"
        assert path.rsplit("/", 1)[-1] in rows[row] or row in ELSEWHERE, (
            f"{row}: the table does not name {path}"
        )
        assert not rows[row].startswith("accepted now"), row
