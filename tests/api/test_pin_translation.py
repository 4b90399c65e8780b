"""TranslatePinData and GenerateAs2805KekValidation end to end: boto3 and the AWS CLI.

The terminal and the peer node are tests/api/pin_terminal.py (written from the standards with
plain `cryptography` and psec, not paycrypt's code); keys are published test keys stored with
`put_known_key`. Sources: ANSI X9.24-1:2009 Annex A (BDK 0123456789ABCDEFFEDCBA9876543210, KSN
FFFF9876543210E00001…, PIN 1234, PAN 4012345678909), the X9.24-3-2017 supplement test vectors
(AES BDK FEDCBA9876543210F1F1F1F1F1F1F1F1, initial key ID 1234567890123456), and issue 7's
AS2805 known answers. The ECDH partner app (PIN selection and reveal) is tests/kx_partner.py.
"""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import botocore.exceptions
import pytest
from psec import tr31 as psec_tr31

from tests import kx_partner as kp
from tests.api import pin_terminal as term
from tests.api.cli import AwsCli
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_partner_ca, put_known_key

# Every heavy call these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
B0 = "TR31_B0_BASE_DERIVATION_KEY"
K0 = "TR31_K0_KEY_ENCRYPTION_KEY"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
ANNEX_A_PAN = "4012345678909"
PAN = "4242424242424242"
KPP = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
STAN_AMOUNT = {"SystemTraceAuditNumber": "000438", "TransactionAmount": "000000000328"}


def _fmt(number: int | str, pan: str = PAN) -> dict:
    if number == "A0":
        return {"As2805Format0": {"PrimaryAccountNumber": pan}}
    return {f"IsoFormat{number}": {} if number == 1 else {"PrimaryAccountNumber": pan}}


def _iso(number: int | str) -> int:
    return 0 if number == "A0" else int(number)


@pytest.fixture(scope="module")
def zone_pek(server) -> tuple[str, bytes]:
    material = term.odd_parity(secrets.token_bytes(16))
    return put_known_key(server, material, P0, "TDES_2KEY", EDWU)["KeyArn"], material


@pytest.fixture(scope="module")
def aes_pek(server) -> tuple[str, bytes]:
    material = secrets.token_bytes(32)
    return put_known_key(server, material, P0, "AES_256", EDWU)["KeyArn"], material


@pytest.fixture(scope="module")
def tdes_bdk(server) -> str:
    return put_known_key(server, TDES_BDK, B0, "TDES_2KEY", DERIVE)["KeyArn"]


@pytest.fixture(scope="module")
def aes_bdk(server) -> str:
    return put_known_key(server, AES_BDK, B0, "AES_128", DERIVE)["KeyArn"]


# --- terminals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ksn", ["FFFF9876543210E00001", "FFFF9876543210E00012", "FFFF9876543210EFF801"])
def test_tdes_dukpt_terminal_to_zone_pek(data, tdes_bdk, zone_pek, ksn) -> None:
    zone_arn, zone_key = zone_pek
    pin = "".join(secrets.choice("0123456789") for _ in range(6))
    terminal_key = term.tdes_dukpt_pin_key(TDES_BDK, bytes.fromhex(ksn))
    out = data.translate_pin_data(
        IncomingKeyIdentifier=tdes_bdk,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        EncryptedPinBlock=term.encrypt_pin_block(terminal_key, 0, pin, ANNEX_A_PAN),
        IncomingDukptAttributes={"KeySerialNumber": ksn},
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], ANNEX_A_PAN) == pin
    assert out["KeyArn"] == zone_arn


def test_annex_a_block_itself(data, tdes_bdk, zone_pek) -> None:
    """X9.24-1:2009 A.4.2: the published block for PIN 1234 at KSN …E00001 is 1B9C1845EB993A7A."""
    zone_arn, zone_key = zone_pek
    out = data.translate_pin_data(
        IncomingKeyIdentifier=tdes_bdk,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        EncryptedPinBlock="1B9C1845EB993A7A",
        IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "REQUEST"},
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], ANNEX_A_PAN) == "1234"
    back = data.translate_pin_data(
        IncomingKeyIdentifier=zone_arn,
        OutgoingKeyIdentifier=tdes_bdk,
        IncomingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=_fmt(0, ANNEX_A_PAN),
        EncryptedPinBlock=out["PinBlock"],
        OutgoingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
    )
    assert back["PinBlock"] == "1B9C1845EB993A7A" and back["KeyArn"] == tdes_bdk


