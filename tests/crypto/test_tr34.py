"""TR-34-2012 key blocks: interoperability with an independent test-side KDH and KRD.

The test-side KDH (`_kdh_build`) and KRD (`_krd_read`) below are built only from `cryptography`
(RSA, SHA-256, AES, TripleDES from `hazmat.decrepit`) and `asn1crypto` (all DER). They share no
code with paycrypt. They emit and read the structure of seed-B §7.3 with the two placements
that the real AWS output shows (encrypted content inside the content-encryption
AlgorithmIdentifier; bare RSAES-OAEP parameter SEQUENCEs), as in AWS's sample code
`aws-samples/samples-for-payment-cryptography-service` key-import-export/tr34, and, on request,
the RFC 5652 placements.

Structure vector: the real service output in awscli `examples/payment-cryptography/export-key.rst`
(decoded in seed-B §7.3), whose signature tail is replaced by "EXAMPLE"; its signature cannot be
checked, so it is used for structure only: header D0112K0TB00E0000, signingTime 230613190240Z,
messageDigest 9AD3A76A…125E over the 780-byte envelope, and the recipient naming the KRD
certificate printed in the same example.
"""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import awscli
import pytest
from asn1crypto import algos, cms, core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paycrypt.crypto import tr34
from paycrypt.crypto.tr34 import Tr34Error

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES


def _tdes_cbc(key: bytes, iv: bytes) -> Cipher:
    """The test side's own TDES-CBC (a 16-byte key expanded to K1K2K1 here, not by paycrypt)."""
    return Cipher(TripleDES(key + key[:8] if len(key) == 16 else key), modes.CBC(iv))


NOW = datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC)

# --- test-side ASN.1 specs (asn1crypto) -------------------------------------------------------


class _AwsContentEncryptionAlgorithm(core.Sequence):
    _fields: ClassVar[list] = [
        ("algorithm", core.ObjectIdentifier),
        ("iv", core.OctetString),
        ("encrypted_content", core.OctetString, {"implicit": 0, "optional": True}),
    ]


class _EncryptedContentInfo(core.Sequence):
    _fields: ClassVar[list] = [
        ("content_type", core.ObjectIdentifier),
        ("content_encryption_algorithm", _AwsContentEncryptionAlgorithm),
        ("encrypted_content", core.OctetString, {"implicit": 0, "optional": True}),
    ]


class _BareOaepParams(core.Sequence):
    _fields: ClassVar[list] = [
        ("hash_algorithm", algos.DigestAlgorithm),
        ("mask_gen_algorithm", algos.MaskGenAlgorithm),
        ("p_source_algorithm", algos.PSourceAlgorithm),
    ]


class _KeyEncryptionAlgorithm(core.Sequence):
    _fields: ClassVar[list] = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any)]


class _KeyTransRecipientInfo(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("rid", cms.IssuerAndSerialNumber),
        ("key_encryption_algorithm", _KeyEncryptionAlgorithm),
        ("encrypted_key", core.OctetString),
    ]


class _RecipientInfos(core.SetOf):
    _child_spec = _KeyTransRecipientInfo


class _EnvelopedData(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("recipient_infos", _RecipientInfos),
        ("encrypted_content_info", _EncryptedContentInfo),
    ]


class _AnySet(core.SetOf):
    _child_spec = core.Any


class _Attribute(core.Sequence):
    _fields: ClassVar[list] = [("type", core.ObjectIdentifier), ("values", _AnySet)]


class _Attributes(core.SetOf):
    _child_spec = _Attribute


class _SignerInfo(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("sid", cms.IssuerAndSerialNumber),
        ("digest_algorithm", algos.DigestAlgorithm),
        ("signed_attrs", _Attributes, {"implicit": 0}),
        ("signature_algorithm", algos.SignedDigestAlgorithm),
        ("signature", core.OctetString),
    ]


class _SignerInfos(core.SetOf):
    _child_spec = _SignerInfo


class _EncapsulatedContent(core.Sequence):
    _fields: ClassVar[list] = [
        ("content_type", core.ObjectIdentifier),
        ("content", core.OctetString, {"explicit": 0}),
    ]


class _SignedData(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("digest_algorithms", cms.DigestAlgorithms),
        ("encap_content_info", _EncapsulatedContent),
        ("signer_infos", _SignerInfos),
    ]


class _ContentInfo(core.Sequence):
    _fields: ClassVar[list] = [
        ("content_type", core.ObjectIdentifier),
        ("content", _SignedData, {"explicit": 0}),
    ]


