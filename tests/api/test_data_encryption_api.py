"""EncryptData / DecryptData / ReEncryptData end to end through boto3.

The other side of every exchange is written from the standards, not from paycrypt: a terminal
that encrypts card data under its DUKPT data key (tests/api/mac_data_terminal.py), `cryptography`
for the NIST SP 800-38A modes, `openssl enc` for CFB1, `openssl pkeyutl` and `cryptography` for
RSA, and pyemv for the EMV card session key. Published values: NIST SP 800-38A F.2.1 (AES-128
CBC) and ANSI X9.24-1 Annex A (BDK 0123456789ABCDEFFEDCBA9876543210, KSN FFFF9876543210E00001).
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import psec.tr31
import pyemv
import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB, CFB8, OFB
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.api import mac_data_terminal as terminal
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import put_known_key

# Every heavy call these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

ENC_DEC = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}
D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
B0 = "TR31_B0_BASE_DERIVATION_KEY"
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
SIZES = {"TDES_2KEY": 16, "TDES_3KEY": 24, "AES_128": 16, "AES_192": 24, "AES_256": 32}


def _encrypt(data, key: str, plaintext: bytes, attributes: dict, **extra) -> bytes:
    out = data.encrypt_data(
        KeyIdentifier=key, PlainText=plaintext.hex(), EncryptionAttributes=attributes, **extra
    )
    return bytes.fromhex(out["CipherText"])


def _decrypt(data, key: str, ciphertext: bytes, attributes: dict, **extra) -> bytes:
    out = data.decrypt_data(
        KeyIdentifier=key, CipherText=ciphertext.hex(), DecryptionAttributes=attributes, **extra
    )
    return bytes.fromhex(out["PlainText"])


def _reference(key_algorithm: str, key: bytes, mode: str, iv: bytes) -> Cipher | None:
    """The `cryptography` cipher for a mode it has; None for CFB1 (openssl) and CFB64 over AES."""
    tdes = key_algorithm.startswith("TDES")
    algorithm = TripleDES(key + key[:8] if len(key) == 16 else key) if tdes else algorithms.AES(key)
    full_block_cfb = "CFB64" if tdes else "CFB128"
    table = {
        "ECB": modes.ECB(),
        "CBC": modes.CBC(iv),
        "CFB": CFB(iv),
        full_block_cfb: CFB(iv),
        "CFB8": CFB8(iv),
        "OFB": OFB(iv),
    }
    mode_object = table.get(mode)
    return None if mode_object is None else Cipher(algorithm, mode_object)


def _openssl_cfb1(key_algorithm: str, key: bytes, iv: bytes, data: bytes, decrypt: bool) -> bytes:
    cipher = {"TDES_2KEY": "des-ede3-cfb1", "TDES_3KEY": "des-ede3-cfb1"}.get(
        key_algorithm, f"aes-{len(key) * 8}-cfb1"
    )
    if key_algorithm == "TDES_2KEY":
        key = key + key[:8]
    command = ["openssl", "enc", f"-{cipher}", "-K", key.hex(), "-iv", iv.hex(), "-nopad"]
    if decrypt:
        command.append("-d")
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("key_algorithm", list(SIZES))
def test_symmetric_every_mode_interoperates(server, data, key_algorithm: str) -> None:
    material = secrets.token_bytes(SIZES[key_algorithm])
    key = put_known_key(server, material, D0, key_algorithm, ENC_DEC)["KeyArn"]
    block = 8 if key_algorithm.startswith("TDES") else 16
    modes_for_key = ["ECB", "CBC", "CFB", "CFB1", "CFB8", "CFB64", "OFB"] + ([] if block == 8 else ["CFB128"])
    for mode in modes_for_key:
        iv = secrets.token_bytes(block)
        plaintext = secrets.token_bytes(block * 3)
        attrs = {"Symmetric": {"Mode": mode, "InitializationVector": iv.hex()}}
        ours = _encrypt(data, key, plaintext, attrs)
        reference = _reference(key_algorithm, material, mode, iv)
        if mode == "CFB1":
            assert ours == _openssl_cfb1(key_algorithm, material, iv, plaintext, decrypt=False)
            theirs = _openssl_cfb1(key_algorithm, material, iv, plaintext[::-1], decrypt=False)
        elif reference is None:  # CFB64 over AES: SP 800-38A CFB-64, no reference library has it
            assert _decrypt(data, key, ours, attrs) == plaintext
            continue
        else:
            encryptor = reference.encryptor()
            assert ours == encryptor.update(plaintext) + encryptor.finalize(), mode
            encryptor = reference.encryptor()
            theirs = encryptor.update(plaintext[::-1]) + encryptor.finalize()
        assert _decrypt(data, key, theirs, attrs) == plaintext[::-1], mode


def test_guide_examples_e1_d1(server, data) -> None:
    """Seed-C E1/D1 with a known AES key: 'Symmetric={Mode=CBC}' with no IV is a zero IV."""
    key = put_known_key(server, bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"), D0, "AES_128", ENC_DEC)
    plaintext = bytes.fromhex("31323334313233343132333431323334")
    out = data.encrypt_data(
        KeyIdentifier=key["KeyArn"],
        PlainText=plaintext.hex().upper(),
        EncryptionAttributes={"Symmetric": {"Mode": "CBC"}},
    )
    assert out["KeyCheckValue"] == key["KeyCheckValue"] and out["KeyArn"] == key["KeyArn"]
    expected = terminal.aes(
        bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"), plaintext, modes.CBC(bytes(16))
    )
    assert out["CipherText"] == expected.hex().upper()
    back = data.decrypt_data(
        KeyIdentifier=key["KeyArn"],
        CipherText=out["CipherText"],
        DecryptionAttributes={"Symmetric": {"Mode": "CBC"}},
    )
    assert back["PlainText"] == "31323334313233343132333431323334"
    nist = _encrypt(
        data,
        key["KeyArn"],
        bytes.fromhex("6bc1bee22e409f96e93d7e117393172a"),
        {"Symmetric": {"Mode": "CBC", "InitializationVector": bytes(range(16)).hex()}},
    )
    assert nist.hex().upper() == "7649ABAC8119B246CEE98E9B12E9197D"  # SP 800-38A F.2.1


@pytest.mark.parametrize("ksn", ["FFFF9876543210E00001", "FFFF9876543210E00009", "FFFF9876543210E00300"])
def test_tdes_dukpt_terminal_data(server, data, ksn: str) -> None:
    """The terminal encrypts card data under its data request key; paycrypt decrypts it and answers
    under the response key, which the terminal decrypts (X9.24-1 variants with the one-way step)."""
    bdk = put_known_key(server, TDES_BDK, B0, "TDES_2KEY", DERIVE)
    raw = bytes.fromhex(ksn)
    track = b";4088490010739415=24082260007000?3".ljust(40, b"\0")
    request_key = terminal.tdes_terminal_key(TDES_BDK, raw, "DATA", "REQUEST")
    iv = secrets.token_bytes(8)
    sent = terminal.tdes(request_key, track, modes.CBC(iv))
    attrs = {
        "Dukpt": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST", "InitializationVector": iv.hex()}
    }
    out = data.decrypt_data(KeyIdentifier=bdk["KeyArn"], CipherText=sent.hex(), DecryptionAttributes=attrs)
    assert bytes.fromhex(out["PlainText"]) == track and out["KeyCheckValue"] == "08D7B4"
    response = {"Dukpt": {"KeySerialNumber": ksn, "DukptKeyVariant": "RESPONSE", "Mode": "ECB"}}
    answer = _encrypt(data, bdk["KeyArn"], b"APPROVED00000000", response)
    response_key = terminal.tdes_terminal_key(TDES_BDK, raw, "DATA", "RESPONSE")
    assert terminal.tdes(response_key, answer, modes.ECB(), decrypt=True) == b"APPROVED00000000"
    # the guide's E2: 'Dukpt={KeySerialNumber=…}' alone is BIDIRECTIONAL (request variant), CBC, IV 0
    default = _encrypt(data, bdk["KeyArn"], track, {"Dukpt": {"KeySerialNumber": ksn}})
    assert default == terminal.tdes(request_key, track, modes.CBC(bytes(8)))


@pytest.mark.parametrize(
    ("bdk_algorithm", "derivation_type"),
    [("AES_128", None), ("AES_128", "TDES_2KEY"), ("AES_256", "AES_192"), ("AES_256", "TDES_3KEY")],
)
def test_aes_dukpt_terminal_data(server, data, bdk_algorithm: str, derivation_type: str | None) -> None:
    material = AES_BDK if bdk_algorithm == "AES_128" else secrets.token_bytes(32)
    bdk = put_known_key(server, material, B0, bdk_algorithm, DERIVE)["KeyArn"]
    ksn = f"12345678901234560000{secrets.randbelow(0xFFFF) + 1:04X}"  # 16-bit counters: ≤ 16 one-bits
    raw = bytes.fromhex(ksn)
    for direction in ("REQUEST", "RESPONSE", "BIDIRECTIONAL"):
        key = terminal.aes_terminal_key(material, raw, "DATA", direction, derivation_type)
        tdes = derivation_type is not None and derivation_type.startswith("TDES")
        block = 8 if tdes else 16
        iv = secrets.token_bytes(block)
        plaintext = secrets.token_bytes(block * 4)
        cipher = terminal.tdes if tdes else terminal.aes
        sent = cipher(key, plaintext, modes.CBC(iv))
        attrs = {"KeySerialNumber": ksn, "DukptKeyVariant": direction, "InitializationVector": iv.hex()}
        if derivation_type:
            attrs["DukptKeyDerivationType"] = derivation_type
        assert _decrypt(data, bdk, sent, {"Dukpt": attrs}) == plaintext
        assert _encrypt(data, bdk, plaintext, {"Dukpt": {**attrs, "Mode": "ECB"}}) == cipher(
            key, plaintext, modes.ECB()
        )


def test_emv_encryption_against_pyemv(server, data) -> None:
    imk = secrets.token_bytes(16)
    pan, psn, atc = "4761739001010010", "01", "0010"
    sdd = atc + "000000000000"
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, pan, psn)
    session_key = pyemv.kd.derive_common_sk(icc_mk, bytes.fromhex(sdd))
    plaintext = secrets.token_bytes(24)
    for usage in ("TR31_E1_EMV_MKEY_CONFIDENTIALITY", "TR31_E6_EMV_MKEY_OTHER"):
        key = put_known_key(server, imk, usage, "TDES_2KEY", DERIVE)["KeyArn"]
        for mode, iv in (("ECB", None), ("CBC", secrets.token_bytes(8)), (None, None)):
            attrs = {
                "MajorKeyDerivationMode": "EMV_OPTION_A",
                "PrimaryAccountNumber": pan,
                "PanSequenceNumber": psn,
                "SessionDerivationData": sdd,
            }
            if mode:
                attrs["Mode"] = mode
            if iv:
                attrs["InitializationVector"] = iv.hex()
            mode_object = modes.ECB() if mode == "ECB" else modes.CBC(iv or bytes(8))
            expected = terminal.tdes(session_key, plaintext, mode_object)
            assert _encrypt(data, key, plaintext, {"Emv": attrs}) == expected
            assert _decrypt(data, key, expected, {"Emv": attrs}) == plaintext


@pytest.fixture(scope="module")
def rsa_pair(tmp_path_factory) -> tuple[rsa.RSAPrivateKey, Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    folder = tmp_path_factory.mktemp("rsa")
    private_pem, public_pem = folder / "private.pem", folder / "public.pem"
    private_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, private_pem, public_pem


OPENSSL_PADDING = {
    "PKCS1": ["-pkeyopt", "rsa_padding_mode:pkcs1"],
    "OAEP_SHA1": [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
    ],
    "OAEP_SHA256": [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
    ],
    "OAEP_SHA512": [
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha512",
        "-pkeyopt",
        "rsa_mgf1_md:sha512",
    ],
    None: ["-pkeyopt", "rsa_padding_mode:none"],
}


def _pkeyutl(args: list[str], data: bytes) -> bytes:
    return subprocess.run(["openssl", "pkeyutl", *args], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("padding", ["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512", None])
def test_rsa_interop_with_openssl(server, data, rsa_pair, padding: str | None) -> None:
    private_key, private_pem, public_pem = rsa_pair
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = put_known_key(server, der, "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)[
        "KeyArn"
    ]
    attrs = {"Asymmetric": {"PaddingType": padding} if padding else {}}
    plaintext = (b"\x00" + secrets.token_bytes(255)) if padding is None else secrets.token_bytes(32)
    from_openssl = _pkeyutl(
        ["-encrypt", "-pubin", "-inkey", str(public_pem), *OPENSSL_PADDING[padding]], plaintext
    )
    assert _decrypt(data, key, from_openssl, attrs) == plaintext
    ours = _encrypt(data, key, plaintext, attrs)
    assert _pkeyutl(["-decrypt", "-inkey", str(private_pem), *OPENSSL_PADDING[padding]], ours) == plaintext


def test_re_encrypt_terminal_to_zone_and_rsa(server, data, rsa_pair) -> None:
    """A terminal's DUKPT-encrypted track moves to a zone AES key, to another BDK's terminal and to
    an RSA key, never in clear outside the service; the zone side decrypts with `cryptography`."""
    bdk = put_known_key(server, TDES_BDK, B0, "TDES_2KEY", DERIVE)["KeyArn"]
    aes_bdk = put_known_key(server, AES_BDK, B0, "AES_128", DERIVE)["KeyArn"]
    zone_material = secrets.token_bytes(32)
    zone = put_known_key(server, zone_material, D0, "AES_256", ENC_DEC)
    der = rsa_pair[0].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pair = put_known_key(server, der, "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)[
        "KeyArn"
    ]
    ksn = "FFFF9876543210E00004"
    track = secrets.token_bytes(32)
    sent = terminal.tdes(
        terminal.tdes_terminal_key(TDES_BDK, bytes.fromhex(ksn), "DATA", "REQUEST"),
        track,
        modes.CBC(bytes(8)),
    )
    incoming = {"Dukpt": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST"}}
    iv = secrets.token_bytes(16)
    outgoing = {"Symmetric": {"Mode": "CBC", "InitializationVector": iv.hex()}}
    out = data.re_encrypt_data(
        IncomingKeyIdentifier=bdk,
        OutgoingKeyIdentifier=zone["KeyArn"],
        CipherText=sent.hex(),
        IncomingEncryptionAttributes=incoming,
        OutgoingEncryptionAttributes=outgoing,
    )
    assert out["KeyArn"] == zone["KeyArn"] and out["KeyCheckValue"] == zone["KeyCheckValue"]
    assert terminal.aes(zone_material, bytes.fromhex(out["CipherText"]), modes.CBC(iv), decrypt=True) == track
    aes_ksn = "123456789012345600000005"
    to_terminal = data.re_encrypt_data(
        IncomingKeyIdentifier=bdk,
        OutgoingKeyIdentifier=aes_bdk,
        CipherText=sent.hex(),
        IncomingEncryptionAttributes=incoming,
        OutgoingEncryptionAttributes={"Dukpt": {"KeySerialNumber": aes_ksn, "DukptKeyVariant": "RESPONSE"}},
    )["CipherText"]
    aes_key = terminal.aes_terminal_key(AES_BDK, bytes.fromhex(aes_ksn), "DATA", "RESPONSE")
    assert terminal.aes(aes_key, bytes.fromhex(to_terminal), modes.CBC(bytes(16)), decrypt=True) == track
    to_rsa = data.re_encrypt_data(
        IncomingKeyIdentifier=zone["KeyArn"],
        OutgoingKeyIdentifier=pair,
        CipherText=out["CipherText"],
        IncomingEncryptionAttributes=outgoing,
        OutgoingEncryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    )["CipherText"]
    assert (
        _pkeyutl(
            ["-decrypt", "-inkey", str(rsa_pair[1]), *OPENSSL_PADDING["OAEP_SHA256"]], bytes.fromhex(to_rsa)
        )
        == track
    )
    from_rsa = data.re_encrypt_data(
        IncomingKeyIdentifier=pair,
        OutgoingKeyIdentifier=zone["KeyArn"],
        CipherText=to_rsa,
        IncomingEncryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
        OutgoingEncryptionAttributes=outgoing,
    )["CipherText"]
    assert from_rsa == out["CipherText"]


RSA_PADDINGS = {
    "PKCS1": lambda: asym_padding.PKCS1v15(),
    "OAEP_SHA1": lambda: asym_padding.OAEP(asym_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
    "OAEP_SHA256": lambda: asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
    "OAEP_SHA512": lambda: asym_padding.OAEP(asym_padding.MGF1(hashes.SHA512()), hashes.SHA512(), None),
}


@pytest.mark.parametrize(
    ("bdk_algorithm", "ksn", "rsa_padding"),
    [
        ("TDES_2KEY", "FFFF9876543210E00007", "OAEP_SHA256"),
        ("TDES_2KEY", "FFFF9876543210E00300", "PKCS1"),
        ("AES_128", "123456789012345600000009", "OAEP_SHA1"),
        ("AES_128", "1234567890123456000000A0", "OAEP_SHA512"),
    ],
)
def test_re_encrypt_between_rsa_and_dukpt(server, data, rsa_pair, bdk_algorithm, ksn, rsa_padding) -> None:
    """ReEncryptData DUKPT -> RSA and RSA -> DUKPT (Asymmetric with PaddingType on the RSA side).
    The terminal (tests/api/mac_data_terminal.py: X9.24-1 data variants, X9.24-3 data usages)
    encrypts and decrypts under its own derived key; the RSA partner encrypts with the public key
    and decrypts with the private key in plain `cryptography`."""
    private_key = rsa_pair[0]
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pair = put_known_key(server, der, "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)
    tdes = bdk_algorithm == "TDES_2KEY"
    bdk_material = TDES_BDK if tdes else AES_BDK
    bdk = put_known_key(server, bdk_material, B0, bdk_algorithm, DERIVE)["KeyArn"]
    raw = bytes.fromhex(ksn)

    def terminal_key(direction: str) -> bytes:
        if tdes:
            return terminal.tdes_terminal_key(bdk_material, raw, "DATA", direction)
        return terminal.aes_terminal_key(bdk_material, raw, "DATA", direction)

    cipher = terminal.tdes if tdes else terminal.aes
    block = 8 if tdes else 16
    rsa_attrs = {"Asymmetric": {"PaddingType": rsa_padding}}
    # terminal -> RSA partner: the card data leaves the DUKPT zone under the partner's RSA key
    track = secrets.token_bytes(block * 3)
    iv = secrets.token_bytes(block)
    sent = cipher(terminal_key("REQUEST"), track, modes.CBC(iv))
    incoming = {
        "Dukpt": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST", "InitializationVector": iv.hex()}
    }
    to_rsa = data.re_encrypt_data(
        IncomingKeyIdentifier=bdk,
        OutgoingKeyIdentifier=pair["KeyArn"],
        CipherText=sent.hex(),
        IncomingEncryptionAttributes=incoming,
        OutgoingEncryptionAttributes=rsa_attrs,
    )
    assert to_rsa["KeyArn"] == pair["KeyArn"] and to_rsa["KeyCheckValue"] == pair["KeyCheckValue"]
    ciphertext = bytes.fromhex(to_rsa["CipherText"])
    assert len(ciphertext) == 256
    assert private_key.decrypt(ciphertext, RSA_PADDINGS[rsa_padding]()) == track
    # RSA partner -> terminal: the partner's RSA-encrypted data goes out under the response key
    answer = secrets.token_bytes(block * 2)
    from_partner = private_key.public_key().encrypt(answer, RSA_PADDINGS[rsa_padding]())
    for mode, out_iv in (("ECB", None), ("CBC", secrets.token_bytes(block))):
        outgoing = {"KeySerialNumber": ksn, "DukptKeyVariant": "RESPONSE", "Mode": mode}
        if out_iv:
            outgoing["InitializationVector"] = out_iv.hex()
        to_terminal = data.re_encrypt_data(
            IncomingKeyIdentifier=pair["KeyArn"],
            OutgoingKeyIdentifier=bdk,
            CipherText=from_partner.hex(),
            IncomingEncryptionAttributes=rsa_attrs,
            OutgoingEncryptionAttributes={"Dukpt": outgoing},
        )
        assert to_terminal["KeyArn"] == bdk
        mode_object = modes.ECB() if out_iv is None else modes.CBC(out_iv)
        received = bytes.fromhex(to_terminal["CipherText"])
        assert cipher(terminal_key("RESPONSE"), received, mode_object, decrypt=True) == answer, mode


def _expect(call, fragment: str, **kwargs) -> None:
    response = expect_error(call, "ValidationException", 400, **kwargs)
    assert fragment in response["Error"]["Message"], response["Error"]["Message"]


def test_bad_input(server, data, rsa_pair) -> None:
    """ValidationException (400) naming the member, 404 for a missing key; the store is unchanged
    by every one of them."""
    aes = put_known_key(server, secrets.token_bytes(16), D0, "AES_128", ENC_DEC)["KeyArn"]
    tdes = put_known_key(server, secrets.token_bytes(16), D0, "TDES_2KEY", ENC_DEC)["KeyArn"]
    bdk = put_known_key(server, TDES_BDK, B0, "TDES_2KEY", DERIVE)["KeyArn"]
    aes_bdk = put_known_key(server, AES_BDK, B0, "AES_128", DERIVE)["KeyArn"]
    mac_key = put_known_key(
        server,
        secrets.token_bytes(16),
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        {"Generate": True, "Verify": True},
    )["KeyArn"]
    der = rsa_pair[0].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pair = put_known_key(server, der, "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)[
        "KeyArn"
    ]
    before = db_snapshot(server.data_dir)
    enc, dec = data.encrypt_data, data.decrypt_data
    block = "00" * 16
    cbc, ecb = {"Symmetric": {"Mode": "CBC"}}, {"Symmetric": {"Mode": "ECB"}}
    for fragment, key, plain_text, attributes in (
        ("PlainText", aes, "ABC", cbc),
        ("PlainText", aes, "00" * 15, cbc),
        ("PlainText", tdes, "00" * 12, ecb),
        (
            "InitializationVector",
            tdes,
            block,
            {"Symmetric": {"Mode": "CBC", "InitializationVector": "00" * 16}},
        ),
        ("PaddingType", aes, block, {"Symmetric": {"Mode": "CBC", "PaddingType": "PKCS1"}}),
        ("Mode", tdes, block, {"Symmetric": {"Mode": "CFB128"}}),
        ("Mode", tdes, block, {"Symmetric": {}}),
    ):
        _expect(enc, fragment, KeyIdentifier=key, PlainText=plain_text, EncryptionAttributes=attributes)
    _expect(dec, "CipherText", KeyIdentifier=aes, CipherText="00" * 17, DecryptionAttributes=ecb)
    bad_ksns = [
        (bdk, ksn)
        for ksn in (
            "FFFF9876543210E00000",
            "FFFF9876543210E007FF",
            "9876543210E00000",  # 16 hex, read F-padded: counter 0
            "123456789012345600000001",
            "FFFF9876543210E000011",
        )
    ] + [
        (aes_bdk, ksn)
        for ksn in (
            "FFFF9876543210E00001",
            "123456789012345600000000",
            "1234567890123456FFFFFFFF",
            "1234567890123456",  # 16 hex: AES DUKPT has no short KSN
        )
    ]
    for key, ksn in bad_ksns:
        _expect(
            enc,
            "KeySerialNumber",
            KeyIdentifier=key,
            PlainText=block,
            EncryptionAttributes={"Dukpt": {"KeySerialNumber": ksn}},
        )
    _expect(
        enc,
        "DukptKeyDerivationType",
        KeyIdentifier=aes_bdk,
        PlainText=block,
        EncryptionAttributes={
            "Dukpt": {"KeySerialNumber": "123456789012345600000001", "DukptKeyDerivationType": "AES_256"}
        },
    )
    _expect(enc, "TR31_D0", KeyIdentifier=mac_key, PlainText=block, EncryptionAttributes=cbc)
    _expect(
        enc,
        "TR31_B0",
        KeyIdentifier=aes,
        PlainText=block,
        EncryptionAttributes={"Dukpt": {"KeySerialNumber": "FFFF9876543210E00001"}},
    )
    _expect(
        data.re_encrypt_data,
        "IncomingEncryptionAttributes.Asymmetric.PaddingType",
        IncomingKeyIdentifier=pair,
        OutgoingKeyIdentifier=aes,
        CipherText="00" * 256,
        IncomingEncryptionAttributes={"Asymmetric": {}},
        OutgoingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
    )
    # RSA on both sides of ReEncryptData is accepted: tests/api/test_refusals.py (row E8).
    _expect(
        dec,
        "CipherText",
        KeyIdentifier=pair,
        CipherText="00" * 256,
        DecryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    )
    _expect(
        enc,
        "PlainText",
        KeyIdentifier=pair,
        PlainText="00" * 215,
        EncryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA1"}},
    )
    expect_error(
        enc,
        "ResourceNotFoundException",
        404,
        KeyIdentifier="alias/nothing-here",
        PlainText=block,
        EncryptionAttributes={"Symmetric": {"Mode": "CBC"}},
    )
    _expect(  # a WrappedKey names its KEK by KeyIdentifier: a D0 key is not one
        enc,
        "TR31_K0_KEY_ENCRYPTION_KEY",
        KeyIdentifier=aes,
        PlainText=block,
        EncryptionAttributes={"Symmetric": {"Mode": "CBC"}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": "D0112D0TN00E0000" + "0" * 96}},
    )
    assert db_snapshot(server.data_dir) == before


# --- dynamic keys: TR-31 blocks built by psec (an independent TR-31 implementation) -------------

KEK_MODES = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}


def _kcv_tdes(key: bytes) -> str:
    return terminal.tdes(key, bytes(8), modes.ECB())[:3].hex().upper()


def test_dynamic_key_seed_e_c1(server, data) -> None:
    """Seed-E C1 normalized: DecryptData with a D0 key in a TR-31 block under the KEK that
    KeyIdentifier names; KeyArn is the KEK's and KeyCheckValue the working key's."""
    kek_material = secrets.token_bytes(32)
    kek = put_known_key(server, kek_material, "TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", KEK_MODES)
    working = secrets.token_bytes(16)
    iv = bytes.fromhex("1234123412341234")
    plaintext = bytes.fromhex("2E138A746A0032023BEF5B85BA5060BA")
    ciphertext = terminal.tdes(working, plaintext, modes.CBC(iv))
    for mode_of_use in ("B", "D", "N"):
        block = psec.tr31.wrap(kek_material, f"D0000D0T{mode_of_use}00E0000", working)
        out = data.decrypt_data(
            KeyIdentifier=kek["KeyArn"],
            CipherText=ciphertext.hex(),
            DecryptionAttributes={"Symmetric": {"Mode": "CBC", "InitializationVector": iv.hex()}},
            WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
        )
        assert out == {
            "KeyArn": kek["KeyArn"],
            "KeyCheckValue": _kcv_tdes(working),
            "PlainText": plaintext.hex().upper(),
            "ResponseMetadata": out["ResponseMetadata"],
        }
    encrypt_only = psec.tr31.wrap(kek_material, "D0000D0TE00E0000", working)
    response = expect_error(
        data.decrypt_data,
        "ValidationException",
        400,
        KeyIdentifier=kek["KeyArn"],
        CipherText=ciphertext.hex(),
        DecryptionAttributes={"Symmetric": {"Mode": "CBC"}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": encrypt_only}},
    )
    assert "KeyModesOfUse" in response["Error"]["Message"]
    sent = data.encrypt_data(
        KeyIdentifier=kek["KeyArn"],
        PlainText=plaintext.hex(),
        EncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": encrypt_only}},
    )
    assert bytes.fromhex(sent["CipherText"]) == terminal.tdes(working, plaintext, modes.ECB())


def test_dynamic_keys_in_re_encrypt_and_rules(server, data) -> None:
    """An AES data key under an AES KEK (version D) coming in, a TDES key under a TDES KEK
    (version B) going out; a P0 block, a tampered block and a DUKPT member are refused."""
    aes_kek = secrets.token_bytes(32)
    tdes_kek = secrets.token_bytes(24)
    aes_kek_arn = put_known_key(server, aes_kek, "TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", KEK_MODES)["KeyArn"]
    tdes_kek_arn = put_known_key(server, tdes_kek, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_3KEY", KEK_MODES)[
        "KeyArn"
    ]
    incoming_key, outgoing_key = secrets.token_bytes(16), secrets.token_bytes(16)
    incoming_block = psec.tr31.wrap(aes_kek, "D0000D0AD00E0000", incoming_key)
    outgoing_block = psec.tr31.wrap(tdes_kek, "B0000D0TE00E0000", outgoing_key)
    plaintext = secrets.token_bytes(32)
    out = data.re_encrypt_data(
        IncomingKeyIdentifier=aes_kek_arn,
        OutgoingKeyIdentifier=tdes_kek_arn,
        CipherText=terminal.aes(incoming_key, plaintext, modes.ECB()).hex(),
        IncomingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        OutgoingEncryptionAttributes={"Symmetric": {"Mode": "CBC"}},
        IncomingWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": incoming_block}},
        OutgoingWrappedKey={
            "WrappedKeyMaterial": {"Tr31KeyBlock": outgoing_block},
            "KeyCheckValueAlgorithm": "CMAC",
        },
    )
    assert out["KeyArn"] == tdes_kek_arn and len(out["KeyCheckValue"]) == 6
    assert (
        terminal.tdes(outgoing_key, bytes.fromhex(out["CipherText"]), modes.CBC(bytes(8)), decrypt=True)
        == plaintext
    )
    before = db_snapshot(server.data_dir)
    pin_key = psec.tr31.wrap(aes_kek, "D0000P0AB00E0000", incoming_key)
    tampered = incoming_block[:-1] + ("0" if incoming_block[-1] != "0" else "1")
    for block, fragment in ((pin_key, "TR31_D0"), (tampered, "Tr31KeyBlock")):
        response = expect_error(
            data.decrypt_data,
            "ValidationException",
            400,
            KeyIdentifier=aes_kek_arn,
            CipherText="00" * 16,
            DecryptionAttributes={"Symmetric": {"Mode": "ECB"}},
            WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": block}},
        )
        assert fragment in response["Error"]["Message"], response["Error"]["Message"]
    response = expect_error(
        data.encrypt_data,
        "ValidationException",
        400,
        KeyIdentifier=aes_kek_arn,
        PlainText="00" * 16,
        EncryptionAttributes={"Dukpt": {"KeySerialNumber": "FFFF9876543210E00001"}},
        WrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": incoming_block}},
    )
    assert "WrappedKey" in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


def test_rsa_through_certificates(server, control, data, tmp_path) -> None:
    """All through the API: a D1 key pair made by CreateKey receives data OpenSSL encrypts to its
    certificate (GetPublicKeyCertificate); a partner's D1 public key imported from its certificate
    (TrustedCertificatePublicKey under an imported root) encrypts data only the partner decrypts."""
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    pair = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "RSA_2048",
            "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": ENC_DEC,
        },
    )["Key"]["KeyArn"]
    certificate = control.get_public_key_certificate(KeyIdentifier=pair)["KeyCertificate"]
    cert_pem = tmp_path / "pair.pem"
    cert_pem.write_bytes(base64.b64decode(certificate))
    secret = secrets.token_bytes(48)
    sent = _pkeyutl(["-encrypt", "-certin", "-inkey", str(cert_pem), *OPENSSL_PADDING["OAEP_SHA512"]], secret)
    assert _decrypt(data, pair, sent, {"Asymmetric": {"PaddingType": "OAEP_SHA512"}}) == secret

    def issue(subject: str, public_key, signer, issuer: str, ca: bool) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
        )
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        return builder.sign(signer, hashes.SHA256())

    def api(cert: x509.Certificate) -> str:
        return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    partner_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = issue("Partner Root", root_key.public_key(), root_key, "Partner Root", ca=True)
    leaf = issue("Partner", partner_key.public_key(), root_key, "Partner Root", ca=False)
    root_arn = control.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": api(root),
            }
        }
    )["Key"]["KeyArn"]
    partner = control.import_key(
        KeyMaterial={
            "TrustedCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Encrypt": True, "Wrap": True},
                },
                "PublicKeyCertificate": api(leaf),
                "CertificateAuthorityPublicKeyIdentifier": root_arn,
            }
        }
    )["Key"]["KeyArn"]
    partner_pem = tmp_path / "partner.pem"
    partner_pem.write_bytes(
        partner_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for padding in ("PKCS1", "OAEP_SHA256"):
        ours = _encrypt(data, partner, secret, {"Asymmetric": {"PaddingType": padding}})
        assert _pkeyutl(["-decrypt", "-inkey", str(partner_pem), *OPENSSL_PADDING[padding]], ours) == secret
    response = expect_error(
        data.decrypt_data,
        "ValidationException",
        400,
        KeyIdentifier=partner,
        CipherText=ours.hex(),
        DecryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    )
    assert "KeyModesOfUse" in response["Error"]["Message"]


def test_guide_scenarios_e3_d3_e4_d4_corrected(server, data, rsa_pair) -> None:
    """Seed-C E3/D3 (EMV) and E4/D4 (RSA) with their defects corrected: a 16-digit PAN (the
    guide's has 10, the model needs 12–19), the required SessionDerivationData added (ATC 0027
    padded with zeros), `OAEP_SHA256` for the guide's `0AEP_SHA256`; known keys so the values
    can be checked (pyemv and OpenSSL)."""
    imk = secrets.token_bytes(16)
    key = put_known_key(server, imk, "TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", DERIVE)["KeyArn"]
    pan, psn, iv, sdd = "1000000000000009", "27", "1500000000000999", "0027000000000000"
    attrs = {
        "Emv": {
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PanSequenceNumber": psn,
            "PrimaryAccountNumber": pan,
            "SessionDerivationData": sdd,
            "InitializationVector": iv,
            "Mode": "CBC",
        }
    }
    plaintext = bytes.fromhex("33612AB9D6929C3A828EB6030082B2BD")
    session_key = pyemv.kd.derive_common_sk(pyemv.kd.derive_icc_mk_a(imk, pan, psn), bytes.fromhex(sdd))
    expected = terminal.tdes(session_key, plaintext, modes.CBC(bytes.fromhex(iv)))
    assert _encrypt(data, key, plaintext, attrs) == expected
    assert _decrypt(data, key, expected, attrs) == plaintext
    private_key, private_pem, _ = rsa_pair
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rsa_key = put_known_key(server, der, "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)
    message = bytes.fromhex("31323334313233343132333431323334")
    out = data.encrypt_data(
        KeyIdentifier=rsa_key["KeyArn"],
        PlainText=message.hex(),
        EncryptionAttributes={"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    )
    assert len(out["CipherText"]) == 512 and len(out["KeyCheckValue"]) == 8
    ciphertext = bytes.fromhex(out["CipherText"])
    assert (
        _pkeyutl(["-decrypt", "-inkey", str(private_pem), *OPENSSL_PADDING["OAEP_SHA256"]], ciphertext)
        == message
    )
    assert (
        _decrypt(data, rsa_key["KeyArn"], ciphertext, {"Asymmetric": {"PaddingType": "OAEP_SHA256"}})
        == message
    )
