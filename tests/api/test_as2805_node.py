"""AS2805 node to node through boto3: variant key cryptograms on ImportKey/ExportKey, and the guide's
whole flow against a peer node (tests/api/as2805_peer.py, plain `cryptography`, no paycrypt code).

Vectors: issue 7's known answers, computed outside paycrypt from the definitions AWS's AS2805
examples use — KEK 0123456789ABCDEFFEDCBA9876543210 (KCV 08D7B4), working key
89ABCDEF0123456776543210FEDCBA98 (KCV EB7A8D) and its cryptogram under each variant.
KEKs are loaded the way a user would: ImportKey (`import_known_key_via_api`, a TR-31 block under an
RSA-unwrapped transport key).
"""

from __future__ import annotations

import secrets

import pytest

from tests.api import as2805_peer as peer
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_known_key_via_api

KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
WORKING_KEY = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
K0 = "TR31_K0_KEY_ENCRYPTION_KEY"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
GV = {"Generate": True, "Verify": True}
PAN = "4242424242424242"
# variant → (KeyUsage, issue 7's cryptogram of WORKING_KEY under KEK)
VARIANTS = {
    "PIN_ENCRYPTION_KEY_VARIANT_28": ("TR31_P0_PIN_ENCRYPTION_KEY", "283353B15171638522838EC58E0643AA"),
    "DATA_ENCRYPTION_KEY_VARIANT_22": (
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "170BD5F59BCACDDA4A70C0D1CA65ECA2",
    ),
    "MESSAGE_AUTHENTICATION_KEY_VARIANT_24": (
        "TR31_M0_ISO_16609_MAC_KEY",
        "A63809FB674229575BB772160397F198",
    ),
    "TERMINAL_MAJOR_KEY_VARIANT_00": (K0, "4230EF1CB26849557D6E1DACA7432525"),
}


def _modes(variant: str) -> dict[str, bool]:
    return GV if variant.startswith("MESSAGE") else EDWU


def import_cryptogram(control, kek_arn: str, variant: str, cryptogram: str, **overrides) -> dict:
    value = {
        "As2805KeyVariant": variant,
        "KeyModesOfUse": _modes(variant),
        "KeyAlgorithm": "TDES_2KEY",
        "Exportable": True,
        "WrappingKeyIdentifier": kek_arn,
        "WrappedKeyCryptogram": cryptogram,
        **overrides,
    }
    return control.import_key(KeyMaterial={"As2805KeyCryptogram": value})["Key"]


def export_cryptogram(control, key_arn: str, kek_arn: str, variant: str) -> dict:
    return control.export_key(
        ExportKeyIdentifier=key_arn,
        KeyMaterial={"As2805KeyCryptogram": {"WrappingKeyIdentifier": kek_arn, "As2805KeyVariant": variant}},
    )["WrappedKey"]