class _HeaderSet(core.SetOf):
    _child_spec = core.OctetString


class _HeaderAttribute(core.Sequence):
    _fields: ClassVar[list] = [("type", core.ObjectIdentifier), ("values", _HeaderSet)]


class _KeyBlock(core.Sequence):
    _fields: ClassVar[list] = [
        ("version", core.Integer),
        ("kdh", cms.IssuerAndSerialNumber),
        ("key", core.OctetString),
        ("header", _HeaderAttribute),
    ]


DATA, ENVELOPED, SHA256 = "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.3", "2.16.840.1.101.3.4.2.1"
NONCE, SIGNING_TIME = "1.2.840.113549.1.9.25.3", "1.2.840.113549.1.9.5"
CONTENT_TYPE, MESSAGE_DIGEST = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"
DES_EDE3_CBC, AES128_CBC = "1.2.840.113549.3.7", "2.16.840.1.101.3.4.1.2"


def _ias(certificate: x509.Certificate) -> cms.IssuerAndSerialNumber:
    parsed = ax509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    return cms.IssuerAndSerialNumber({"issuer": parsed.issuer, "serial_number": parsed.serial_number})


def _attr(oid: str, value: core.Asn1Value) -> _Attribute:
    return _Attribute({"type": oid, "values": [core.Any.load(value.dump())]})


def _oaep_sha256() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _kdh_build(
    key: bytes,
    header: str,
    kdh: tuple[x509.Certificate, rsa.RSAPrivateKey],
    krd_certificate: x509.Certificate,
    *,
    nonce: bytes | None = None,
    signing_time: datetime | None = None,
    cms_layout: bool = False,
    inner_header: str | None = None,
    inner_kdh: x509.Certificate | None = None,
    aes: bool = False,
) -> bytes:
    """An independent TR-34 KDH: the seed-B §7.3 structure, written with asn1crypto."""
    kdh_certificate, kdh_key = kdh
    plain = _KeyBlock(
        {
            "version": 1,
            "kdh": _ias(inner_kdh or kdh_certificate),
            "key": key,
            "header": {"type": DATA, "values": [(inner_header or header).encode()]},
        }
    ).dump()
    block_size, content_key_size = (16, 16) if aes else (8, 24)
    content_key, iv = bytes(range(1, content_key_size + 1)), bytes(range(7, 7 + block_size))
    pad = block_size - len(plain) % block_size
    padded = plain + bytes([pad]) * pad
    if aes:
        encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
    else:
        ciphertext = _tdes_cbc(content_key, iv).encryptor().update(padded)
    oaep_params = _BareOaepParams(
        {
            "hash_algorithm": {"algorithm": "sha256", "parameters": core.Null()},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            "p_source_algorithm": {"algorithm": "p_specified", "parameters": b""},
        }
    )
    params = algos.RSAESOAEPParams(oaep_params.native) if cms_layout else oaep_params
    algorithm = {"algorithm": AES128_CBC if aes else DES_EDE3_CBC, "iv": iv}
    encrypted_content = {"content_type": DATA, "content_encryption_algorithm": algorithm}
    if cms_layout:
        encrypted_content["encrypted_content"] = ciphertext
    else:
        algorithm["encrypted_content"] = ciphertext
    enveloped = _EnvelopedData(
        {
            "version": 0,
            "recipient_infos": [
                {
                    "version": 0,
                    "rid": _ias(krd_certificate),
                    "key_encryption_algorithm": {
                        "algorithm": "1.2.840.113549.1.1.7",
                        "parameters": core.Any.load(params.dump()),
                    },
                    "encrypted_key": krd_certificate.public_key().encrypt(content_key, _oaep_sha256()),
                }
            ],
            "encrypted_content_info": encrypted_content,
        }
    )
    e = enveloped.dump() if cms_layout else enveloped.contents
    freshness = (
        _attr(NONCE, core.OctetString(nonce))
        if nonce is not None
        else _attr(SIGNING_TIME, core.UTCTime(signing_time or NOW))
    )
    attributes = _Attributes(
        [
            _attr(CONTENT_TYPE, core.ObjectIdentifier(ENVELOPED)),
            freshness,
            _attr(DATA, core.OctetString(header.encode())),
            _attr(MESSAGE_DIGEST, core.OctetString(hashlib.sha256(e).digest())),
        ]
    )
    signed = attributes.dump()
    assert signed[0] == 0x31
    signature = kdh_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    signer = _SignerInfo(
        {
            "version": 1,
            "sid": _ias(kdh_certificate),
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()},
            "signature": signature,
        }
    )
    return _ContentInfo(
        {
            "content_type": "1.2.840.113549.1.7.2",
            "content": {
                "version": 1,
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {"content_type": ENVELOPED, "content": e},
                "signer_infos": [signer],
            },
        }
    ).dump()