@pytest.mark.parametrize("counter", [1, 2, 8, 0x1FFFE])
def test_aes_dukpt_terminal_to_aes_pek_format_4(data, aes_bdk, aes_pek, counter) -> None:
    aes_arn, aes_key = aes_pek
    ksn = "1234567890123456" + f"{counter:08X}"
    terminal_key = term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn))
    if counter == 1:  # the terminal agrees with the X9.24-3-2017 supplement
        assert terminal_key.hex().upper() == "AF8CB133A78F8DC2D1359F18527593FB"
    out = data.translate_pin_data(
        IncomingKeyIdentifier=aes_bdk,
        OutgoingKeyIdentifier=aes_arn,
        IncomingTranslationAttributes=_fmt(4),
        OutgoingTranslationAttributes=_fmt(4),
        EncryptedPinBlock=term.encrypt_pin_block(terminal_key, 4, "246810", PAN),
        IncomingDukptAttributes={"KeySerialNumber": ksn},
    )
    assert term.decrypt_pin_block(aes_key, 4, out["PinBlock"], PAN) == "246810"
    assert len(out["PinBlock"]) == 32


def test_aes_dukpt_terminal_to_tdes_zone_pek_format_0(data, aes_bdk, zone_pek) -> None:
    zone_arn, zone_key = zone_pek
    ksn = "123456789012345600000003"
    terminal_key = term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn))
    out = data.translate_pin_data(
        IncomingKeyIdentifier=aes_bdk,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes=_fmt(4),
        OutgoingTranslationAttributes=_fmt(0),
        EncryptedPinBlock=term.encrypt_pin_block(terminal_key, 4, "8642", PAN),
        IncomingDukptAttributes={"KeySerialNumber": ksn, "DukptKeyDerivationType": "AES_128"},
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], PAN) == "8642"


SEED_PAN = "171234567890123"  # the guide's PAN (fails Luhn; accepted)


@pytest.mark.parametrize("derivation_type", [None, "AES_128"])
def test_seed_p1_corrected_pek_to_aes_dukpt_format_4(server, data, aes_bdk, derivation_type) -> None:
    """Seed-C P1 as corrected (the AWS CLI example's coherent direction, 24-hex KSN per
    A-DUKPT-2): ISO format 0 in under a TDES PEK, format 4 out under the AES DUKPT PIN key the
    terminal derives from the X9.24-3 supplement's AES BDK; the terminal reads the same PIN."""
    pek_material = term.odd_parity(secrets.token_bytes(24))
    pek = put_known_key(server, pek_material, P0, "TDES_3KEY", EDWU)["KeyArn"]
    ksn = "123456789012345600000008"
    outgoing = {"KeySerialNumber": ksn}
    if derivation_type:
        outgoing["DukptKeyDerivationType"] = derivation_type
    out = data.translate_pin_data(
        IncomingKeyIdentifier=pek,
        OutgoingKeyIdentifier=aes_bdk,
        IncomingTranslationAttributes=_fmt(0, SEED_PAN),
        OutgoingTranslationAttributes=_fmt(4, SEED_PAN),
        EncryptedPinBlock=term.encrypt_pin_block(pek_material, 0, "1234", SEED_PAN),
        OutgoingDukptAttributes=outgoing,
    )
    terminal_key = term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn))
    assert terminal_key.hex().upper() == "4D9DF3FBEE3448FC3E676D04320A90F5"  # X9.24-3 supplement
    assert len(out["PinBlock"]) == 32
    assert term.decrypt_pin_block(terminal_key, 4, out["PinBlock"], SEED_PAN) == "1234"
    assert out["KeyArn"] == aes_bdk


