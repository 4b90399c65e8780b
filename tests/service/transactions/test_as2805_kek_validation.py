"""GenerateAs2805KekValidation called directly: issue 7's known answer, both modes, both masks.

The peer node (tests/api/pin_terminal.py, plain `cryptography`) checks request mode; response
mode is pinned by issue 7's known answer, computed outside paycrypt.
"""

from __future__ import annotations

import secrets

import pytest

from paycrypt.errors import ValidationError
from paycrypt.service.transactions import as2805_kek_validation
from tests.api import pin_terminal as term
from tests.service.stored_keys import context as ctx
from tests.service.transactions.test_pin_translation import put

K0 = "TR31_K0_KEY_ENCRYPTION_KEY"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # issue 7


def kek_validation(svc, kek: str, mode: dict, mask: str = "VARIANT_MASK_82") -> dict:
    params = {"KeyIdentifier": kek, "KekValidationType": mode, "RandomKeySendVariantMask": mask}
    return as2805_kek_validation.generate_as2805_kek_validation(svc, ctx(svc), params)


def test_response_mode_known_answer(svc) -> None:
    arn = put(svc, KEK, K0, "TDES_2KEY", EDWU)
    out = kek_validation(
        svc, arn, {"KekValidationResponse": {"RandomKeySend": "b7f43719e1110f2b73051cefa472a77f"}}
    )
    assert out["RandomKeyReceive"] == "CC1AAD24D931ABB2AAAC178DA5468202"
    assert out["RandomKeySend"] == "B7F43719E1110F2B73051CEFA472A77F"
    assert out["KeyArn"] == arn and out["KeyCheckValue"] == "08D7B4"


@pytest.mark.parametrize("mask", ["VARIANT_MASK_82", "VARIANT_MASK_82C0"])
@pytest.mark.parametrize(
    ("algorithm", "max_length", "length"),
    [
        ("TDES_2KEY", None, 16),
        ("TDES_3KEY", None, 24),
        ("TDES_3KEY", "BYTES_16", 16),
        ("TDES_2KEY", "BYTES_8", 8),
        ("TDES_2KEY", "BYTES_24", 16),
    ],
)
def test_request_mode_answered_by_a_peer(svc, mask, algorithm, max_length, length) -> None:
    material = term.odd_parity(secrets.token_bytes(24))
    arn = put(svc, material, K0, "TDES_3KEY", {"Encrypt": True, "Wrap": True})
    request = {"DeriveKeyAlgorithm": algorithm}
    if max_length:
        request["RandomKeyMaxLength"] = max_length
    out = kek_validation(svc, arn, {"KekValidationRequest": request}, mask)
    assert len(out["RandomKeySend"]) == len(out["RandomKeyReceive"]) == 2 * length
    assert term.kek_validation_answer(material, mask, out["RandomKeySend"]) == out["RandomKeyReceive"]
    again = kek_validation(svc, arn, {"KekValidationRequest": request}, mask)
    assert again["RandomKeySend"] != out["RandomKeySend"]  # a fresh RN each time


def test_response_answers_a_peer_request_both_masks(svc) -> None:
    arn = put(svc, KEK, K0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    for mask in ("VARIANT_MASK_82", "VARIANT_MASK_82C0"):
        for size in (8, 16, 24):
            send, expected = term.kek_validation_request(
                KEK, mask, term.odd_parity(secrets.token_bytes(size))
            )
            out = kek_validation(svc, arn, {"KekValidationResponse": {"RandomKeySend": send}}, mask)
            assert out["RandomKeyReceive"] == expected


def test_kek_rules(svc) -> None:
    encrypt_only = put(svc, KEK, K0, "TDES_2KEY", {"Encrypt": True, "Wrap": True})
    decrypt_only = put(svc, KEK, K0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    unrestricted = put(svc, KEK, K0, "TDES_2KEY", {"NoRestrictions": True})
    aes_kek = put(svc, secrets.token_bytes(16), K0, "AES_128", EDWU)
    pek = put(svc, KEK, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", EDWU)
    request = {"KekValidationRequest": {"DeriveKeyAlgorithm": "TDES_2KEY"}}
    response = {"KekValidationResponse": {"RandomKeySend": "B7F43719E1110F2B73051CEFA472A77F"}}
    kek_validation(svc, encrypt_only, request)
    kek_validation(svc, decrypt_only, response)
    kek_validation(svc, unrestricted, request)
    kek_validation(svc, unrestricted, response)
    for arn, mode, needle in (
        (encrypt_only, response, "KeyModesOfUse"),
        (decrypt_only, request, "KeyModesOfUse"),
        (aes_kek, request, "KeyAlgorithm AES_128"),
        (pek, response, "KeyUsage TR31_P0"),
    ):
        with pytest.raises(ValidationError, match=needle):
            kek_validation(svc, arn, mode)


@pytest.mark.parametrize("algorithm", ["AES_128", "AES_256", "HMAC_SHA256"])
def test_derive_key_algorithm_must_be_tdes(svc, algorithm) -> None:
    arn = put(svc, KEK, K0, "TDES_2KEY", EDWU)
    with pytest.raises(ValidationError, match=r"KekValidationRequest\.DeriveKeyAlgorithm") as info:
        kek_validation(svc, arn, {"KekValidationRequest": {"DeriveKeyAlgorithm": algorithm}})
    assert info.value.field_list[0]["path"] == "/KekValidationType/KekValidationRequest/DeriveKeyAlgorithm"