def _krd_read(
    block: bytes, kdh_certificate: x509.Certificate, krd: tuple[x509.Certificate, rsa.RSAPrivateKey]
) -> dict:
    """An independent TR-34 KRD: parse with asn1crypto, verify with cryptography, decrypt."""
    krd_certificate, krd_key = krd
    info = _ContentInfo.load(block)
    assert info["content_type"].dotted == "1.2.840.113549.1.7.2"
    signed_data = info["content"]
    assert signed_data["version"].native == 1
    assert [a["algorithm"].dotted for a in signed_data["digest_algorithms"]] == [SHA256]
    assert signed_data["encap_content_info"]["content_type"].dotted == ENVELOPED
    e = signed_data["encap_content_info"]["content"].native
    (signer,) = signed_data["signer_infos"]
    assert signer["sid"].dump() == _ias(kdh_certificate).dump()
    assert signer["signature_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.1"
    signed_attrs = signer["signed_attrs"]
    kdh_certificate.public_key().verify(
        signer["signature"].native, b"\x31" + signed_attrs.dump()[1:], padding.PKCS1v15(), hashes.SHA256()
    )
    attributes = {a["type"].dotted: a["values"][0] for a in signed_attrs}
    assert core.ObjectIdentifier.load(attributes[CONTENT_TYPE].dump()).dotted == ENVELOPED
    assert core.OctetString.load(attributes[MESSAGE_DIGEST].dump()).native == hashlib.sha256(e).digest()

    enveloped = _EnvelopedData(contents=e)
    assert enveloped["version"].native == 0
    (recipient,) = enveloped["recipient_infos"]
    assert recipient["rid"].dump() == _ias(krd_certificate).dump()
    assert recipient["key_encryption_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.7"
    params = _BareOaepParams.load(recipient["key_encryption_algorithm"]["parameters"].dump()).native
    assert params["hash_algorithm"]["algorithm"] == "sha256"
    assert params["mask_gen_algorithm"]["parameters"]["algorithm"] == "sha256"
    content_key = krd_key.decrypt(recipient["encrypted_key"].native, _oaep_sha256())
    algorithm = enveloped["encrypted_content_info"]["content_encryption_algorithm"]
    iv, ciphertext = algorithm["iv"].native, algorithm["encrypted_content"].native
    if algorithm["algorithm"].dotted == DES_EDE3_CBC:
        plain = _tdes_cbc(content_key, iv).decryptor().update(ciphertext)
    else:
        decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(ciphertext) + decryptor.finalize()
    pad = plain[-1]
    assert 1 <= pad <= len(iv) and plain[-pad:] == bytes([pad]) * pad  # RFC 5652 §6.3
    key_block = _KeyBlock.load(plain[:-pad])
    assert key_block["version"].native == 1
    assert key_block["kdh"].dump() == _ias(kdh_certificate).dump()
    header = core.OctetString.load(attributes[DATA].dump()).native.decode()
    assert key_block["header"]["values"][0].native.decode() == header
    nonce = attributes.get(NONCE)
    time = attributes.get(SIGNING_TIME)
    return {
        "key": key_block["key"].native,
        "header": header,
        "nonce": core.OctetString.load(nonce.dump()).native if nonce else None,
        "signing_time": core.UTCTime.load(time.dump()).native if time else None,
        "cipher": algorithm["algorithm"].dotted,
    }


# --- parties (test-side CA with plain cryptography) -------------------------------------------


def _party(name: str, ca_key: rsa.RSAPrivateKey, ca_name: x509.Name, size: int = 2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=size)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


@pytest.fixture(scope="module")
def parties() -> dict:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    return {
        "kdh": _party("KDH", ca_key, ca_name),
        "krd": _party("KRD", ca_key, ca_name),
        "krd3072": _party("KRD 3072", ca_key, ca_name, 3072),
        "other": _party("Other", ca_key, ca_name),
    }


TDES_KEY = bytes.fromhex("8A8349794C9EE9A4C2927098F249FED6")  # the AWS sample's default clear key
HEADER = "D9999K0TB00E0000"  # the AWS sample's header shape ("length ignored in tr-34")
NONCE_BYTES = bytes.fromhex("0102030405060708")


def _unwrap(block: bytes, parties: dict, nonce: bytes | None = None, krd: str = "krd", kdh: str = "kdh"):
    return tr34.unwrap(
        block,
        kdh_certificate=parties[kdh][0],
        krd_certificate=parties[krd][0],
        krd_private_key=parties[krd][1],
        nonce=nonce,
    )


def _build(parties: dict, key: bytes = TDES_KEY, header: str = HEADER, krd: str = "krd", **kw) -> bytes:
    return tr34.build(
        key,
        header,
        kdh_certificate=parties["kdh"][0],
        kdh_private_key=parties["kdh"][1],
        krd_certificate=parties[krd][0],
        **kw,
    )


# --- test-side KDH → paycrypt KRD --------------------------------------------------------------


def test_independent_two_pass_block_imports(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    payload = _unwrap(block, parties, nonce=NONCE_BYTES)
    assert (payload.key, payload.header, payload.nonce) == (TDES_KEY, HEADER, NONCE_BYTES)
    assert TDES_KEY.hex() not in repr(payload)


def test_independent_one_pass_block_imports(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], signing_time=NOW)
    payload = _unwrap(block, parties)
    assert (payload.key, payload.nonce, payload.signing_time) == (TDES_KEY, None, NOW)


def test_independent_rfc5652_layout_imports(parties: dict) -> None:
    """Standard CMS placements (tagged OAEP params, whole EnvelopedData, content after the algorithm)."""
    block = _kdh_build(
        TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES, cms_layout=True
    )
    assert _unwrap(block, parties, nonce=NONCE_BYTES).key == TDES_KEY


def test_independent_aes_content_imports(parties: dict) -> None:
    aes_key = bytes(range(16))
    header = "D0000K0AB00E0000"
    block = _kdh_build(aes_key, header, parties["kdh"], parties["krd3072"][0], nonce=NONCE_BYTES, aes=True)
    assert _unwrap(block, parties, nonce=NONCE_BYTES, krd="krd3072").key == aes_key


# --- paycrypt KDH → test-side KRD --------------------------------------------------------------


def test_two_pass_block_reads_in_independent_krd(parties: dict) -> None:
    block = _build(parties, nonce=NONCE_BYTES)
    read = _krd_read(block, parties["kdh"][0], parties["krd"])
    assert read == {
        "key": TDES_KEY,
        "header": HEADER,
        "nonce": NONCE_BYTES,
        "signing_time": None,
        "cipher": DES_EDE3_CBC,
    }


def test_one_pass_block_reads_in_independent_krd(parties: dict) -> None:
    block = _build(parties, signing_time=NOW)
    read = _krd_read(block, parties["kdh"][0], parties["krd"])
    assert (read["key"], read["nonce"], read["signing_time"]) == (TDES_KEY, None, NOW)


def test_aes_key_uses_aes_content_cipher(parties: dict) -> None:
    """Not independently verified against an HSM: seed-B §7.3 [DECIDE] AES-CBC for AES keys."""
    aes_key = bytes(range(16))
    block = _build(parties, key=aes_key, header="D0000K0AB00E0000", krd="krd3072", nonce=NONCE_BYTES)
    read = _krd_read(block, parties["kdh"][0], parties["krd3072"])
    assert (read["key"], read["cipher"]) == (aes_key, AES128_CBC)
    assert _unwrap(block, parties, nonce=NONCE_BYTES, krd="krd3072").key == aes_key


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    nonce=st.binary(min_size=8, max_size=16),
    usage=st.sampled_from(["K0", "B0", "D0", "P0", "E0"]),
)
def test_property_paycrypt_blocks_read_in_independent_krd(
    parties: dict, key: bytes, nonce: bytes, usage: str
) -> None:
    header = f"D0000{usage}TB00E0000"
    read = _krd_read(_build(parties, key=key, header=header, nonce=nonce), parties["kdh"][0], parties["krd"])
    assert (read["key"], read["header"], read["nonce"]) == (key, header, nonce)


def test_block_shape_matches_aws_prefix(parties: dict) -> None:
    """seed-B §7.3: service blocks start 308205A106092A864886F70D010702A0…3082058E020101310D300B0609…."""
    block = _build(parties, nonce=NONCE_BYTES).hex().upper()
    assert block[8:30] == "06092A864886F70D010702"
    assert "020101310D300B0609608648016503040201" in block
    assert "3038300D06096086480165030402010500301806092A864886F70D010108300B0609608648016503040201" in block


# --- the real AWS output (structure only) -----------------------------------------------------


def _aws_example() -> tuple[bytes, x509.Certificate]:
    path = Path(awscli.__file__).parent / "examples/payment-cryptography/export-key.rst"
    text = path.read_text()
    blob = re.search(r'"KeyMaterial": "([0-9A-F]+)EXAMPLE"', text).group(1)
    blob = blob[: len(blob) // 2 * 2]
    raw = bytes.fromhex(blob)
    raw += bytes(0x5A1 + 4 - len(raw))  # restore the redacted signature tail with zeros
    pem_b64 = re.search(r"(LS0t\S+)EXAMPLE=", text).group(1)
    pem = base64.b64decode(pem_b64 + "=" * (-len(pem_b64) % 4)) + b"-----\n"
    return raw, x509.load_pem_x509_certificate(pem)


def test_aws_export_blob_structure() -> None:
    block, krd_certificate = _aws_example()
    envelope = tr34.parse(block)
    assert envelope.header == "D0112K0TB00E0000"
    assert envelope.nonce is None
    assert envelope.signing_time == datetime(2023, 6, 13, 19, 2, 40, tzinfo=UTC)
    assert len(envelope.enveloped_content) == 780
    assert (
        envelope.message_digest.hex().upper()
        == "9AD3A76A89E2F58433DF669174A6F4D4B6B3D60A8A7341712CB666CA6AE4125E"
    )
    assert hashlib.sha256(envelope.enveloped_content).digest() == envelope.message_digest
    assert envelope.krd_id == tr34.issuer_and_serial(krd_certificate)
    assert (envelope.content_cipher, len(envelope.iv), len(envelope.encrypted_key_block)) == (
        "DES_EDE3_CBC",
        8,
        232,
    )
    assert len(envelope.signature) == 256


def test_aws_export_blob_reads_in_independent_parser() -> None:
    """The test-side asn1crypto specs agree with the real blob, so they are the AWS shape, not ours."""
    block, krd_certificate = _aws_example()
    info = _ContentInfo.load(block)
    e = info["content"]["encap_content_info"]["content"].native
    enveloped = _EnvelopedData(contents=e)
    assert enveloped["recipient_infos"][0]["rid"].dump() == _ias(krd_certificate).dump()
    algorithm = enveloped["encrypted_content_info"]["content_encryption_algorithm"]
    assert len(algorithm["encrypted_content"].native) == 232


# --- tampering and wrong parties ---------------------------------------------------------------


def test_every_single_byte_flip_is_rejected(parties: dict) -> None:
    block = _build(parties, nonce=NONCE_BYTES)
    assert _unwrap(block, parties, nonce=NONCE_BYTES).key == TDES_KEY
    for position in range(len(block)):
        for mask in (0x01, 0x80):
            tampered = bytearray(block)
            tampered[position] ^= mask
            with pytest.raises(Tr34Error):
                _unwrap(bytes(tampered), parties, nonce=NONCE_BYTES)


def _locate_signature(block: bytes) -> int:
    return len(block) - 256


def test_signature_byte_rejected(parties: dict) -> None:
    block = bytearray(_kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES))
    block[_locate_signature(bytes(block)) + 10] ^= 0x04
    with pytest.raises(Tr34Error, match="signature"):
        _unwrap(bytes(block), parties, nonce=NONCE_BYTES)


def test_encrypted_key_rejected(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    envelope = tr34.parse(block)
    position = block.index(envelope.encrypted_key_block) + 5
    tampered = bytearray(block)
    tampered[position] ^= 0x01
    with pytest.raises(Tr34Error, match="digest"):
        _unwrap(bytes(tampered), parties, nonce=NONCE_BYTES)


def test_wrong_nonce_rejected(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    with pytest.raises(Tr34Error, match="nonce does not match"):
        _unwrap(block, parties, nonce=bytes(8))
    with pytest.raises(Tr34Error, match="requires the RandomNonce"):
        _unwrap(block, parties)


def test_nonce_given_for_one_pass_block_rejected(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], signing_time=NOW)
    with pytest.raises(Tr34Error, match="one-pass"):
        _unwrap(block, parties, nonce=NONCE_BYTES)


def test_wrong_krd_rejected(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    with pytest.raises(Tr34Error, match="wrapping certificate"):
        _unwrap(block, parties, nonce=NONCE_BYTES, krd="other")
    # the right certificate but another private key: OAEP fails, and says nothing more
    with pytest.raises(Tr34Error, match="does not decrypt"):
        tr34.unwrap(
            block,
            kdh_certificate=parties["kdh"][0],
            krd_certificate=parties["krd"][0],
            krd_private_key=parties["other"][1],
            nonce=NONCE_BYTES,
        )


def test_wrong_kdh_rejected(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    with pytest.raises(Tr34Error, match="signing certificate"):
        _unwrap(block, parties, nonce=NONCE_BYTES, kdh="other")


def test_signer_impersonation_rejected(parties: dict) -> None:
    """A block that names the KDH but is signed by another key fails the signature check."""
    block = _kdh_build(
        TDES_KEY, HEADER, (parties["kdh"][0], parties["other"][1]), parties["krd"][0], nonce=NONCE_BYTES
    )
    with pytest.raises(Tr34Error, match="signature"):
        _unwrap(block, parties, nonce=NONCE_BYTES)


def test_inner_header_must_match_signed_header(parties: dict) -> None:
    block = _kdh_build(
        TDES_KEY,
        HEADER,
        parties["kdh"],
        parties["krd"][0],
        nonce=NONCE_BYTES,
        inner_header="D9999P0TB00E0000",
    )
    with pytest.raises(Tr34Error, match="header differs"):
        _unwrap(block, parties, nonce=NONCE_BYTES)


def test_inner_kdh_must_match_signer(parties: dict) -> None:
    block = _kdh_build(
        TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES, inner_kdh=parties["other"][0]
    )
    with pytest.raises(Tr34Error, match="different KDH"):
        _unwrap(block, parties, nonce=NONCE_BYTES)


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -1, -50])
def test_truncated_block_rejected(parties: dict, cut: int) -> None:
    block = _build(parties, nonce=NONCE_BYTES)
    with pytest.raises(Tr34Error):
        tr34.parse(block[:cut])


def test_trailing_bytes_rejected(parties: dict) -> None:
    with pytest.raises(Tr34Error, match="trailing"):
        tr34.parse(_build(parties, nonce=NONCE_BYTES) + b"\x00")


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_raises_only_tr34_error(data: bytes) -> None:
    with pytest.raises(Tr34Error):
        tr34.parse(data)


def test_error_messages_hold_no_key_material(parties: dict) -> None:
    block = _kdh_build(TDES_KEY, HEADER, parties["kdh"], parties["krd"][0], nonce=NONCE_BYTES)
    with pytest.raises(Tr34Error) as caught:
        _unwrap(block, parties, nonce=bytes(8))
    assert TDES_KEY.hex() not in str(caught.value).lower()
    assert NONCE_BYTES.hex() not in str(caught.value).lower()


# --- build argument checks ---------------------------------------------------------------------


def test_build_needs_exactly_one_freshness_value(parties: dict) -> None:
    with pytest.raises(Tr34Error, match="exactly one"):
        _build(parties)
    with pytest.raises(Tr34Error, match="exactly one"):
        _build(parties, nonce=NONCE_BYTES, signing_time=NOW)


@pytest.mark.parametrize("nonce", [bytes(7), bytes(17)])
def test_build_rejects_nonce_outside_the_model_length(parties: dict, nonce: bytes) -> None:
    """The API's RandomNonce is 16–32 hex characters (EvenHexLengthBetween16And32)."""
    with pytest.raises(Tr34Error, match="nonce"):
        _build(parties, nonce=nonce)


@pytest.mark.parametrize("header", ["D0000K0TB00E000", "D0000K0TB00E000\x01", ""])
def test_build_rejects_bad_header(parties: dict, header: str) -> None:
    with pytest.raises(Tr34Error, match="header"):
        _build(parties, header=header, nonce=NONCE_BYTES)


def test_build_rejects_ecc_parties(parties: dict) -> None:
    with pytest.raises(Tr34Error, match="RSA"):
        tr34.build(
            TDES_KEY,
            HEADER,
            kdh_certificate=parties["kdh"][0],
            kdh_private_key=ec.generate_private_key(ec.SECP256R1()),  # type: ignore[arg-type]
            krd_certificate=parties["krd"][0],
            nonce=NONCE_BYTES,
        )


def test_issuer_and_serial_matches_asn1crypto(parties: dict) -> None:
    certificate = parties["kdh"][0]
    assert tr34.issuer_and_serial(certificate) == _ias(certificate).dump()