def test_aes_dukpt_to_dukpt(server, data, aes_bdk, tdes_bdk) -> None:
    """AES DUKPT in (format 4) to another AES BDK's terminal (format 4) and to a TDES DUKPT
    terminal (format 0); each terminal decrypts the PIN under its own derived key."""
    other_material = secrets.token_bytes(32)
    other_bdk = put_known_key(server, other_material, B0, "AES_256", DERIVE)["KeyArn"]
    ksn_in, ksn_out = "123456789012345600000005", "ABCDEF012345678900000C01"
    sent = term.encrypt_pin_block(term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn_in)), 4, "975310", PAN)
    to_aes = data.translate_pin_data(
        IncomingKeyIdentifier=aes_bdk,
        OutgoingKeyIdentifier=other_bdk,
        IncomingTranslationAttributes=_fmt(4),
        OutgoingTranslationAttributes=_fmt(4),
        EncryptedPinBlock=sent,
        IncomingDukptAttributes={"KeySerialNumber": ksn_in},
        OutgoingDukptAttributes={"KeySerialNumber": ksn_out, "DukptKeyDerivationType": "AES_128"},
    )
    other_key = term.aes_dukpt_pin_key(other_material, bytes.fromhex(ksn_out), "AES_128")
    assert term.decrypt_pin_block(other_key, 4, to_aes["PinBlock"], PAN) == "975310"
    assert to_aes["KeyArn"] == other_bdk
    tdes_ksn = "FFFF9876543210E00012"
    to_tdes = data.translate_pin_data(
        IncomingKeyIdentifier=aes_bdk,
        OutgoingKeyIdentifier=tdes_bdk,
        IncomingTranslationAttributes=_fmt(4),
        OutgoingTranslationAttributes=_fmt(0),
        EncryptedPinBlock=sent,
        IncomingDukptAttributes={"KeySerialNumber": ksn_in},
        OutgoingDukptAttributes={"KeySerialNumber": tdes_ksn},
    )
    tdes_key = term.tdes_dukpt_pin_key(TDES_BDK, bytes.fromhex(tdes_ksn))
    assert term.decrypt_pin_block(tdes_key, 0, to_tdes["PinBlock"], PAN) == "975310"
    assert to_tdes["KeyArn"] == tdes_bdk


PAIRS = [(a, b) for a, b in itertools.product((0, 1, 3, "A0", 4), repeat=2) if not (a != 1 and b == 1)]


@pytest.mark.parametrize(("fin", "fout"), PAIRS)
def test_pek_to_pek_every_format_pair(server, data, fin, fout) -> None:
    def pek(fmt: int | str) -> tuple[str, bytes]:
        if fmt == 4:
            material = secrets.token_bytes(16)
            return put_known_key(server, material, P0, "AES_128", EDWU)["KeyArn"], material
        material = term.odd_parity(secrets.token_bytes(24))
        return put_known_key(server, material, P0, "TDES_3KEY", EDWU)["KeyArn"], material

    (in_arn, in_key), (out_arn, out_key) = pek(fin), pek(fout)
    out = data.translate_pin_data(
        IncomingKeyIdentifier=in_arn,
        OutgoingKeyIdentifier=out_arn,
        IncomingTranslationAttributes=_fmt(fin),
        OutgoingTranslationAttributes=_fmt(fout),
        EncryptedPinBlock=term.encrypt_pin_block(in_key, _iso(fin), "13579", PAN),
    )
    assert term.decrypt_pin_block(out_key, _iso(fout), out["PinBlock"], PAN) == "13579"
    assert out["KeyArn"] == out_arn


# --- AS2805 ---------------------------------------------------------------------------------------


def test_as2805_session_pin_key_to_zone_pek(server, data, zone_pek) -> None:
    """Issue 7's known answer: KPE 70541B97… from KPP, STAN 000438, amount 000000000328; the block
    9BE3569D8637DC79 is 041010DBDBDBDBDB under it, i.e. PIN 1034 for PAN 4242424242424242 (the
    issue's "PIN 1234" is an erratum: 1234 would be 041210DBDBDBDBDB)."""
    assert term.as2805_kpe(KPP, "000438", "000000000328").hex().upper() == "70541B972503C4680571AFC767C201A4"
    kpp = put_known_key(server, KPP, P0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})["KeyArn"]
    zone_arn, zone_key = zone_pek
    out = data.translate_pin_data(
        IncomingKeyIdentifier=kpp,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes=_fmt("A0"),
        OutgoingTranslationAttributes=_fmt(0),
        EncryptedPinBlock="9BE3569D8637DC79",
        IncomingAs2805Attributes=STAN_AMOUNT,
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], PAN) == "1034"
    assert out["PinBlock"] == term.tdes_ecb(zone_key, bytes.fromhex("041010DBDBDBDBDB")).hex().upper()


