"""EncryptData, DecryptData and ReEncryptData with every attributes member.

Each member of EncryptionDecryptionAttributes / ReEncryptionAttributes maps to one cipher
function (data in, data out, both directions), so ReEncryptData is exactly DecryptData with the
incoming attributes followed by EncryptData with the outgoing ones, and the clear data never
leaves the function:

    Symmetric   TR31_D0 TDES or AES key; ECB, CBC, CFB, CFB1, CFB8, CFB64, CFB128, OFB (crypto.symmetric)
    Asymmetric  TR31_D1 RSA: encrypt with the public key, decrypt with the private key (crypto.rsa_data)
    Dukpt       TR31_B0 BDK; the data working key of the KSN, then TDES/AES ECB or CBC (dukpt_keys)
    Emv         TR31_E1 or E6 IMK; the card's session key, then TDES ECB or CBC (crypto.emv_encryption)

Which key each member and role takes is in `key_usage.RULES`. Rules the cipher modules
document and this module enforces, each as ValidationException naming the member:

* The service pads nothing (guide: the caller pads symmetric data): ECB and CBC data is whole
  blocks (TDES 8, AES 16 bytes), CFB64/CFB128 whole segments, CFB1/CFB8/OFB any length.
* InitializationVector is one block of the key's cipher (TDES 16 hex, AES 32 hex), zeros when
  omitted; ECB ignores it. CFB128 with TDES is refused (SP 800-38A: s ≤ block size).
* PaddingType on Symmetric attributes is refused: the model offers only RSA paddings there.
* Asymmetric without PaddingType is raw RSA (the data is exactly the modulus length); the
  guide's maximum-plaintext table applies to the paddings. ReEncryptData requires PaddingType
  on an Asymmetric side (the model says so); RSA may be on both sides (decrypt with one D1 key
  pair, encrypt to another D1 key), since nothing in the model, the guide or RFC 8017 forbids it.
* Dukpt: Mode defaults to CBC, DukptKeyVariant to BIDIRECTIONAL, DukptKeyDerivationType to the
  BDK's type; a KSN of the other standard's length (20 or 16 hex TDES, 24 hex AES) or with an
  invalid counter names KeySerialNumber.
* Emv: TDES only, so the IV is 16 hex; Mode defaults to CBC.

Dynamic keys (WrappedKey, IncomingWrappedKey, OutgoingWrappedKey): the key identifier then
names the KEK (or ECDH K3 key) and `dynamic_keys.resolve` unwraps the working key for this one
request, checks it against the same table (role = the WrappedKey member: a D0 key, Encrypt to
encrypt, Decrypt to decrypt) and never stores it. Only Symmetric attributes take one, as the
model documents "a key purpose of D0"; a dynamic key with Dukpt, Emv or Asymmetric attributes
is ValidationException naming the WrappedKey member.

Outputs carry the ARN and KCV of the key that did the work: the stored key; for DUKPT and EMV
the BDK or IMK; for ReEncryptData the outgoing key; for a dynamic key the ARN of the KEK it came
under (as the guide's dynamic-key example returns) and the KCV of the working key itself, in
WrappedKey.KeyCheckValueAlgorithm (the one a caller can compare with its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paycrypt.crypto import emv_encryption, rsa_data, symmetric
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import service_ca
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage
from paycrypt.service.working_keys import dukpt_keys, dynamic_keys
from paycrypt.store.records import KeyRecord

BLOCK_BYTES = {"TDES": 8, "AES": 16}
DEFAULT_DUKPT_MODE = "CBC"
DEFAULT_EMV_MODE = "CBC"


@dataclass(frozen=True)
class Key:
    """The key an attributes member runs under: a stored key (record) or a dynamic one."""

    material: bytes = field(repr=False)
    attributes: dict[str, Any]
    arn: str
    key_check_value: str
    record: KeyRecord | None


@dataclass(frozen=True)
class Where:
    """Where the member's inputs sit in the request, for errors that name them."""

    attributes: str  # e.g. "EncryptionAttributes.Symmetric"
    data: str  # the member holding the data: PlainText or CipherText
    data_is: str = ""  # ReEncryptData's outgoing side works on "the data decrypted from CipherText"
    padding_required: bool = False  # ReEncryptData: Asymmetric needs a PaddingType

    def member(self, name: str) -> str:
        return f"{self.attributes}.{name}"

    def about_data(self, detail: str) -> str:
        return f"{self.data_is}: {detail}" if self.data_is else detail


@dataclass(frozen=True)
class Job:
    svc: Service
    key: Key
    attrs: dict[str, Any]
    data: bytes = field(repr=False)
    encrypting: bool
    where: Where


