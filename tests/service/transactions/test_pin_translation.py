"""TranslatePinData called directly: every key source and format pair, the rules, the errors.

Oracles: the ANSI X9.24-1:2009 Annex A.4 values (BDK 0123456789ABCDEFFEDCBA9876543210, PIN 1234,
PAN 4012345678909: KSN FFFF9876543210E00001 gives the block 1B9C1845EB993A7A), the X9.24-3-2017
supplement's AES DUKPT PIN keys, issue 7's AS2805 known answers, and the test terminal in
tests/api/pin_terminal.py (psec PIN blocks, plain `cryptography`), never paycrypt's own code.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import secrets
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.x509.oid import NameOID
from psec import tr31 as psec_tr31

from paycrypt.errors import ResourceNotFound, ValidationError
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.service.transactions import pin_translation
from tests.api import pin_terminal as term
from tests.service import stored_keys
from tests.service.stored_keys import context as ctx

P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
B0 = "TR31_B0_BASE_DERIVATION_KEY"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}

TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # X9.24-1:2009 Annex A
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3-2017 supplement
ANNEX_A_PAN = "4012345678909"
ANNEX_A_KSN1_BLOCK = "1B9C1845EB993A7A"  # X9.24-1:2009 A.4.2, PIN 1234 at KSN ...E00001
KPP = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")  # issue 7
PAN = "4242424242424242"


put = stored_keys.put  # (svc, material, usage, algorithm, modes) -> ARN


def tdes_pek(svc: Service, modes: dict[str, bool] = EDWU, algorithm: str = "TDES_2KEY") -> tuple[str, bytes]:
    material = term.odd_parity(secrets.token_bytes(16 if algorithm == "TDES_2KEY" else 24))
    return put(svc, material, P0, algorithm, modes), material


def aes_pek(svc: Service, algorithm: str = "AES_128") -> tuple[str, bytes]:
    material = secrets.token_bytes({"AES_128": 16, "AES_192": 24, "AES_256": 32}[algorithm])
    return put(svc, material, P0, algorithm, EDWU), material


def fmt(number: int | str, pan: str = PAN) -> dict[str, Any]:
    if number == "A0":
        return {"As2805Format0": {"PrimaryAccountNumber": pan}}
    return {f"IsoFormat{number}": {} if number == 1 else {"PrimaryAccountNumber": pan}}


def translate(svc: Service, **params: Any) -> dict[str, Any]:
    return pin_translation.translate_pin_data(svc, ctx(svc), params)


def translate_between(
    svc: Service, incoming: str, outgoing: str, block: str, formats: tuple[int | str, int | str], **extra: Any
) -> dict[str, Any]:
    """TranslatePinData of `block` from `incoming` to `outgoing`, formats (in, out) on PAN."""
    return translate(
        svc,
        IncomingKeyIdentifier=incoming,
        OutgoingKeyIdentifier=outgoing,
        IncomingTranslationAttributes=fmt(formats[0]),
        OutgoingTranslationAttributes=fmt(formats[1]),
        EncryptedPinBlock=block,
        **extra,
    )


def iso(number: int | str) -> int:
    return 0 if number == "A0" else int(number)


# --- PEK -> PEK -----------------------------------------------------------------------------------

TDES_FORMATS = (0, 1, 3, "A0")
PAIRS = [
    (a, b)
    for a, b in itertools.product((*TDES_FORMATS, 4), repeat=2)
    if not (a != 1 and b == 1)  # a PAN-bound block cannot become format 1
]


@pytest.mark.parametrize(("fin", "fout"), PAIRS)
def test_pek_to_pek_every_allowed_format_pair(svc, fin, fout) -> None:
    in_arn, in_key = aes_pek(svc) if fin == 4 else tdes_pek(svc)
    out_arn, out_key = aes_pek(svc, "AES_256") if fout == 4 else tdes_pek(svc, algorithm="TDES_3KEY")
    pin = "".join(secrets.choice("0123456789") for _ in range(secrets.choice(range(4, 13))))
    block = term.encrypt_pin_block(in_key, iso(fin), pin, PAN)
    out = translate_between(svc, in_arn, out_arn, block, (fin, fout))
    assert term.decrypt_pin_block(out_key, iso(fout), out["PinBlock"], PAN) == pin
    record = svc.store.get_key(out_arn)
    assert out["KeyArn"] == out_arn and out["KeyCheckValue"] == record.key_check_value


def test_pan_bound_format_cannot_become_format_1(svc) -> None:
    arn, key = tdes_pek(svc)
    for fin in (0, 3, "A0"):
        with pytest.raises(ValidationError, match="cannot be translated"):
            translate_between(svc, arn, arn, term.encrypt_pin_block(key, iso(fin), "1234", PAN), (fin, 1))


def test_pan_must_match(svc) -> None:
    arn, key = tdes_pek(svc)
    with pytest.raises(ValidationError, match="must be the same") as info:
        translate(
            svc,
            IncomingKeyIdentifier=arn,
            OutgoingKeyIdentifier=arn,
            IncomingTranslationAttributes=fmt(0),
            OutgoingTranslationAttributes=fmt(0, "4242424242424243"),
            EncryptedPinBlock=term.encrypt_pin_block(key, 0, "1234", PAN),
        )
    assert PAN not in info.value.message


def test_format_4_legacy_pan_block_is_read_too(svc) -> None:
    """A format 4 block built with AWS's "legacy PAN" field (12 rightmost digits without the check
    digit) translates as well as an ISO one."""
    in_arn, in_key = aes_pek(svc)
    out_arn, out_key = tdes_pek(svc)
    legacy_pan = PAN[:-1][-12:]  # the PAN field psec builds for a 12-digit PAN is the legacy field
    block = term.encrypt_pin_block(in_key, 4, "907153", legacy_pan)
    out = translate_between(svc, in_arn, out_arn, block, (4, 0))
    assert term.decrypt_pin_block(out_key, 0, out["PinBlock"], PAN) == "907153"


def test_format_and_key_cipher_must_agree(svc) -> None:
    tdes_arn, tdes_key = tdes_pek(svc)
    aes_arn, aes_key = aes_pek(svc)
    cases = [
        (tdes_arn, aes_arn, 0, 0, term.encrypt_pin_block(tdes_key, 0, "1234", PAN)),  # AES key, format 0 out
        (
            tdes_arn,
            tdes_arn,
            0,
            4,
            term.encrypt_pin_block(tdes_key, 0, "1234", PAN),
        ),  # TDES key, format 4 out
        (tdes_arn, tdes_arn, 4, 0, term.encrypt_pin_block(aes_key, 4, "1234", PAN)),  # TDES key, format 4 in
        (aes_arn, tdes_arn, 0, 0, term.encrypt_pin_block(tdes_key, 0, "1234", PAN)),  # AES key, format 0 in
    ]
    for in_arn, out_arn, fin, fout, block in cases:
        with pytest.raises(ValidationError, match="PIN block format"):
            translate_between(svc, in_arn, out_arn, block, (fin, fout))


def test_block_that_does_not_decode(svc) -> None:
    arn, key = tdes_pek(svc)
    other, _ = tdes_pek(svc)
    block = term.encrypt_pin_block(key, 0, "1234", PAN)
    for in_arn, in_fmt, pan, given in (
        (other, 0, PAN, block),  # wrong key
        (arn, 3, PAN, block),  # wrong format
        (arn, 0, "4242424242424259", block),  # wrong PAN
        (arn, 0, PAN, "0" * 32),  # an AES-sized block under a TDES key
    ):
        with pytest.raises(ValidationError) as info:
            translate(
                svc,
                IncomingKeyIdentifier=in_arn,
                OutgoingKeyIdentifier=arn,
                IncomingTranslationAttributes=fmt(in_fmt, pan),
                OutgoingTranslationAttributes=fmt(in_fmt, pan),
                EncryptedPinBlock=given,
            )
        assert "1234" not in info.value.message and pan not in info.value.message


def test_key_usage_and_modes(svc) -> None:
    encrypt_only, key = tdes_pek(svc, {"Encrypt": True, "Wrap": True})
    decrypt_only, _ = tdes_pek(svc, {"Decrypt": True, "Unwrap": True})
    bdk = put(svc, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    kek = put(svc, term.odd_parity(secrets.token_bytes(16)), "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", EDWU)
    block = term.encrypt_pin_block(key, 0, "1234", PAN)
    for in_arn, out_arn, needle in (
        (encrypt_only, encrypt_only, "KeyModesOfUse"),  # incoming key cannot decrypt
        (encrypt_only, decrypt_only, "KeyModesOfUse"),
        (bdk, encrypt_only, "KeyUsage"),  # a BDK without IncomingDukptAttributes
        (kek, encrypt_only, "KeyUsage"),
    ):
        with pytest.raises(ValidationError, match=needle):
            translate_between(svc, in_arn, out_arn, block, (0, 0))
    with pytest.raises(ResourceNotFound):
        translate_between(svc, encrypt_only[:-4] + "zzzz", encrypt_only, block, (0, 0))


# --- DUKPT ----------------------------------------------------------------------------------------


def test_tdes_dukpt_to_pek_annex_a(svc) -> None:
    bdk = put(svc, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    out_arn, out_key = tdes_pek(svc)
    out = translate(
        svc,
        IncomingKeyIdentifier=bdk,
        OutgoingKeyIdentifier=out_arn,
        IncomingTranslationAttributes=fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=fmt(3, ANNEX_A_PAN),
        EncryptedPinBlock=ANNEX_A_KSN1_BLOCK,
        IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
    )
    assert term.decrypt_pin_block(out_key, 3, out["PinBlock"], ANNEX_A_PAN) == "1234"


def test_pek_to_tdes_dukpt_gives_the_annex_a_block(svc) -> None:
    """Format 0 is deterministic, so PEK -> DUKPT must give X9.24-1 Annex A's own block."""
    in_arn, in_key = tdes_pek(svc)
    bdk = put(svc, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    out = translate(
        svc,
        IncomingKeyIdentifier=in_arn,
        OutgoingKeyIdentifier=bdk,
        IncomingTranslationAttributes=fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=fmt(0, ANNEX_A_PAN),
        EncryptedPinBlock=term.encrypt_pin_block(in_key, 0, "1234", ANNEX_A_PAN),
        OutgoingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "REQUEST"},
    )
    assert out["PinBlock"] == ANNEX_A_KSN1_BLOCK
    assert out["KeyArn"] == bdk and out["KeyCheckValue"] == svc.store.get_key(bdk).key_check_value