def test_as2805_peer_terminal_any_pin(server, data, zone_pek) -> None:
    kpp_material = term.odd_parity(secrets.token_bytes(16))
    kpp = put_known_key(server, kpp_material, P0, "TDES_2KEY", EDWU)["KeyArn"]
    zone_arn, zone_key = zone_pek
    stan, amount = f"{secrets.randbelow(10**6):06d}", f"{secrets.randbelow(10**12):012d}"
    kpe = term.as2805_kpe(kpp_material, stan, amount)
    out = data.translate_pin_data(
        IncomingKeyIdentifier=kpp,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes=_fmt(0),
        OutgoingTranslationAttributes=_fmt("A0"),
        EncryptedPinBlock=term.encrypt_pin_block(kpe, 0, "20251231", PAN),
        IncomingAs2805Attributes={"SystemTraceAuditNumber": stan, "TransactionAmount": amount},
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], PAN) == "20251231"


@pytest.mark.parametrize(
    "attrs",
    [
        {"SystemTraceAuditNumber": "000439", "TransactionAmount": "000000000328"},
        {"SystemTraceAuditNumber": "000438", "TransactionAmount": "000000003280"},
    ],
)
def test_as2805_wrong_stan_or_amount(server, data, zone_pek, attrs) -> None:
    kpp = put_known_key(server, KPP, P0, "TDES_2KEY", EDWU)["KeyArn"]
    zone_arn, zone_key = zone_pek
    before = db_snapshot(server.data_dir)
    try:
        out = data.translate_pin_data(
            IncomingKeyIdentifier=kpp,
            OutgoingKeyIdentifier=zone_arn,
            IncomingTranslationAttributes=_fmt(0),
            OutgoingTranslationAttributes=_fmt(0),
            EncryptedPinBlock="9BE3569D8637DC79",
            IncomingAs2805Attributes=attrs,
        )
    except botocore.exceptions.ClientError as exc:
        error = exc.response
        assert error["Error"]["Code"] == "ValidationException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "Pin block provided is invalid" in error["Error"]["Message"]
    else:  # the wrong KPE decoded a block by chance: the peer cannot recover the PIN
        assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], PAN) != "1034"
    assert db_snapshot(server.data_dir) == before