@pytest.fixture(scope="module")
def known_kek(control) -> str:
    key = import_known_key_via_api(control, KEK, K0, "TDES_2KEY", EDWU)
    assert key["KeyCheckValue"] == "08D7B4"
    return key["KeyArn"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_cryptogram_known_answers(control, known_kek, variant) -> None:
    usage, cryptogram = VARIANTS[variant]
    key = import_cryptogram(control, known_kek, variant, cryptogram)
    assert key["KeyCheckValue"] == "EB7A8D" and key["KeyCheckValueAlgorithm"] == "ANSI_X9_24"
    assert key["KeyAttributes"]["KeyUsage"] == usage and key["KeyOrigin"] == "EXTERNAL"
    assert key["KeyAttributes"]["KeyModesOfUse"] == {
        **dict.fromkeys(("Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify"), False),
        **{"DeriveKey": False, "NoRestrictions": False},
        **_modes(variant),
    }
    wrapped = export_cryptogram(control, key["KeyArn"], known_kek, variant)
    assert wrapped["KeyMaterial"] == cryptogram
    assert wrapped["KeyCheckValue"] == "EB7A8D"  # the exported key's, not the KEK's 08D7B4
    assert wrapped["WrappedKeyMaterialFormat"] == "KEY_CRYPTOGRAM" and wrapped["WrappingKeyArn"] == known_kek


def test_cryptogram_bad_input(server, control, known_kek) -> None:
    p0 = import_cryptogram(
        control, known_kek, "PIN_ENCRYPTION_KEY_VARIANT_28", VARIANTS["PIN_ENCRYPTION_KEY_VARIANT_28"][1]
    )["KeyArn"]
    before = db_snapshot(server.data_dir)
    cryptogram = VARIANTS["PIN_ENCRYPTION_KEY_VARIANT_28"][1]
    for overrides, message in [
        ({"KeyAlgorithm": "AES_128"}, "TDES_2KEY or TDES_3KEY"),
        ({"KeyAlgorithm": "TDES_3KEY"}, "weaker"),
        ({"KeyModesOfUse": {"Generate": True}}, "KeyModesOfUse"),
        ({"WrappedKeyCryptogram": cryptogram[:16]}, "32 or 48"),
        ({"WrappedKeyCryptogram": cryptogram[:31]}, "WrappedKeyCryptogram"),
        ({"WrappingKeyIdentifier": p0}, "KeyUsage TR31_P0"),
    ]:
        response = expect_error(
            import_cryptogram,
            "ValidationException",
            400,
            control,
            known_kek,
            "PIN_ENCRYPTION_KEY_VARIANT_28",
            cryptogram,
            **overrides,
        )
        assert message in response["Error"]["Message"], response
        assert cryptogram not in response["Error"]["Message"]
    expect_error(
        import_cryptogram,
        "ResourceNotFoundException",
        400,  # every control-plane client error is 400 (docs/decisions/wire-protocol.md, Statuses)
        control,
        "alias/as2805-no-such-kek",
        "PIN_ENCRYPTION_KEY_VARIANT_28",
        cryptogram,
    )
    for variant in ("DATA_ENCRYPTION_KEY_VARIANT_22", "MESSAGE_AUTHENTICATION_KEY_VARIANT_24"):
        response = expect_error(
            export_cryptogram, "ValidationException", 400, control, p0, known_kek, variant
        )
        assert "carries" in response["Error"]["Message"]
    expect_error(
        export_cryptogram, "ValidationException", 400, control, p0, p0, "PIN_ENCRYPTION_KEY_VARIANT_28"
    )
    assert db_snapshot(server.data_dir) == before


def test_node_to_node_flow(control, data) -> None:
    """The guide's AS2805 flow from node1's (paycrypt's) side; node2 is the plain-cryptography peer."""
    # 1. KEK exchange: node2's KEK(r) (paycrypt unwraps under it) and node1's KEK(s) (paycrypt wraps
    #    under it), unidirectional as AS2805 mandates; both reach paycrypt through ImportKey.
    kek_r, kek_s = peer.new_key(), peer.new_key()
    kek_r_arn = import_known_key_via_api(control, kek_r, K0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    kek_s_arn = import_known_key_via_api(control, kek_s, K0, "TDES_2KEY", {"Encrypt": True, "Wrap": True})
    assert kek_r_arn["KeyCheckValue"] == peer.kcv(kek_r) and kek_s_arn["KeyCheckValue"] == peer.kcv(kek_s)
    kek_r_arn, kek_s_arn = kek_r_arn["KeyArn"], kek_s_arn["KeyArn"]

    # 2. KEK validation both ways, both masks.
    for mask in peer.KEK_VALIDATION:
        krs, krr = peer.kek_validation_request(kek_r, mask)  # node2 asks, node1 answers
        answer = data.generate_as2805_kek_validation(
            KeyIdentifier=kek_r_arn,
            KekValidationType={"KekValidationResponse": {"RandomKeySend": krs}},
            RandomKeySendVariantMask=mask,
        )
        assert answer["RandomKeyReceive"] == krr and answer["KeyCheckValue"] == peer.kcv(kek_r)
        request = data.generate_as2805_kek_validation(  # node1 asks, node2 answers
            KeyIdentifier=kek_s_arn,
            KekValidationType={"KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_2KEY"}},
            RandomKeySendVariantMask=mask,
        )
        assert (
            peer.kek_validation_answer(kek_s, mask, request["RandomKeySend"]) == request["RandomKeyReceive"]
        )

    # 3. Working keys for every variant, both directions; the KCVs agree.
    received: dict[str, tuple[str, bytes]] = {}  # node2's keys, now in paycrypt
    sent: dict[str, tuple[str, bytes]] = {}  # node1's keys, now at node2
    for variant, (usage, _) in VARIANTS.items():
        theirs = peer.new_key()
        key = import_cryptogram(control, kek_r_arn, variant, peer.wrap(kek_r, theirs, variant))
        assert key["KeyCheckValue"] == peer.kcv(theirs) and key["KeyAttributes"]["KeyUsage"] == usage
        received[variant] = key["KeyArn"], theirs
        ours = control.create_key(
            Exportable=True,
            KeyAttributes={
                "KeyUsage": usage,
                "KeyClass": "SYMMETRIC_KEY",
                "KeyAlgorithm": "TDES_2KEY",
                "KeyModesOfUse": _modes(variant),
            },
        )["Key"]
        wrapped = export_cryptogram(control, ours["KeyArn"], kek_s_arn, variant)
        assert wrapped["WrappingKeyArn"] == kek_s_arn
        at_peer = peer.unwrap(kek_s, wrapped["KeyMaterial"], variant)
        assert peer.kcv(at_peer) == wrapped["KeyCheckValue"] == ours["KeyCheckValue"]
        sent[variant] = ours["KeyArn"], at_peer

    # 4. PIN translation: the peer's terminal PIN key (KPP, received with variant 28) derives the
    #    transaction's KPE from STAN and amount; paycrypt translates to node1's zone PIN key, which
    #    node2 holds from step 3 and decrypts to the original PIN.
    kpp_arn, kpp = received["PIN_ENCRYPTION_KEY_VARIANT_28"]
    zpk_arn, zpk = sent["PIN_ENCRYPTION_KEY_VARIANT_28"]
    stan, amount = f"{secrets.randbelow(10**6):06d}", f"{secrets.randbelow(10**12):012d}"
    pin = f"{secrets.randbelow(10**6):06d}"
    out = data.translate_pin_data(
        IncomingKeyIdentifier=kpp_arn,
        OutgoingKeyIdentifier=zpk_arn,
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes={"As2805Format0": {"PrimaryAccountNumber": PAN}},
        EncryptedPinBlock=peer.pin_block(peer.session_pin_key(kpp, stan, amount), pin, PAN),
        IncomingAs2805Attributes={"SystemTraceAuditNumber": stan, "TransactionAmount": amount},
    )
    assert peer.read_pin(zpk, out["PinBlock"], PAN) == pin and out["KeyCheckValue"] == peer.kcv(zpk)

    # 5. MACs (AS2805_4_1), both ways, with either side's MAC key.
    message = secrets.token_bytes(37)
    attributes = {"Algorithm": "AS2805_4_1"}
    for arn, key in (
        received["MESSAGE_AUTHENTICATION_KEY_VARIANT_24"],
        sent["MESSAGE_AUTHENTICATION_KEY_VARIANT_24"],
    ):
        theirs = peer.as2805_mac(key, message)
        data.verify_mac(
            KeyIdentifier=arn, MessageData=message.hex(), VerificationAttributes=attributes, Mac=theirs
        )
        ours = data.generate_mac(
            KeyIdentifier=arn, MessageData=message.hex(), GenerationAttributes=attributes
        )
        assert ours["Mac"] == theirs
        wrong = theirs[:-1] + ("0" if theirs[-1] != "0" else "1")
        response = expect_error(
            data.verify_mac,
            "VerificationFailedException",
            400,
            KeyIdentifier=arn,
            MessageData=message.hex(),
            VerificationAttributes=attributes,
            Mac=wrong,
        )
        assert response["Reason"] == "INVALID_MAC"

    # 6. Failures: a cryptogram has no integrity check, so a wrong variant, a wrong KEK or a tampered
    #    cryptogram imports a different key — the KCV paycrypt returns differs from the peer's.
    theirs = peer.new_key()
    right = peer.wrap(kek_r, theirs, "PIN_ENCRYPTION_KEY_VARIANT_28")
    tampered = right[:5] + ("0" if right[5] != "0" else "1") + right[6:]
    for cryptogram in (
        peer.wrap(kek_r, theirs, "DATA_ENCRYPTION_KEY_VARIANT_22"),  # wrong variant
        peer.wrap(peer.new_key(), theirs, "PIN_ENCRYPTION_KEY_VARIANT_28"),  # wrong KEK
        tampered,
    ):
        key = import_cryptogram(control, kek_r_arn, "PIN_ENCRYPTION_KEY_VARIANT_28", cryptogram)
        assert key["KeyCheckValue"] != peer.kcv(theirs)
    assert import_cryptogram(control, kek_r_arn, "PIN_ENCRYPTION_KEY_VARIANT_28", right)["KeyCheckValue"] == (
        peer.kcv(theirs)
    )