Run = Callable[[Job], bytes]


def _family(key_algorithm: str) -> str:
    return "TDES" if key_algorithm.startswith("TDES") else "AES"


def _iv(job: Job, family: str) -> bytes | None:
    value = job.attrs.get("InitializationVector")
    if value is None:
        return None
    iv = bytes.fromhex(value)
    if len(iv) != BLOCK_BYTES[family]:
        raise invalid(
            job.where.member("InitializationVector"),
            f"a {family} IV is {BLOCK_BYTES[family]} bytes ({2 * BLOCK_BYTES[family]} hex)",
        )
    return iv


def _block_cipher(job: Job, family: str, key: bytes, mode: str) -> bytes:
    if mode == "CFB128" and family == "TDES":
        raise invalid(job.where.member("Mode"), "CFB128 needs a 128-bit block; TDES blocks are 64 bits")
    iv = _iv(job, family)
    run = symmetric.encrypt if job.encrypting else symmetric.decrypt
    try:
        return run(family, key, job.data, mode, iv)
    except ValueError as exc:  # the key, mode and IV are checked: what is left is the data's length
        raise invalid(job.where.data, job.where.about_data(str(exc))) from None


def _symmetric(job: Job) -> bytes:
    if job.attrs.get("PaddingType") is not None:
        raise invalid(
            job.where.member("PaddingType"),
            "PaddingType names an RSA padding and applies to Asymmetric attributes only; "
            "symmetric data is padded by the caller",
        )
    family = _family(job.key.attributes["KeyAlgorithm"])
    return _block_cipher(job, family, job.key.material, job.attrs["Mode"])


def _asymmetric(job: Job) -> bytes:
    padding = job.attrs.get("PaddingType")
    if padding is None and job.where.padding_required:
        raise invalid(job.where.member("PaddingType"), "ReEncryptData requires a PaddingType for RSA")
    if job.encrypting:
        public = _rsa_public(job.svc, job.key)
        try:
            return rsa_data.encrypt(public, job.data, padding)
        except ValueError as exc:
            raise invalid(job.where.data, job.where.about_data(str(exc))) from None
    private = _rsa_private(job.svc, job.key)
    try:
        return rsa_data.decrypt(private, job.data, padding)
    except ValueError as exc:  # says nothing about why (no padding oracle)
        raise invalid(job.where.data, str(exc)) from None


def _dukpt(job: Job) -> bytes:
    assert job.key.record is not None  # a DUKPT BDK is always a stored key
    key = dukpt_keys.working_key(
        job.svc,
        job.key.record,
        job.attrs["KeySerialNumber"],
        dukpt_keys.Purpose.DATA,
        job.attrs.get("DukptKeyVariant"),
        job.attrs.get("DukptKeyDerivationType"),
        ksn_path=job.where.member("KeySerialNumber"),
        type_path=job.where.member("DukptKeyDerivationType"),
    )
    return _block_cipher(job, key.family, key.key, job.attrs.get("Mode") or DEFAULT_DUKPT_MODE)


def _emv(job: Job) -> bytes:
    attrs = job.attrs
    iv = _iv(job, "TDES")
    if len(job.data) % BLOCK_BYTES["TDES"]:
        raise invalid(job.where.data, job.where.about_data("EMV data must be a multiple of 8 bytes (TDES)"))
    run = emv_encryption.encrypt if job.encrypting else emv_encryption.decrypt
    try:
        result = run(
            job.key.material,
            attrs["MajorKeyDerivationMode"],
            attrs["PrimaryAccountNumber"],
            attrs["PanSequenceNumber"],
            attrs["SessionDerivationData"],
            job.data.hex(),
            attrs.get("Mode") or DEFAULT_EMV_MODE,
            None if iv is None else iv.hex(),
        )
    except ValueError as exc:  # the message names the Emv member at fault
        raise invalid(job.where.attributes, str(exc)) from None
    return bytes.fromhex(result)


CIPHERS: dict[str, Run] = {
    "Symmetric": _symmetric,
    "Asymmetric": _asymmetric,
    "Dukpt": _dukpt,
    "Emv": _emv,
}


# --- RSA keys: parsed once per key, in the key cache (a certificate costs milliseconds to parse) --


def _load_public(material: bytes) -> rsa.RSAPublicKey:
    """An imported public key: DER SubjectPublicKeyInfo, or the X.509 certificate it came in."""
    try:
        key = serialization.load_der_public_key(material)
    except ValueError:
        loader = (
            x509.load_pem_x509_certificate
            if material.startswith(b"-----")
            else x509.load_der_x509_certificate
        )
        key = loader(material).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("stored D1 key is not an RSA public key")
    return key