def test_kek_validation_known_answer_and_peer(server, data) -> None:
    kek = put_known_key(server, KEK, K0, "TDES_2KEY", EDWU)
    out = data.generate_as2805_kek_validation(
        KeyIdentifier=kek["KeyArn"],
        KekValidationType={"KekValidationResponse": {"RandomKeySend": "B7F43719E1110F2B73051CEFA472A77F"}},
        RandomKeySendVariantMask="VARIANT_MASK_82",
    )
    assert out["RandomKeyReceive"] == "CC1AAD24D931ABB2AAAC178DA5468202"
    assert out["RandomKeySend"] == "B7F43719E1110F2B73051CEFA472A77F"
    assert out["KeyArn"] == kek["KeyArn"] and out["KeyCheckValue"] == kek["KeyCheckValue"] == "08D7B4"
    for mask, algorithm, size in (
        ("VARIANT_MASK_82", "TDES_2KEY", 32),
        ("VARIANT_MASK_82C0", "TDES_3KEY", 48),
    ):
        request = data.generate_as2805_kek_validation(
            KeyIdentifier=kek["KeyArn"],
            KekValidationType={"KekValidationRequest": {"DeriveKeyAlgorithm": algorithm}},
            RandomKeySendVariantMask=mask,
        )
        assert len(request["RandomKeySend"]) == len(request["RandomKeyReceive"]) == size
        # the peer node, holding the same KEK, answers; its answer is the KRr paycrypt predicted
        assert term.kek_validation_answer(KEK, mask, request["RandomKeySend"]) == request["RandomKeyReceive"]
        # and paycrypt answers the peer's own request the way the peer expects
        send, expected = term.kek_validation_request(
            KEK, mask, term.odd_parity(secrets.token_bytes(size // 2))
        )
        answer = data.generate_as2805_kek_validation(
            KeyIdentifier=kek["KeyArn"],
            KekValidationType={"KekValidationResponse": {"RandomKeySend": send}},
            RandomKeySendVariantMask=mask,
        )
        assert answer["RandomKeyReceive"] == expected
    capped = data.generate_as2805_kek_validation(
        KeyIdentifier=kek["KeyArn"],
        KekValidationType={
            "KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_3KEY", "RandomKeyMaxLength": "BYTES_8"}
        },
        RandomKeySendVariantMask="VARIANT_MASK_82C0",
    )
    assert len(capped["RandomKeySend"]) == 16
    assert (
        term.kek_validation_answer(KEK, "VARIANT_MASK_82C0", capped["RandomKeySend"])
        == capped["RandomKeyReceive"]
    )


def test_dynamic_pek_to_acquirer_working_key(server, data, control) -> None:
    """The guide's "Using Dynamic Keys" TranslatePin flow (seed-E C2, corrected): a P0 PEK in a
    TR-31 block (mode B) under alias/PARTNER1_KEK, translated to a stored acquirer PEK with
    Encrypt/Wrap; the TR-31 block is built by psec, not paycrypt."""
    kek_material = term.odd_parity(secrets.token_bytes(16))
    kek = put_known_key(server, kek_material, K0, "TDES_2KEY", EDWU)["KeyArn"]
    awk_material = term.odd_parity(secrets.token_bytes(16))
    awk = put_known_key(server, awk_material, P0, "TDES_2KEY", {"Encrypt": True, "Wrap": True})
    alias = f"alias/PARTNER1_KEK_{secrets.token_hex(4)}"
    control.create_alias(AliasName=alias, KeyArn=kek)
    dynamic = term.odd_parity(secrets.token_bytes(16))
    block = psec_tr31.wrap(kek_material, psec_tr31.Header("B", "P0", "T", "B", "00", "S"), dynamic)
    out = data.translate_pin_data(
        IncomingKeyIdentifier=alias,
        OutgoingKeyIdentifier=awk["KeyArn"],
        IncomingTranslationAttributes=_fmt(0, "171234567890123"),
        OutgoingTranslationAttributes=_fmt(0, "171234567890123"),
        EncryptedPinBlock=term.encrypt_pin_block(dynamic, 0, "1234", "171234567890123"),
        IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
    )
    assert term.decrypt_pin_block(awk_material, 0, out["PinBlock"], "171234567890123") == "1234"
    assert out["KeyArn"] == awk["KeyArn"] and out["KeyCheckValue"] == awk["KeyCheckValue"]
    # PIN reveal the other way: from the acquirer key out to a dynamic key the partner sent
    reveal = term.odd_parity(secrets.token_bytes(16))
    out_block = psec_tr31.wrap(kek_material, psec_tr31.Header("B", "P0", "T", "E", "00", "S"), reveal)
    zone = put_known_key(server, awk_material, P0, "TDES_2KEY", EDWU)["KeyArn"]
    back = data.translate_pin_data(
        IncomingKeyIdentifier=zone,
        OutgoingKeyIdentifier=kek,
        IncomingTranslationAttributes=_fmt(0, "171234567890123"),
        OutgoingTranslationAttributes=_fmt(3, "171234567890123"),
        EncryptedPinBlock=out["PinBlock"],
        OutgoingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": out_block}},
    )
    assert term.decrypt_pin_block(reveal, 3, back["PinBlock"], "171234567890123") == "1234"
    assert back["KeyArn"] == kek


@pytest.mark.parametrize(("algorithm", "formats"), [("TDES_2KEY", (0, 3)), ("AES_128", (4, 4))])
def test_ecdh_pin_selection_and_reveal(server, control, data, algorithm, formats) -> None:
    """PIN selection and reveal with a DiffieHellmanSymmetricKey dynamic key, all through boto3:
    the partner's CA chain goes in by ImportKey, the K3 key pair by CreateKey (DeriveKeyUsage P0),
    its certificate out by GetPublicKeyCertificate; the partner app (tests/kx_partner.py, plain
    `cryptography`) agrees the PEK by ECDH + NIST SP 800-56A concatenation KDF and encrypts and
    decrypts its PIN blocks with psec / `cryptography` (tests/api/pin_terminal.py)."""
    root = kp.ca("ECC_NIST_P256", "PIN app root")
    issuing = kp.leaf(root, "ECC_NIST_P256", "PIN app issuing CA", is_ca=True)
    root_arn = import_partner_ca(control, "RootCertificatePublicKey", root)
    issuing_arn = import_partner_ca(control, "TrustedCertificatePublicKey", issuing, root_arn)
    app = kp.leaf(issuing, "ECC_NIST_P256", "cardholder app")
    k3 = control.create_key(
        Exportable=False,
        DeriveKeyUsage=P0,
        KeyAttributes={
            "KeyAlgorithm": "ECC_NIST_P256",
            "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"DeriveKey": True},
        },
    )["Key"]["KeyArn"]
    service_certificate = kp.load_b64(control.get_public_key_certificate(KeyIdentifier=k3)["KeyCertificate"])
    shared = secrets.token_hex(16).upper()
    app_key = kp.ecdh_key(app.key, service_certificate, algorithm=algorithm, shared_information=shared)
    ecdh = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": issuing_arn,
                "PublicKeyCertificate": app.b64,
                "KeyAlgorithm": algorithm,
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": shared,
            }
        }
    }
    if algorithm == "AES_128":
        issuer_material = secrets.token_bytes(16)
    else:
        issuer_material = term.odd_parity(secrets.token_bytes(16))
    issuer_pek = put_known_key(server, issuer_material, P0, algorithm, EDWU)["KeyArn"]
    fin, fout = formats
    selected = data.translate_pin_data(  # PIN selection: the app's block in under the ECDH key
        IncomingKeyIdentifier=k3,
        OutgoingKeyIdentifier=issuer_pek,
        IncomingTranslationAttributes=_fmt(fin),
        OutgoingTranslationAttributes=_fmt(fin),
        EncryptedPinBlock=term.encrypt_pin_block(app_key, fin, "739146", PAN),
        IncomingWrappedKey=ecdh,
    )
    assert term.decrypt_pin_block(issuer_material, fin, selected["PinBlock"], PAN) == "739146"
    assert selected["KeyArn"] == issuer_pek
    revealed = data.translate_pin_data(  # PIN reveal: out to the app under the ECDH key
        IncomingKeyIdentifier=issuer_pek,
        OutgoingKeyIdentifier=k3,
        IncomingTranslationAttributes=_fmt(fin),
        OutgoingTranslationAttributes=_fmt(fout),
        EncryptedPinBlock=selected["PinBlock"],
        OutgoingWrappedKey=ecdh,
    )
    assert term.decrypt_pin_block(app_key, fout, revealed["PinBlock"], PAN) == "739146"
    assert revealed["KeyArn"] == k3
    if algorithm == "AES_128":
        assert revealed["KeyCheckValue"] == kp.kcv_aes(app_key)
    else:
        assert revealed["KeyCheckValue"] == kp.kcv_tdes(app_key)


