"""ASC X9 TR-34-2012 key blocks in the form AWS Payment Cryptography emits and accepts.

TR-34 moves a symmetric key from a Key Distribution Host (KDH) to a Key Receiving Device (KRD):
the KDH encrypts a small key block under a fresh content key, encrypts that content key to the
KRD's RSA certificate with RSA-OAEP (SHA-256), and signs the result with its own RSA key
(PKCS #1 v1.5, SHA-256). The key block carries a TR-31-style header that binds the key's usage;
the same header travels, signed, in the clear. Two-pass blocks carry the KRD's random nonce as a
signed attribute (anti-replay); one-pass blocks carry a signing time instead.

The layout is the "non-CMS" TR-34-2012 form of seed-B §7.3, as AWS's sample code builds it and as
the real service output in awscli's `export-key.rst` shows. Two places differ from RFC 5652 CMS
and are copied as observed, because that is what interoperates with AWS:

* the signed content is the EnvelopedData fields *without* their outer SEQUENCE header;
* the RSAES-OAEP parameters are bare SEQUENCEs (RFC 4055 tags them [0], [1], [2]), and the
  encrypted key block sits *inside* the content-encryption AlgorithmIdentifier SEQUENCE
  (CMS puts it after it). Seed-B §7.3 draws the CMS placement; the real blob has it inside
  (`3081FF 06082A864886F70D0307 0408<iv> 8081E8<ciphertext>`), and that wins.

On import both the AWS placements and the standard CMS ones are accepted, so a block from an HSM
that follows RFC 5652 strictly still parses.

Why a small DER codec here instead of asn1crypto: the shape above is not CMS, so a schema library
would need custom specs anyway; the signature must be checked over the signed attributes exactly
as received; and the tests read and write blocks with asn1crypto, which stays an independent
implementation only if this module does not use it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paycrypt.crypto import primitives as p


class Tr34Error(ValueError):
    """A TR-34 block that is malformed, does not verify, or does not match the expected parties."""


# --- a minimal DER codec (definite lengths, low tag numbers: all TR-34 needs) -----------------

_INTEGER, _OCTETS, _NULL, _OID, _UTCTIME, _GENTIME = 0x02, 0x04, 0x05, 0x06, 0x17, 0x18
_SEQ, _SET, _CTX0, _CTX0_PRIM = 0x30, 0x31, 0xA0, 0x80


class _Tlv(NamedTuple):
    tag: int
    content: bytes
    raw: bytes


def _tlv(tag: int, *contents: bytes) -> bytes:
    body = b"".join(contents)
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _read(data: bytes, pos: int) -> tuple[_Tlv, int]:
    """Decode one TLV at `pos`; refuse what DER forbids (indefinite length, high tag numbers)."""
    if pos + 2 > len(data):
        raise Tr34Error("TR-34 block is truncated")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise Tr34Error("TR-34 block uses an unsupported high tag number")
    start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise Tr34Error("TR-34 block has an invalid length field")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise Tr34Error("TR-34 block is truncated")
    return _Tlv(tag, data[start:end], data[pos:end]), end


def _children(data: bytes) -> list[_Tlv]:
    items, pos = [], 0
    while pos < len(data):
        item, pos = _read(data, pos)
        items.append(item)
    return items


def _expect(item: _Tlv, tag: int, what: str) -> _Tlv:
    if item.tag != tag:
        raise Tr34Error(f"TR-34 {what}: unexpected ASN.1 tag 0x{item.tag:02X}")
    return item


def _only(items: list[_Tlv], what: str) -> _Tlv:
    if len(items) != 1:
        raise Tr34Error(f"TR-34 {what}: expected exactly one element, found {len(items)}")
    return items[0]


def _oid(dotted: str) -> bytes:
    """DER content octets of an OBJECT IDENTIFIER (X.690 §8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return bytes(out)


def _integer(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _small_int(item: _Tlv, what: str) -> int:
    return int.from_bytes(_expect(item, _INTEGER, what).content, "big", signed=True)


def _is_oid(item: _Tlv, oid: bytes) -> bool:
    """Compare whole TLVs, so that a changed tag is caught as well as a changed value."""
    return item.raw == _tlv(_OID, oid)


OID_DATA = _oid("1.2.840.113549.1.7.1")
OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
OID_ENVELOPED_DATA = _oid("1.2.840.113549.1.7.3")
OID_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
OID_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")
OID_RANDOM_NONCE = _oid("1.2.840.113549.1.9.25.3")
OID_SHA256 = _oid("2.16.840.1.101.3.4.2.1")
OID_RSA_ENCRYPTION = _oid("1.2.840.113549.1.1.1")
OID_SHA256_WITH_RSA = _oid("1.2.840.113549.1.1.11")
OID_RSAES_OAEP = _oid("1.2.840.113549.1.1.7")
OID_MGF1 = _oid("1.2.840.113549.1.1.8")
OID_P_SPECIFIED = _oid("1.2.840.113549.1.1.9")


# --- content encryption: the ephemeral key block cipher ---------------------------------------


@dataclass(frozen=True)
class _ContentCipher:
    oid: bytes
    key_length: int
    block_size: int
    encrypt: Callable[[bytes, bytes, bytes], bytes]
    decrypt: Callable[[bytes, bytes, bytes], bytes]


# TR-34-2012 and AWS use des-ede3-cbc (RFC 3370 §5.1). AES-CBC (RFC 3565) is offered for AES keys so
# the content key is never weaker than the key it carries (seed-B §7.3 [DECIDE]).
CONTENT_CIPHERS: dict[str, _ContentCipher] = {
    "DES_EDE3_CBC": _ContentCipher(_oid("1.2.840.113549.3.7"), 24, 8, p.tdes_cbc_encrypt, p.tdes_cbc_decrypt),
    "AES_128_CBC": _ContentCipher(
        _oid("2.16.840.1.101.3.4.1.2"), 16, 16, p.aes_cbc_encrypt, p.aes_cbc_decrypt
    ),
    "AES_192_CBC": _ContentCipher(
        _oid("2.16.840.1.101.3.4.1.22"), 24, 16, p.aes_cbc_encrypt, p.aes_cbc_decrypt
    ),
    "AES_256_CBC": _ContentCipher(
        _oid("2.16.840.1.101.3.4.1.42"), 32, 16, p.aes_cbc_encrypt, p.aes_cbc_decrypt
    ),
}
_CIPHER_BY_OID = {_tlv(_OID, c.oid): c for c in CONTENT_CIPHERS.values()}

# TR-31 header byte 7 (the key algorithm) → content cipher; AES/HMAC keys pick AES by key length.
_AES_BY_KEY_LENGTH = ((16, "AES_128_CBC"), (24, "AES_192_CBC"))


def default_content_cipher(header: str, key: bytes) -> str:
    """TDES keys travel under des-ede3-cbc as AWS does; AES and HMAC keys under AES of equal strength."""
    if header[7] not in "AH":
        return "DES_EDE3_CBC"
    return next((name for size, name in _AES_BY_KEY_LENGTH if len(key) <= size), "AES_256_CBC")


# --- parties -----------------------------------------------------------------------------------


def issuer_and_serial(certificate: x509.Certificate) -> bytes:
    """DER IssuerAndSerialNumber (RFC 5652 §10.2.4) with the issuer bytes exactly as in the certificate.

    Taken from the TBSCertificate rather than re-encoded, so it matches byte for byte whatever
    string types the issuing CA chose.
    """
    tbs = _children(_expect(_read(certificate.tbs_certificate_bytes, 0)[0], _SEQ, "certificate").content)
    fields = tbs[1:] if tbs[0].tag == _CTX0 else tbs
    serial, issuer = fields[0], fields[2]
    return _tlv(_SEQ, issuer.raw, serial.raw)


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tr34Envelope:
    """A TR-34 block taken apart but not yet verified: what the KRD reads before it trusts anything."""

    kdh_id: bytes  # SignerInfo sid, DER IssuerAndSerialNumber
    krd_id: bytes  # KeyTransRecipientInfo rid, DER IssuerAndSerialNumber
    header: str  # the signed, clear TR-31-style header
    nonce: bytes | None  # randomNonce attribute: present on two-pass blocks
    signing_time: datetime | None  # signingTime attribute: present on AWS one-pass blocks
    message_digest: bytes
    enveloped_content: bytes  # the octets the messageDigest covers
    signed_attributes: bytes  # DER SET OF Attribute, as signed (tag 0x31)
    signature: bytes
    encrypted_content_key: bytes
    content_cipher: str
    iv: bytes
    encrypted_key_block: bytes


@dataclass(frozen=True)
class Tr34Payload:
    """The verified result of a TR-34 import: the clear key and the header that binds its usage."""

    key: bytes = field(repr=False)
    header: str
    nonce: bytes | None
    signing_time: datetime | None


# --- build (KDH side: ExportKey) ---------------------------------------------------------------

_HEADER = re.compile(r"[\x20-\x7E]{16,}")


def build(
    key: bytes,
    header: str,
    *,
    kdh_certificate: x509.Certificate,
    kdh_private_key: rsa.RSAPrivateKey,
    krd_certificate: x509.Certificate,
    nonce: bytes | None = None,
    signing_time: datetime | None = None,
    content_cipher: str | None = None,
) -> bytes:
    """Build a TR-34 block: two-pass when the KRD's `nonce` is given, otherwise one-pass with `signing_time`.

    The KDH signs with `kdh_private_key`, whose certificate `kdh_certificate` names it in the block;
    the ephemeral content key is encrypted to the RSA key in `krd_certificate`.
    """
    if not key:
        raise Tr34Error("key to wrap is empty")
    if not _HEADER.fullmatch(header):
        raise Tr34Error("TR-34 header must be at least 16 printable ASCII characters")
    if (nonce is None) == (signing_time is None):
        raise Tr34Error("give exactly one of nonce (two-pass) or signing_time (one-pass)")
    if nonce is not None and not 8 <= len(nonce) <= 16:
        raise Tr34Error("TR-34 random nonce must be 8 to 16 bytes")
    krd_key = krd_certificate.public_key()
    if not isinstance(krd_key, rsa.RSAPublicKey) or not isinstance(kdh_private_key, rsa.RSAPrivateKey):
        raise Tr34Error("TR-34 needs RSA keys for both the KDH and the KRD")
    cipher_name = content_cipher or default_content_cipher(header, key)
    if cipher_name not in CONTENT_CIPHERS:
        raise Tr34Error("unsupported TR-34 content cipher")
    cipher = CONTENT_CIPHERS[cipher_name]
    kdh_id = issuer_and_serial(kdh_certificate)

    content_key = secrets.token_bytes(cipher.key_length)
    iv = secrets.token_bytes(cipher.block_size)
    plain = _tlv(
        _SEQ,
        _integer(1),
        kdh_id,
        _tlv(_OCTETS, key),
        _tlv(_SEQ, _tlv(_OID, OID_DATA), _tlv(_SET, _tlv(_OCTETS, header.encode("ascii")))),
    )
    encrypted_key_block = cipher.encrypt(content_key, _pad(plain, cipher.block_size), iv)
    encrypted_content_key = krd_key.encrypt(content_key, _OAEP_SHA256)

    enveloped = b"".join(
        (
            _integer(0),
            _tlv(
                _SET,
                _tlv(
                    _SEQ,
                    _integer(0),
                    issuer_and_serial(krd_certificate),
                    _OAEP_ALGORITHM,
                    _tlv(_OCTETS, encrypted_content_key),
                ),
            ),
            _tlv(
                _SEQ,
                _tlv(_OID, OID_DATA),
                _tlv(_SEQ, _tlv(_OID, cipher.oid), _tlv(_OCTETS, iv), _tlv(_CTX0_PRIM, encrypted_key_block)),
            ),
        )
    )
    freshness = (
        _attribute(OID_RANDOM_NONCE, _tlv(_OCTETS, nonce))
        if nonce is not None
        else _attribute(OID_SIGNING_TIME, _encode_time(signing_time))  # type: ignore[arg-type]
    )
    attributes = b"".join(
        (
            _attribute(OID_CONTENT_TYPE, _tlv(_OID, OID_ENVELOPED_DATA)),
            freshness,
            _attribute(OID_DATA, _tlv(_OCTETS, header.encode("ascii"))),
            _attribute(OID_MESSAGE_DIGEST, _tlv(_OCTETS, hashlib.sha256(enveloped).digest())),
        )
    )
    signature = kdh_private_key.sign(_tlv(_SET, attributes), padding.PKCS1v15(), hashes.SHA256())

    sha256 = _tlv(_SEQ, _tlv(_OID, OID_SHA256))
    signer_info = _tlv(
        _SEQ,
        _integer(1),
        kdh_id,
        sha256,
        _tlv(_CTX0, attributes),
        _tlv(_SEQ, _tlv(_OID, OID_RSA_ENCRYPTION), _tlv(_NULL)),
        _tlv(_OCTETS, signature),
    )
    signed_data = _tlv(
        _SEQ,
        _integer(1),
        _tlv(_SET, sha256),
        _tlv(_SEQ, _tlv(_OID, OID_ENVELOPED_DATA), _tlv(_CTX0, _tlv(_OCTETS, enveloped))),
        _tlv(_SET, signer_info),
    )
    return _tlv(_SEQ, _tlv(_OID, OID_SIGNED_DATA), _tlv(_CTX0, signed_data))


_OAEP_SHA256 = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_OAEP_ALGORITHM = _tlv(
    _SEQ,
    _tlv(_OID, OID_RSAES_OAEP),
    _tlv(
        _SEQ,
        _tlv(_SEQ, _tlv(_OID, OID_SHA256), _tlv(_NULL)),
        _tlv(_SEQ, _tlv(_OID, OID_MGF1), _tlv(_SEQ, _tlv(_OID, OID_SHA256))),
        _tlv(_SEQ, _tlv(_OID, OID_P_SPECIFIED), _tlv(_OCTETS)),
    ),
)


def _attribute(oid: bytes, value: bytes) -> bytes:
    return _tlv(_SEQ, _tlv(_OID, oid), _tlv(_SET, value))


def _pad(data: bytes, block_size: int) -> bytes:
    """RFC 5652 §6.3 padding: always 1..block_size bytes, each equal to the pad length."""
    n = block_size - len(data) % block_size
    return data + bytes([n]) * n


def _encode_time(moment: datetime) -> bytes:
    """signingTime as RFC 5652 §11.3 wants it: UTCTime for 1950–2049, GeneralizedTime otherwise."""
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return _tlv(_UTCTIME, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(_GENTIME, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _decode_time(item: _Tlv) -> datetime:
    formats = {_UTCTIME: "%y%m%d%H%M%SZ", _GENTIME: "%Y%m%d%H%M%SZ"}
    if item.tag not in formats:
        raise Tr34Error("TR-34 signingTime is neither UTCTime nor GeneralizedTime")
    try:
        return datetime.strptime(item.content.decode("ascii"), formats[item.tag]).replace(tzinfo=UTC)
    except (UnicodeDecodeError, ValueError):
        raise Tr34Error("TR-34 signingTime is malformed") from None


# --- parse (structure only) --------------------------------------------------------------------


def parse(block: bytes) -> Tr34Envelope:
    """Take a TR-34 block apart without verifying anything (use `unwrap` to verify)."""
    top, end = _read(block, 0)
    if end != len(block):
        raise Tr34Error("TR-34 block has trailing bytes")
    content_info = _children(_expect(top, _SEQ, "ContentInfo").content)
    if len(content_info) != 2 or not _is_oid(content_info[0], OID_SIGNED_DATA):
        raise Tr34Error("TR-34 block is not a signedData ContentInfo")
    signed_data = _children(
        _expect(
            _only(_children(_expect(content_info[1], _CTX0, "content").content), "content"),
            _SEQ,
            "SignedData",
        ).content
    )
    if len(signed_data) < 4 or _small_int(signed_data[0], "SignedData version") != 1:
        raise Tr34Error("TR-34 SignedData version must be 1")
    _check_sha256(
        _only(_children(_expect(signed_data[1], _SET, "digestAlgorithms").content), "digestAlgorithms")
    )
    encapsulated = _children(_expect(signed_data[2], _SEQ, "encapContentInfo").content)
    if len(encapsulated) != 2 or not _is_oid(encapsulated[0], OID_ENVELOPED_DATA):
        raise Tr34Error("TR-34 signed content is not envelopedData")
    enveloped = _expect(
        _only(_children(_expect(encapsulated[1], _CTX0, "eContent").content), "eContent"), _OCTETS, "eContent"
    ).content
    # certificates [0] and crls [1] may sit between; the signer infos are always last.
    signer_info = _only(_children(_expect(signed_data[-1], _SET, "signerInfos").content), "signerInfos")
    signer = _parse_signer_info(signer_info)
    recipient = _parse_enveloped(enveloped)
    return Tr34Envelope(enveloped_content=enveloped, **signer, **recipient)


def _check_sha256(algorithm: _Tlv) -> None:
    parts = _children(_expect(algorithm, _SEQ, "digest algorithm").content)
    params_ok = len(parts) == 1 or (len(parts) == 2 and parts[1].tag == _NULL and not parts[1].content)
    if not parts or not _is_oid(parts[0], OID_SHA256) or not params_ok:
        raise Tr34Error("TR-34 digest algorithm must be SHA-256")


def _parse_signer_info(item: _Tlv) -> dict:
    parts = _children(_expect(item, _SEQ, "SignerInfo").content)
    if len(parts) < 6 or _small_int(parts[0], "SignerInfo version") != 1:
        raise Tr34Error("TR-34 SignerInfo must be version 1 with signed attributes")
    kdh_id = _expect(parts[1], _SEQ, "SignerInfo sid").raw
    _check_sha256(parts[2])
    attributes = _expect(parts[3], _CTX0, "signed attributes")
    if parts[4].raw not in _RSA_SIGNATURE_ALGORITHMS:
        raise Tr34Error("TR-34 signature algorithm must be RSA PKCS #1 v1.5")
    values = _parse_attributes(attributes.content)
    if values.get(OID_CONTENT_TYPE) != _tlv(_OID, OID_ENVELOPED_DATA):
        raise Tr34Error("TR-34 contentType attribute must be envelopedData")
    for required in (OID_DATA, OID_MESSAGE_DIGEST):
        if required not in values:
            raise Tr34Error("TR-34 signed attributes lack the key block header or the message digest")
    header = _expect(_read(values[OID_DATA], 0)[0], _OCTETS, "header attribute").content
    nonce = values.get(OID_RANDOM_NONCE)
    signing_time = values.get(OID_SIGNING_TIME)
    return {
        "kdh_id": kdh_id,
        "header": _decode_header(header),
        "nonce": _expect(_read(nonce, 0)[0], _OCTETS, "randomNonce").content if nonce else None,
        "signing_time": _decode_time(_read(signing_time, 0)[0]) if signing_time else None,
        "message_digest": _expect(_read(values[OID_MESSAGE_DIGEST], 0)[0], _OCTETS, "messageDigest").content,
        "signed_attributes": _tlv(_SET, attributes.content),
        "signature": _expect(parts[5], _OCTETS, "signature").content,
    }


# rsaEncryption (what AWS writes) or sha256WithRSAEncryption, with NULL or absent parameters.
_RSA_SIGNATURE_ALGORITHMS = {
    _tlv(_SEQ, _tlv(_OID, oid), *null)
    for oid in (OID_RSA_ENCRYPTION, OID_SHA256_WITH_RSA)
    for null in ((), (_tlv(_NULL),))
}


def _parse_attributes(content: bytes) -> dict[bytes, bytes]:
    """OID → the raw single value of each signed attribute; a repeated attribute is refused."""
    values: dict[bytes, bytes] = {}
    for attribute in _children(content):
        parts = _children(_expect(attribute, _SEQ, "attribute").content)
        if len(parts) != 2:
            raise Tr34Error("TR-34 attribute must be a type and a value set")
        oid = _expect(parts[0], _OID, "attribute type").content
        if oid in values:
            raise Tr34Error("TR-34 signed attribute appears twice")
        values[oid] = _only(
            _children(_expect(parts[1], _SET, "attribute values").content), "attribute values"
        ).raw
    return values


def _decode_header(raw: bytes) -> str:
    try:
        header = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Tr34Error("TR-34 key block header is not ASCII") from None
    if not _HEADER.fullmatch(header):
        raise Tr34Error("TR-34 key block header must be at least 16 printable ASCII characters")
    return header


def _parse_enveloped(enveloped: bytes) -> dict:
    parts = _children(enveloped)
    if len(parts) == 1 and parts[0].tag == _SEQ:  # RFC 5652 form: a whole EnvelopedData SEQUENCE
        parts = _children(parts[0].content)
    parts = [part for part in parts if part.tag != _CTX0]  # originatorInfo, never used by TR-34
    if len(parts) != 3 or _small_int(parts[0], "EnvelopedData version") != 0:
        raise Tr34Error("TR-34 EnvelopedData must be version 0 with one recipient and encrypted content")
    recipient = _children(
        _expect(
            _only(_children(_expect(parts[1], _SET, "recipientInfos").content), "recipientInfos"),
            _SEQ,
            "recipient",
        ).content
    )
    if len(recipient) != 4 or _small_int(recipient[0], "KeyTransRecipientInfo version") != 0:
        raise Tr34Error("TR-34 recipient must be a version 0 KeyTransRecipientInfo")
    _check_oaep_sha256(recipient[2])
    return {
        "krd_id": _expect(recipient[1], _SEQ, "recipient rid").raw,
        "encrypted_content_key": _expect(recipient[3], _OCTETS, "encrypted key").content,
        **_parse_encrypted_content(parts[2]),
    }


def _check_oaep_sha256(item: _Tlv) -> None:
    """RSAES-OAEP with SHA-256, MGF1-SHA-256 and an empty label; bare (AWS) or [0][1][2]-tagged (RFC 4055)."""
    parts = _children(_expect(item, _SEQ, "key encryption algorithm").content)
    if len(parts) != 2 or not _is_oid(parts[0], OID_RSAES_OAEP):
        raise Tr34Error("TR-34 content key must be encrypted with RSAES-OAEP")
    params = [
        _only(_children(part.content), "OAEP parameter").raw if part.tag in (0xA0, 0xA1, 0xA2) else part.raw
        for part in _children(_expect(parts[1], _SEQ, "OAEP parameters").content)
    ]
    # pSourceFunc may be omitted: its default is pSpecified with an empty label (RFC 8017 A.2.1).
    if len(params) == 2:
        params.append(_OAEP_EMPTY_LABEL)
    if len(params) != 3 or params[0] not in _OAEP_SHA256_FORMS or params[1] not in _OAEP_MGF1_FORMS:
        raise Tr34Error("TR-34 RSAES-OAEP parameters must be SHA-256 with MGF1-SHA-256")
    if params[2] != _OAEP_EMPTY_LABEL:
        raise Tr34Error("TR-34 RSAES-OAEP label must be empty")


_OAEP_SHA256_FORMS = {_tlv(_SEQ, _tlv(_OID, OID_SHA256), _tlv(_NULL)), _tlv(_SEQ, _tlv(_OID, OID_SHA256))}
_OAEP_MGF1_FORMS = {_tlv(_SEQ, _tlv(_OID, OID_MGF1), form) for form in _OAEP_SHA256_FORMS}
_OAEP_EMPTY_LABEL = _tlv(_SEQ, _tlv(_OID, OID_P_SPECIFIED), _tlv(_OCTETS))


def _parse_encrypted_content(item: _Tlv) -> dict:
    parts = _children(_expect(item, _SEQ, "EncryptedContentInfo").content)
    if len(parts) not in (2, 3) or not _is_oid(parts[0], OID_DATA):
        raise Tr34Error("TR-34 EncryptedContentInfo must carry id-data")
    algorithm = _children(_expect(parts[1], _SEQ, "content encryption algorithm").content)
    # AWS nests [0] encryptedContent inside the AlgorithmIdentifier; RFC 5652 puts it after.
    encrypted = (
        algorithm.pop()
        if len(parts) == 2 and len(algorithm) == 3
        else (parts[2] if len(parts) == 3 else None)
    )
    if encrypted is None or encrypted.tag != _CTX0_PRIM or len(algorithm) != 2:
        raise Tr34Error("TR-34 EncryptedContentInfo has no encrypted key block")
    cipher = _CIPHER_BY_OID.get(algorithm[0].raw)
    if cipher is None:
        raise Tr34Error("TR-34 content encryption algorithm is not supported")
    iv = _expect(algorithm[1], _OCTETS, "IV").content
    if len(iv) != cipher.block_size or not encrypted.content or len(encrypted.content) % cipher.block_size:
        raise Tr34Error("TR-34 IV or encrypted key block has the wrong length")
    name = next(n for n, c in CONTENT_CIPHERS.items() if c is cipher)
    return {"content_cipher": name, "iv": iv, "encrypted_key_block": encrypted.content}


# --- unwrap (KRD side: ImportKey) --------------------------------------------------------------


def unwrap(
    block: bytes,
    *,
    kdh_certificate: x509.Certificate,
    krd_certificate: x509.Certificate,
    krd_private_key: rsa.RSAPrivateKey,
    nonce: bytes | None = None,
) -> Tr34Payload:
    """Verify a TR-34 block from the KDH named by `kdh_certificate` and recover the key (seed-B §7.4).

    Checks, in order: the block names this KDH and this KRD; the signed digest covers the
    envelope; the KDH's signature; the nonce (a two-pass block needs the KRD's `nonce`, and a
    caller who sent a nonce does not accept a one-pass block); and, after decryption, that the
    inner block names the same KDH and carries the same header as the signed attributes.
    Chain and validity checks of `kdh_certificate` are the caller's (see `certificates`).
    """
    envelope = parse(block)
    kdh_key = kdh_certificate.public_key()
    if not isinstance(kdh_key, rsa.RSAPublicKey) or not isinstance(krd_private_key, rsa.RSAPrivateKey):
        raise Tr34Error("TR-34 needs RSA keys for both the KDH and the KRD")
    if envelope.kdh_id != issuer_and_serial(kdh_certificate):
        raise Tr34Error("TR-34 block is not signed by the given signing certificate")
    if envelope.krd_id != issuer_and_serial(krd_certificate):
        raise Tr34Error("TR-34 block is not encrypted for the given wrapping certificate")
    if not p.constant_time_equal(
        envelope.message_digest, hashlib.sha256(envelope.enveloped_content).digest()
    ):
        raise Tr34Error("TR-34 message digest does not match the enveloped content")
    try:
        kdh_key.verify(envelope.signature, envelope.signed_attributes, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Tr34Error("TR-34 signature does not verify") from None
    _check_freshness(envelope, nonce)

    cipher = CONTENT_CIPHERS[envelope.content_cipher]
    try:
        content_key = krd_private_key.decrypt(envelope.encrypted_content_key, _OAEP_SHA256)
    except ValueError:
        raise Tr34Error("TR-34 content key does not decrypt under the wrapping key") from None
    if len(content_key) != cipher.key_length:
        raise Tr34Error("TR-34 content key has the wrong length for its cipher")
    plain = cipher.decrypt(content_key, envelope.encrypted_key_block, envelope.iv)
    key, inner_kdh_id, inner_header = _parse_key_block(plain, cipher.block_size)
    if inner_kdh_id != envelope.kdh_id:
        raise Tr34Error("TR-34 key block names a different KDH than the signer")
    if inner_header != envelope.header:
        raise Tr34Error("TR-34 key block header differs from the signed header")
    return Tr34Payload(
        key=key, header=envelope.header, nonce=envelope.nonce, signing_time=envelope.signing_time
    )


def _check_freshness(envelope: Tr34Envelope, nonce: bytes | None) -> None:
    if envelope.nonce is not None:
        if nonce is None:
            raise Tr34Error("two-pass TR-34 block requires the RandomNonce")
        if not p.constant_time_equal(envelope.nonce, nonce):
            raise Tr34Error("TR-34 random nonce does not match")
    elif nonce is not None:
        raise Tr34Error("a RandomNonce was given but the TR-34 block is one-pass")
    elif envelope.signing_time is None:
        raise Tr34Error("one-pass TR-34 block carries no signingTime")


def _parse_key_block(plain: bytes, block_size: int) -> tuple[bytes, bytes, str]:
    """The decrypted TR-34 key block; the DER length marks the end, so either padding style is accepted."""
    try:
        outer, end = _read(plain, 0)
    except Tr34Error:
        raise Tr34Error("TR-34 key block does not decrypt to a key block") from None
    if outer.tag != _SEQ or not 0 <= len(plain) - end <= block_size:
        raise Tr34Error("TR-34 key block does not decrypt to a key block")
    parts = _children(outer.content)
    if len(parts) != 4 or _small_int(parts[0], "key block version") != 1:
        raise Tr34Error("TR-34 key block must be version 1 with KDH id, key and header")
    key = _expect(parts[2], _OCTETS, "key").content
    attribute = _children(_expect(parts[3], _SEQ, "key block header").content)
    if len(attribute) != 2 or not _is_oid(attribute[0], OID_DATA):
        raise Tr34Error("TR-34 key block header attribute must be id-data")
    header_raw = _expect(
        _only(_children(_expect(attribute[1], _SET, "header set").content), "header set"), _OCTETS, "header"
    ).content
    if not key:
        raise Tr34Error("TR-34 key block carries an empty key")
    return key, _expect(parts[1], _SEQ, "key block KDH id").raw, _decode_header(header_raw)