def test_aes_dukpt_to_aes_pek_format_4(svc) -> None:
    bdk = put(svc, AES_BDK, B0, "AES_128", DERIVE)
    out_arn, out_key = aes_pek(svc)
    ksn = "123456789012345600000008"
    terminal_key = term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn))
    assert terminal_key.hex().upper() == "4D9DF3FBEE3448FC3E676D04320A90F5"  # X9.24-3 supplement
    out = translate_between(
        svc,
        bdk,
        out_arn,
        term.encrypt_pin_block(terminal_key, 4, "56789012", PAN),
        (4, 4),
        IncomingDukptAttributes={"KeySerialNumber": ksn, "DukptKeyDerivationType": "AES_128"},
    )
    assert term.decrypt_pin_block(out_key, 4, out["PinBlock"], PAN) == "56789012"


def test_aes_bdk_with_tdes_working_key_and_dukpt_to_dukpt(svc) -> None:
    """An AES BDK deriving a TDES_2KEY PIN key (format 0), out to a TDES DUKPT terminal key."""
    aes_bdk = put(svc, AES_BDK, B0, "AES_128", DERIVE)
    tdes_bdk = put(svc, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    ksn = "123456789012345600000001"
    terminal_key = term.aes_dukpt_pin_key(AES_BDK, bytes.fromhex(ksn), "TDES_2KEY")
    assert terminal_key.hex().upper() == "630C706D9546E47D4449313F61C4D4AB"  # X9.24-3 supplement
    out = translate(
        svc,
        IncomingKeyIdentifier=aes_bdk,
        OutgoingKeyIdentifier=tdes_bdk,
        IncomingTranslationAttributes=fmt(0, ANNEX_A_PAN),
        OutgoingTranslationAttributes=fmt(0, ANNEX_A_PAN),
        EncryptedPinBlock=term.encrypt_pin_block(terminal_key, 0, "1234", ANNEX_A_PAN),
        IncomingDukptAttributes={"KeySerialNumber": ksn, "DukptKeyDerivationType": "TDES_2KEY"},
        OutgoingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
    )
    assert out["PinBlock"] == ANNEX_A_KSN1_BLOCK


@pytest.mark.parametrize(
    ("ksn", "algorithm", "member"),
    [
        ("9876543210E00000", "TDES_2KEY", "KeySerialNumber"),  # 16 hex, F-padded: counter 0
        ("1234567890123456", "AES_128", "KeySerialNumber"),  # 16 hex: no AES convention
        ("FFFF9876543210E00000", "TDES_2KEY", "KeySerialNumber"),  # counter 0
        ("FFFF9876543210E7FE00", "TDES_2KEY", "KeySerialNumber"),  # 10 one-bits is the limit...
        ("FFFF9876543210EFFF00", "TDES_2KEY", "KeySerialNumber"),  # ...12 is too many
        ("123456789012345600000001", "TDES_2KEY", "KeySerialNumber"),  # AES KSN, TDES BDK
        ("FFFF9876543210E00001", "AES_128", "KeySerialNumber"),  # TDES KSN, AES BDK
        ("123456789012345600000000", "AES_128", "KeySerialNumber"),  # counter 0
        ("1234567890123456FFFF0001", "AES_128", "KeySerialNumber"),  # 17 one-bits
    ],
)
def test_ksn_rules(svc, ksn, algorithm, member) -> None:
    bdk = put(svc, TDES_BDK if algorithm == "TDES_2KEY" else AES_BDK, B0, algorithm, DERIVE)
    out_arn, _ = tdes_pek(svc)
    params = dict(
        IncomingKeyIdentifier=bdk,
        OutgoingKeyIdentifier=out_arn,
        IncomingTranslationAttributes=fmt(0),
        OutgoingTranslationAttributes=fmt(0),
        EncryptedPinBlock="0123456789ABCDEF",
        IncomingDukptAttributes={"KeySerialNumber": ksn, "DukptKeyDerivationType": "TDES_2KEY"},
    )
    if ksn == "FFFF9876543210E7FE00":  # exactly 10 one-bits: valid KSN, the block just does not decode
        with pytest.raises(ValidationError, match="Pin block provided is invalid"):
            translate(svc, **params)
        return
    with pytest.raises(ValidationError) as info:
        translate(svc, **params)
    assert f"IncomingDukptAttributes.{member}" in info.value.message
    assert info.value.field_list == [
        {"path": f"/IncomingDukptAttributes/{member}", "message": info.value.field_list[0]["message"]}
    ]


def test_derivation_type_rules(svc) -> None:
    tdes_bdk = put(svc, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    aes_bdk = put(svc, AES_BDK, B0, "AES_128", DERIVE)
    out_arn, _ = tdes_pek(svc)
    for bdk, ksn, derivation_type in (
        (tdes_bdk, "FFFF9876543210E00001", "AES_128"),  # X9.24-1 derives TDES_2KEY only
        (aes_bdk, "123456789012345600000001", "AES_256"),  # stronger than the BDK
    ):
        with pytest.raises(ValidationError, match=r"IncomingDukptAttributes\.DukptKeyDerivationType"):
            translate_between(
                svc,
                bdk,
                out_arn,
                "0123456789ABCDEF",
                (0, 0),
                IncomingDukptAttributes={"KeySerialNumber": ksn, "DukptKeyDerivationType": derivation_type},
            )


def test_tdes_3key_bdk_is_refused(svc) -> None:
    bdk = put(svc, term.odd_parity(secrets.token_bytes(24)), B0, "TDES_3KEY", DERIVE)
    out_arn, _ = tdes_pek(svc)
    with pytest.raises(ValidationError, match="KeyAlgorithm TDES_3KEY"):
        translate_between(
            svc,
            bdk,
            out_arn,
            "0123456789ABCDEF",
            (0, 0),
            IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
        )


# --- AS2805 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("incoming_format", ["IsoFormat0", "As2805Format0"])
def test_as2805_session_key_known_answer(svc, incoming_format) -> None:
    """Issue 7: KPP + STAN 000438 + amount 000000000328 -> KPE 70541B97…; 9BE3569D8637DC79 is the
    block 041010DBDBDBDBDB under it, which for PAN 4242424242424242 holds PIN 1034 (the issue says
    1234: an erratum, 1234 would be 041210DBDBDBDBDB)."""
    kpp = put(svc, KPP, P0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    out_arn, out_key = tdes_pek(svc)
    out = translate(
        svc,
        IncomingKeyIdentifier=kpp,
        OutgoingKeyIdentifier=out_arn,
        IncomingTranslationAttributes={incoming_format: {"PrimaryAccountNumber": PAN}},
        OutgoingTranslationAttributes=fmt("A0"),
        EncryptedPinBlock="9BE3569D8637DC79",
        IncomingAs2805Attributes={"SystemTraceAuditNumber": "000438", "TransactionAmount": "000000000328"},
    )
    assert out["PinBlock"] == term.tdes_ecb(out_key, bytes.fromhex("041010DBDBDBDBDB")).hex().upper()
    assert term.decrypt_pin_block(out_key, 0, out["PinBlock"], PAN) == "1034"


def test_as2805_wrong_stan_or_amount(svc) -> None:
    kpp = put(svc, KPP, P0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    out_arn, out_key = tdes_pek(svc)
    for stan, amount in (("000439", "000000000328"), ("000438", "000000000329")):
        try:
            out = translate_between(
                svc,
                kpp,
                out_arn,
                "9BE3569D8637DC79",
                (0, 0),
                IncomingAs2805Attributes={"SystemTraceAuditNumber": stan, "TransactionAmount": amount},
            )
        except ValidationError as exc:
            assert "Pin block provided is invalid" in exc.message
        else:  # decoded by chance: the PIN is not the one the terminal sent
            assert term.decrypt_pin_block(out_key, 0, out["PinBlock"], PAN) != "1034"


def test_as2805_rules(svc) -> None:
    aes_kpp, _ = aes_pek(svc)
    kpp = put(svc, KPP, P0, "TDES_2KEY", EDWU)
    out_arn, _ = tdes_pek(svc)
    as2805 = {"SystemTraceAuditNumber": "000438", "TransactionAmount": "000000000328"}
    base = dict(
        OutgoingKeyIdentifier=out_arn,
        IncomingTranslationAttributes=fmt(0),
        OutgoingTranslationAttributes=fmt(0),
        EncryptedPinBlock="9BE3569D8637DC79",
        IncomingAs2805Attributes=as2805,
    )
    with pytest.raises(ValidationError, match="KeyAlgorithm AES_128"):
        translate(svc, IncomingKeyIdentifier=aes_kpp, **base)
    with pytest.raises(ValidationError, match="cannot be used together"):
        translate(
            svc,
            IncomingKeyIdentifier=kpp,
            IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
            **base,
        )
    with pytest.raises(ValidationError, match="PIN block format"):
        translate(svc, IncomingKeyIdentifier=kpp, **{**base, "IncomingTranslationAttributes": fmt(4)})


def tr31_block(kbpk: bytes, version: str, usage: str, algorithm: str, mode: str, key: bytes) -> str:
    """A TR-31 key block built by psec (an independent implementation)."""
    return psec_tr31.wrap(kbpk, psec_tr31.Header(version, usage, algorithm, mode, "00", "S"), key)


@pytest.mark.parametrize(("version", "kek_algorithm"), [("B", "TDES_2KEY"), ("D", "AES_256")])
@pytest.mark.parametrize("mode", ["B", "D"])
def test_incoming_wrapped_pek(svc, version, kek_algorithm, mode) -> None:
    """The guide's dynamic-key flow: a P0 PEK in a TR-31 block (mode B or D) under a KEK, the PIN
    translated to a stored acquirer PEK (Encrypt/Wrap)."""
    kek_material = term.odd_parity(secrets.token_bytes(16)) if version == "B" else secrets.token_bytes(32)
    kek = put(svc, kek_material, "TR31_K0_KEY_ENCRYPTION_KEY", kek_algorithm, EDWU)
    dynamic = term.odd_parity(secrets.token_bytes(16))
    block = tr31_block(kek_material, version, "P0", "T", mode, dynamic)
    awk, awk_key = tdes_pek(svc, {"Encrypt": True, "Wrap": True})
    out = translate_between(
        svc,
        kek,
        awk,
        term.encrypt_pin_block(dynamic, 0, "4321", PAN),
        (0, 0),
        IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
    )
    assert term.decrypt_pin_block(awk_key, 0, out["PinBlock"], PAN) == "4321"
    assert out["KeyArn"] == awk


def test_outgoing_wrapped_aes_pek_format_4(svc) -> None:
    kek_material = secrets.token_bytes(32)
    kek = put(svc, kek_material, "TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", EDWU)
    dynamic = secrets.token_bytes(16)
    block = tr31_block(kek_material, "D", "P0", "A", "E", dynamic)
    in_arn, in_key = tdes_pek(svc)
    out = translate_between(
        svc,
        in_arn,
        kek,
        term.encrypt_pin_block(in_key, 0, "0000", PAN),
        (0, 4),
        OutgoingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}, "KeyCheckValueAlgorithm": "CMAC"},
    )
    assert term.decrypt_pin_block(dynamic, 4, out["PinBlock"], PAN) == "0000"
    assert out["KeyArn"] == kek  # the stored key named; the KCV is the working key's
    assert out["KeyCheckValue"] == term.aes_cmac_kcv(dynamic)


def test_wrapped_key_rules(svc) -> None:
    kek_material = secrets.token_bytes(32)
    kek = put(svc, kek_material, "TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", EDWU)
    arn, key = tdes_pek(svc)
    block = term.encrypt_pin_block(key, 0, "1234", PAN)
    base = dict(
        IncomingKeyIdentifier=kek,
        OutgoingKeyIdentifier=arn,
        IncomingTranslationAttributes=fmt(0),
        OutgoingTranslationAttributes=fmt(0),
        EncryptedPinBlock=block,
    )
    for usage, mode, needle in (
        ("P0", "E", "KeyModesOfUse"),  # an encrypt-only PEK cannot bring a PIN in
        ("D0", "B", "KeyUsage"),  # a data key is not a PEK
    ):
        wrapped = {
            "WrappedKeyMaterial": {"Tr31KeyBlock": tr31_block(kek_material, "D", usage, "T", mode, key)}
        }
        with pytest.raises(ValidationError, match=needle):
            translate(svc, **base, IncomingWrappedKey=wrapped)
    wrapped = {"WrappedKeyMaterial": {"Tr31KeyBlock": tr31_block(kek_material, "D", "P0", "T", "B", key)}}
    with pytest.raises(ValidationError, match="cannot be used together"):
        translate(
            svc,
            **base,
            IncomingWrappedKey=wrapped,
            IncomingDukptAttributes={"KeySerialNumber": "FFFF9876543210E00001"},
        )
    tampered = wrapped["WrappedKeyMaterial"]["Tr31KeyBlock"]
    tampered = tampered[:-1] + ("0" if tampered[-1] != "0" else "1")
    with pytest.raises(ValidationError):
        translate(svc, **base, IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": tampered}})
    # the stored key named must be a KEK
    with pytest.raises(ValidationError, match="KeyUsage"):
        translate(svc, **{**base, "IncomingKeyIdentifier": arn}, IncomingWrappedKey=wrapped)


# --- ECDH dynamic keys: PIN selection (in) and PIN reveal (out) ---------------------------------


def _ecdh_parties(svc: Service) -> tuple[str, str, Any, str]:
    """A stored CA, a K3 key pair deriving P0 keys, and a partner key with a certificate from the CA.

    Returns (K3 ARN, CA ARN, partner private key, partner certificate as base64 of PEM).
    """
    now = svc.clock.now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])

    def certificate(subject: str, public_key: Any, is_ca: bool) -> x509.Certificate:
        name = ca_name if is_ca else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

    ca_cert = certificate("test CA", ca_key.public_key(), True)
    ca_attributes = {
        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        "KeyAlgorithm": "ECC_NIST_P256",
        "KeyClass": "PUBLIC_KEY",
        "KeyModesOfUse": {"Verify": True},
    }
    spki = ca_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    ca = lifecycle.store_key(
        svc,
        ctx(svc),
        lifecycle.NewKey(
            ca_attributes, spki, exportable=True, enabled=True, origin="EXTERNAL", extra={"Certificate": pem}
        ),
    ).arn
    k3 = lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "KeyAttributes": {
                "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "KeyAlgorithm": "ECC_NIST_P256",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"DeriveKey": True},
            },
            "DeriveKeyUsage": P0,
            "Exportable": True,
        },
    )["Key"]["KeyArn"]
    partner = ec.generate_private_key(ec.SECP256R1())
    partner_cert = certificate("cardholder app", partner.public_key(), False)
    encoded = base64.b64encode(partner_cert.public_bytes(serialization.Encoding.PEM)).decode()
    return k3, ca, partner, encoded