# --- bad input ----------------------------------------------------------------------------------


def _bad_translations(tdes_bdk: str, aes_bdk: str, zone_arn: str, aes_arn: str, kek_arn: str) -> list:
    """(case, params, error code, status, text the message must hold)."""
    base = {
        "IncomingKeyIdentifier": tdes_bdk,
        "OutgoingKeyIdentifier": zone_arn,
        "IncomingTranslationAttributes": _fmt(0),
        "OutgoingTranslationAttributes": _fmt(0),
        "EncryptedPinBlock": "1B9C1845EB993A7A",
    }

    def dukpt(ksn: str, **extra: str) -> dict:
        return {**base, "IncomingDukptAttributes": {"KeySerialNumber": ksn, **extra}}

    ksn_member = "IncomingDukptAttributes.KeySerialNumber"
    return [
        (
            "16-hex KSN on an AES BDK",
            {**dukpt("1234567890123456"), "IncomingKeyIdentifier": aes_bdk},
            "ValidationException",
            400,
            ksn_member,
        ),
        # a 16-hex KSN on a TDES BDK is read F-padded (docs/decisions/refusals.md, D1): here counter 0
        ("16-hex KSN, counter 0", dukpt("9876543210E00000"), "ValidationException", 400, ksn_member),
        ("AES KSN on a TDES BDK", dukpt("123456789012345600000001"), "ValidationException", 400, ksn_member),
        ("counter 0", dukpt("FFFF9876543210E00000"), "ValidationException", 400, ksn_member),
        ("11 one-bits", dukpt("FFFF9876543210EFFE00"), "ValidationException", 400, ksn_member),
        (
            "AES counter with 17 one-bits",
            {**dukpt("1234567890123456FFFF0001"), "IncomingKeyIdentifier": aes_bdk},
            "ValidationException",
            400,
            ksn_member,
        ),
        (
            "KSN of odd pattern length",
            dukpt("FFFF9876543210E000011"),
            "ValidationException",
            400,
            "KeySerialNumber",
        ),
        (
            "format 4 with a TDES key",
            {**base, "IncomingKeyIdentifier": zone_arn, "OutgoingTranslationAttributes": _fmt(4)},
            "ValidationException",
            400,
            "IsoFormat4",
        ),
        (
            "format 0 with an AES key",
            {**base, "IncomingKeyIdentifier": zone_arn, "OutgoingKeyIdentifier": aes_arn},
            "ValidationException",
            400,
            "IsoFormat0",
        ),
        ("BDK without DUKPT attributes", base, "ValidationException", 400, "KeyUsage"),
        ("KEK as a PEK", {**base, "IncomingKeyIdentifier": kek_arn}, "ValidationException", 400, "KeyUsage"),
        (
            "PEK given DUKPT attributes",
            {**dukpt("FFFF9876543210E00001"), "IncomingKeyIdentifier": zone_arn},
            "ValidationException",
            400,
            "KeyUsage",
        ),
        (
            "PAN-bound to format 1",
            {**base, "IncomingKeyIdentifier": zone_arn, "OutgoingTranslationAttributes": _fmt(1)},
            "ValidationException",
            400,
            "cannot be translated",
        ),
        (
            "PANs differ",
            {
                **base,
                "IncomingKeyIdentifier": zone_arn,
                "OutgoingTranslationAttributes": _fmt(0, ANNEX_A_PAN),
            },
            "ValidationException",
            400,
            "must be the same",
        ),
        (
            "block does not decode",
            {**base, "IncomingKeyIdentifier": zone_arn},
            "ValidationException",
            400,
            "Pin block provided is invalid",
        ),
        (
            "AES-sized block under TDES",
            {**base, "IncomingKeyIdentifier": zone_arn, "EncryptedPinBlock": "00" * 16},
            "ValidationException",
            400,
            "EncryptedPinBlock",
        ),
        (
            "odd-length block",
            {**base, "IncomingKeyIdentifier": zone_arn, "EncryptedPinBlock": "1B9C1845EB993A7A1"},
            "ValidationException",
            400,
            "EncryptedPinBlock",
        ),
        (
            "two incoming key sources",
            {**dukpt("FFFF9876543210E00001"), "IncomingAs2805Attributes": STAN_AMOUNT},
            "ValidationException",
            400,
            "cannot be used together",
        ),
        (
            "bad STAN",
            {**base, "IncomingAs2805Attributes": {"SystemTraceAuditNumber": "43", "TransactionAmount": "1"}},
            "ValidationException",
            400,
            "SystemTraceAuditNumber",
        ),
        (
            "unknown key",
            {**base, "IncomingKeyIdentifier": zone_arn[:-16] + "a" * 16},
            "ResourceNotFoundException",
            404,
            "",
        ),
        (
            "wrapped key under a PEK, not a KEK",
            {
                **base,
                "IncomingKeyIdentifier": zone_arn,
                "IncomingWrappedKey": {"WrappedKeyMaterial": {"Tr31KeyBlock": "D0112P0TB00S0000" + "0" * 96}},
            },
            "ValidationException",
            400,
            "KeyUsage",
        ),
    ]