def _is_public_only(key: Key) -> bool:
    return key.attributes.get("KeyClass") == "PUBLIC_KEY"


def _rsa_public(svc: Service, key: Key) -> rsa.RSAPublicKey:
    assert key.record is not None  # an RSA key is always a stored key (no dynamic Asymmetric key)
    if _is_public_only(key):
        return svc.keycache.derived(key.record, "rsa-public", _load_public)
    return _rsa_private(svc, key).public_key()


def _rsa_private(svc: Service, key: Key) -> rsa.RSAPrivateKey:
    assert key.record is not None
    if _is_public_only(key):
        raise invalid(
            "KeyIdentifier", f"key {key.arn} is a public key; decryption needs a key pair's private key"
        )
    private = service_ca.private_key(svc, key.record)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise TypeError("stored D1 key is not an RSA private key")
    return private


# --- keys ---------------------------------------------------------------------------------------


def _key(
    svc: Service,
    ctx: Context,
    op: str,
    member: str,
    identifier: str,
    role: str,
    wrapped: dict[str, Any] | None,
    wrapped_role: str,
) -> Key:
    """The stored key `identifier` names, or the dynamic key `wrapped` carries under it."""
    if wrapped is not None:
        if (op, member, wrapped_role) not in key_usage.RULES:
            raise invalid(
                wrapped_role, f"a dynamic key is accepted with Symmetric attributes only, not {member}"
            )
        working = dynamic_keys.resolve(svc, ctx, wrapped, op, member, wrapped_role, identifier)
        return Key(working.material, working.attributes, working.arn, working.key_check_value, None)
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    key_usage.check_key(op, member, record, role)
    return Key(
        svc.keycache.material(record), record.key_attributes, record.arn, record.key_check_value, record
    )


def _run(
    svc: Service, member: str, key: Key, attrs: dict[str, Any], data: bytes, encrypting: bool, where: Where
) -> bytes:
    return CIPHERS[member](Job(svc, key, attrs, data, encrypting, where))


def _one_way(svc: Service, ctx: Context, params: dict[str, Any], op: str, encrypting: bool) -> dict[str, Any]:
    union = "EncryptionAttributes" if encrypting else "DecryptionAttributes"
    data_member, out_member = ("PlainText", "CipherText") if encrypting else ("CipherText", "PlainText")
    member, attrs = unions.member(params[union])
    unions.handler(op, union, member, CIPHERS)
    key = _key(
        svc, ctx, op, member, params["KeyIdentifier"], "KeyIdentifier", params.get("WrappedKey"), "WrappedKey"
    )
    where = Where(f"{union}.{member}", data_member)
    result = _run(svc, member, key, attrs, bytes.fromhex(params[data_member]), encrypting, where)
    return {"KeyArn": key.arn, "KeyCheckValue": key.key_check_value, out_member: result.hex().upper()}


def encrypt_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _one_way(svc, ctx, params, "EncryptData", encrypting=True)


def decrypt_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _one_way(svc, ctx, params, "DecryptData", encrypting=False)


def re_encrypt_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "ReEncryptData"
    in_member, in_attrs = unions.member(params["IncomingEncryptionAttributes"])
    out_member, out_attrs = unions.member(params["OutgoingEncryptionAttributes"])
    unions.handler(op, "IncomingEncryptionAttributes", in_member, CIPHERS)
    unions.handler(op, "OutgoingEncryptionAttributes", out_member, CIPHERS)
    incoming = _key(
        svc,
        ctx,
        op,
        in_member,
        params["IncomingKeyIdentifier"],
        "IncomingKeyIdentifier",
        params.get("IncomingWrappedKey"),
        "IncomingWrappedKey",
    )
    outgoing = _key(
        svc,
        ctx,
        op,
        out_member,
        params["OutgoingKeyIdentifier"],
        "OutgoingKeyIdentifier",
        params.get("OutgoingWrappedKey"),
        "OutgoingWrappedKey",
    )
    where_in = Where(f"IncomingEncryptionAttributes.{in_member}", "CipherText", padding_required=True)
    where_out = Where(
        f"OutgoingEncryptionAttributes.{out_member}",
        "CipherText",
        data_is="the data decrypted from CipherText",
        padding_required=True,
    )
    clear = _run(svc, in_member, incoming, in_attrs, bytes.fromhex(params["CipherText"]), False, where_in)
    result = _run(svc, out_member, outgoing, out_attrs, clear, True, where_out)
    return {
        "KeyArn": outgoing.arn,
        "KeyCheckValue": outgoing.key_check_value,
        "CipherText": result.hex().upper(),
    }