def _partner_key(svc: Service, k3: str, partner: Any, shared_info: str) -> bytes:
    """The partner's side of the agreement: ECDH with the K3 public key, NIST SP 800-56C one-step KDF."""
    private = serialization.load_der_private_key(svc.keycache.material(svc.store.get_key(k3)), password=None)
    z = partner.exchange(ec.ECDH(), private.public_key())
    return ConcatKDFHash(hashes.SHA256(), 16, bytes.fromhex(shared_info)).derive(z)


def test_ecdh_pin_selection_and_reveal(svc) -> None:
    k3, ca, partner, certificate = _ecdh_parties(svc)
    shared_info = secrets.token_hex(16)
    ecdh = {
        "CertificateAuthorityPublicKeyIdentifier": ca,
        "PublicKeyCertificate": certificate,
        "KeyAlgorithm": "TDES_2KEY",
        "KeyDerivationFunction": "NIST_SP800",
        "KeyDerivationHashAlgorithm": "SHA_256",
        "SharedInformation": shared_info,
    }
    app_key = _partner_key(svc, k3, partner, shared_info)
    pek, pek_key = tdes_pek(svc)
    selected = translate_between(  # the cardholder chose a PIN in the app: in under the ECDH key
        svc,
        k3,
        pek,
        term.encrypt_pin_block(app_key, 0, "739146", PAN),
        (0, 0),
        IncomingWrappedKey={"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": ecdh}},
    )
    assert term.decrypt_pin_block(pek_key, 0, selected["PinBlock"], PAN) == "739146"
    revealed = translate_between(  # PIN reveal: out to the app under the ECDH key
        svc,
        pek,
        k3,
        selected["PinBlock"],
        (0, 3),
        OutgoingWrappedKey={"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": ecdh}},
    )
    assert term.decrypt_pin_block(app_key, 3, revealed["PinBlock"], PAN) == "739146"
    assert revealed["KeyArn"] == k3