def test_bad_input_is_refused_and_changes_nothing(server, data, tdes_bdk, aes_bdk, zone_pek, aes_pek) -> None:
    kek_arn = put_known_key(server, KEK, K0, "TDES_2KEY", EDWU)["KeyArn"]
    cases = _bad_translations(tdes_bdk, aes_bdk, zone_pek[0], aes_pek[0], kek_arn)
    before = db_snapshot(server.data_dir)
    for name, params, code, status, text in cases:
        response = expect_error(data.translate_pin_data, code, status, **params)
        assert text in response["Error"]["Message"], name
        assert PAN not in response["Error"]["Message"] and "1234" not in response["Error"]["Message"], name
    for params, text in (
        ({"KekValidationRequest": {"DeriveKeyAlgorithm": "AES_128"}}, "DeriveKeyAlgorithm"),
        ({"KekValidationResponse": {"RandomKeySend": "B7F43719"}}, "RandomKeySend"),
    ):
        response = expect_error(
            data.generate_as2805_kek_validation,
            "ValidationException",
            400,
            KeyIdentifier=kek_arn,
            KekValidationType=params,
            RandomKeySendVariantMask="VARIANT_MASK_82",
        )
        assert text in response["Error"]["Message"]
    response = expect_error(
        data.generate_as2805_kek_validation,
        "ValidationException",
        400,
        KeyIdentifier=zone_pek[0],
        KekValidationType={"KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_2KEY"}},
        RandomKeySendVariantMask="VARIANT_MASK_82",
    )
    assert "KeyUsage" in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


def test_ksn_error_carries_field_list(data, tdes_bdk, zone_pek) -> None:
    response = expect_error(
        data.translate_pin_data,
        "ValidationException",
        400,
        IncomingKeyIdentifier=tdes_bdk,
        OutgoingKeyIdentifier=zone_pek[0],
        IncomingTranslationAttributes=_fmt(0),
        OutgoingTranslationAttributes=_fmt(0),
        EncryptedPinBlock="1B9C1845EB993A7A",
        IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00000"},
    )
    assert response["fieldList"][0]["path"] == "/IncomingDukptAttributes/KeySerialNumber"


# --- AWS CLI ----------------------------------------------------------------------------------------


def _aws(server, tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    return AwsCli(server.endpoint, tmp_path)(*args, ok=False)


@pytest.mark.cli
def test_aws_cli_translate_pin_data_and_kek_validation(server, tmp_path, tdes_bdk, zone_pek) -> None:
    zone_arn, zone_key = zone_pek

    def translate_annex_a(ksn: str, out_format: int) -> tuple[int, dict, str]:
        """aws translate-pin-data of the X9.24-1 Annex A block (PIN 1234) under the BDK at `ksn`."""
        return _aws(
            server,
            tmp_path,
            "payment-cryptography-data",
            "translate-pin-data",
            "--encrypted-pin-block",
            "1B9C1845EB993A7A",
            "--incoming-key-identifier",
            tdes_bdk,
            "--incoming-translation-attributes",
            f"IsoFormat0={{PrimaryAccountNumber={ANNEX_A_PAN}}}",
            "--incoming-dukpt-attributes",
            f"KeySerialNumber={ksn}",
            "--outgoing-key-identifier",
            zone_arn,
            "--outgoing-translation-attributes",
            f"IsoFormat{out_format}={{PrimaryAccountNumber={ANNEX_A_PAN}}}",
        )

    code, out, stderr = translate_annex_a("FFFF9876543210E00001", 3)
    assert code == 0, stderr
    assert term.decrypt_pin_block(zone_key, 3, out["PinBlock"], ANNEX_A_PAN) == "1234"
    assert out["KeyArn"] == zone_arn
    code, _, stderr = translate_annex_a("FFFF9876543210E00000", 0)
    assert code != 0 and "ValidationException" in stderr and "KeySerialNumber" in stderr
    kek = put_known_key(server, KEK, K0, "TDES_2KEY", EDWU)["KeyArn"]
    code, out, stderr = _aws(
        server,
        tmp_path,
        "payment-cryptography-data",
        "generate-as2805-kek-validation",
        "--key-identifier",
        kek,
        "--kek-validation-type",
        "KekValidationResponse={RandomKeySend=B7F43719E1110F2B73051CEFA472A77F}",
        "--random-key-send-variant-mask",
        "VARIANT_MASK_82",
    )
    assert code == 0, stderr
    assert out["RandomKeyReceive"] == "CC1AAD24D931ABB2AAAC178DA5468202"
