"""The PKCS#11 vault (src/paycrypt/vault/pkcs11.py) on this run's SoftHSM2 token (tests/softhsm.py):
envelopes, the master key that cannot leave the token, the check value computed in the token, and
a clear refusal for every way the token, its PIN or its key can be wrong, never a fallback.

Independent oracles: psec's TR-31 implementation opens each block with the KBPK the token unwraps,
and `cryptography`'s AES-CMAC computes the check value of a key whose value the test chose.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import pkcs11 as p11lib
import psec
import pytest
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from paycrypt.crypto import keygen, tr31
from paycrypt.errors import InternalServer
from paycrypt.vault import blocks, factory
from paycrypt.vault import pkcs11 as vault_pkcs11
from paycrypt.vault.base import Vault
from paycrypt.vault.local import MasterKeyVault
from tests.softhsm import SPARE_TOKENS, SoftHsm
from tests.vault.test_sealing import cmac_check_value, record

SPARE = SPARE_TOKENS[0]


@pytest.fixture(scope="module")
def vault(softhsm: SoftHsm) -> vault_pkcs11.Pkcs11Vault:
    opened = factory.open_vault(softhsm.vault_settings(), Path("/nonexistent"))
    assert isinstance(opened, vault_pkcs11.Pkcs11Vault)
    return opened


def session(softhsm: SoftHsm, token: str) -> object:
    """This process's logged-in session of `token` (PKCS#11 logs in a process, not a session)."""
    return vault_pkcs11.login(vault_pkcs11.TokenConfig(softhsm.module, token, "unused"), softhsm.pin).session


def master_key(softhsm: SoftHsm) -> object:
    return session(softhsm, softhsm.token_label).get_key(
        object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=factory.KEY_LABEL
    )


def test_it_is_a_vault(vault: vault_pkcs11.Pkcs11Vault) -> None:
    assert isinstance(vault, Vault)
    assert len(vault.key_id) == 10 and int(vault.key_id, 16) >= 0


def test_round_trip_with_an_envelope_psec_opens(vault: vault_pkcs11.Pkcs11Vault) -> None:
    material = keygen.generate("TDES_2KEY")
    rec = record()
    rec.key_block = vault.seal(rec, material)
    assert vault.unseal(rec, rec.key_block) == material
    assert material.hex().upper() not in rec.key_block
    envelope = blocks.envelope(rec.key_block)
    assert envelope is not None and envelope.master_id == vault.key_id == vault.sealed_by(rec.key_block)
    assert len(envelope.wrapped_kbpk) == 40  # RFC 5649: a 32-byte key wraps to 40 bytes
    # The block's own KBPK, unwrapped by the token: KP names it (X9.143), and psec opens the block.
    kbpk = vault.token.unwrap(envelope.wrapped_kbpk)
    assert tr31.parse_header(rec.key_block).header.optional_block("KP") == "01" + cmac_check_value(kbpk)
    header, key = psec.tr31.unwrap(kbpk, rec.key_block)
    assert key == material and header.version_id == "D"


def test_every_block_has_a_kbpk_of_its_own(vault: vault_pkcs11.Pkcs11Vault) -> None:
    """Not one KBPK (nor one derived KBEK/KBMK) for all blocks: that would be a master-equivalent
    key in memory."""
    material = keygen.generate("TDES_2KEY")
    wrapped = set()
    for _ in range(5):
        envelope = blocks.envelope(vault.seal(record(), material))
        assert envelope is not None
        wrapped.add(vault.token.unwrap(envelope.wrapped_kbpk))
    assert len(wrapped) == 5


def test_the_master_key_cannot_leave_the_token(softhsm: SoftHsm, vault: vault_pkcs11.Pkcs11Vault) -> None:
    """`paycrypt vault init` made it sensitive and non-extractable: reading its value, wrapping it
    out under another key, and making it extractable all fail in the token."""
    key = master_key(softhsm)
    assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.NEVER_EXTRACTABLE] is True and key[Attribute.ALWAYS_SENSITIVE] is True
    with pytest.raises(p11.AttributeSensitive):
        key[Attribute.VALUE]
    other = session(softhsm, softhsm.token_label).generate_key(
        KeyType.AES, 256, store=False, template={Attribute.WRAP: True}
    )
    with pytest.raises(p11.KeyUnextractable):
        other.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)
    with pytest.raises(p11.PKCS11Error):
        key[Attribute.EXTRACTABLE] = True
    assert master_key(softhsm)[Attribute.EXTRACTABLE] is False
    # Nothing of the vault holds it either: only a handle and its check value.
    assert not any(isinstance(value, bytes) and len(value) == 32 for value in vars(vault).values())


def test_the_check_value_is_the_cmac_one_computed_in_the_token(softhsm: SoftHsm) -> None:
    """A key of known value put into a token: the vault's key_id is AES-CMAC of the zero block
    (X9.24-1 Annex A), the file vault's algorithm, so a master key moved between vaults keeps its name."""
    known = secrets.token_bytes(32)
    template = {**vault_pkcs11.MASTER_KEY_TEMPLATE, Attribute.LABEL: "known", Attribute.VALUE: known}
    template.update({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES})
    session(softhsm, SPARE).create_object(template)
    vault = factory.open_vault(
        softhsm.vault_settings(token_label=SPARE, key_label="known"), Path("/nonexistent")
    )
    assert vault.key_id == cmac_check_value(known) == MasterKeyVault(known).key_id


def test_the_data_plane_calls_the_token_once_per_key(vault: vault_pkcs11.Pkcs11Vault) -> None:
    from paycrypt.vault.keycache import KeyCache

    cache = KeyCache(vault)
    rec = record()
    rec.key_block = vault.seal(rec, keygen.generate("TDES_2KEY"))
    before = vault.token.calls
    for _ in range(50):
        cache.material(rec)
    assert vault.token.calls - before == 1


def test_a_tampered_block_is_refused(vault: vault_pkcs11.Pkcs11Vault) -> None:
    rec = record()
    rec.key_block = vault.seal(rec, keygen.generate("TDES_2KEY"))
    envelope = blocks.envelope(rec.key_block)
    assert envelope is not None
    # The key data changed: the block's MAC fails.
    at = len(rec.key_block) - 40
    flipped = rec.key_block[:at] + ("0" if rec.key_block[at] != "0" else "1") + rec.key_block[at + 1 :]
    with pytest.raises(InternalServer, match="failed its integrity check"):
        vault.unseal(rec, flipped)
    # The wrapped KBPK changed: key wrap's integrity check fails in the token.
    bad = blocks.Envelope(
        envelope.master_id, envelope.wrapped_kbpk[:-1] + bytes([envelope.wrapped_kbpk[-1] ^ 1])
    )
    swapped = rec.key_block.replace(envelope.value(), bad.value())
    with pytest.raises(InternalServer, match=r"PKCS#11 token failed to unwrap .*\(\w+\)"):
        vault.unseal(rec, swapped)
    # An envelope of a method paycrypt does not know is refused before the token is asked.
    unknown = rec.key_block.replace(envelope.value(), "02" + envelope.value()[2:])
    with pytest.raises(InternalServer, match="wraps its protection key in an unknown form"):
        vault.unseal(rec, unknown)
    # Another block's envelope: its KBPK does not open this block.
    other = blocks.envelope(vault.seal(record(), keygen.generate("TDES_2KEY")))
    assert other is not None
    with pytest.raises(InternalServer, match="failed its integrity check"):
        vault.unseal(rec, rec.key_block.replace(envelope.value(), other.value()))


def test_a_block_under_another_master_key_is_refused_by_name(
    softhsm: SoftHsm, vault: vault_pkcs11.Pkcs11Vault
) -> None:
    rec = record()
    for foreign in (MasterKeyVault(secrets.token_bytes(32)), _spare_vault(softhsm)):
        rec.key_block = foreign.seal(rec, keygen.generate("TDES_2KEY"))
        assert vault.sealed_by(rec.key_block) == foreign.key_id != vault.key_id
        with pytest.raises(InternalServer, match="sealed under a master key this vault does not hold"):
            vault.unseal(rec, rec.key_block)


def _spare_vault(softhsm: SoftHsm) -> Vault:
    settings = softhsm.vault_settings(token_label=SPARE, key_label="spare-master")
    with contextlib.suppress(factory.VaultUnavailable):  # made by an earlier test of this run
        factory.create_master_key(settings, Path("/nonexistent"))
    return factory.open_vault(settings, Path("/nonexistent"))


def test_init_refuses_a_second_key_of_the_same_label(softhsm: SoftHsm) -> None:
    with pytest.raises(factory.VaultUnavailable, match="already holds a key labelled 'paycrypt-master'"):
        factory.create_master_key(softhsm.vault_settings(), Path("/nonexistent"))


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({Attribute.EXTRACTABLE: True}, r"is extractable \(CKA_EXTRACTABLE true\)"),
        ({Attribute.SENSITIVE: False}, r"is not sensitive \(CKA_SENSITIVE false\)"),
        ({Attribute.SIGN: False}, r"cannot compute its check value"),
        ({Attribute.UNWRAP: False}, r"cannot unwrap"),
    ],
)
def test_an_existing_key_unfit_to_be_the_master_key_is_refused(
    softhsm: SoftHsm, changes: dict, why: str
) -> None:
    label = f"unfit-{secrets.token_hex(4)}"
    template = {**vault_pkcs11.MASTER_KEY_TEMPLATE, Attribute.LABEL: label, **changes}
    session(softhsm, SPARE).generate_key(KeyType.AES, 256, label=label, store=True, template=template)
    with pytest.raises(factory.VaultUnavailable, match=f"the master key key '{label}' in token .* {why}"):
        factory.open_vault(softhsm.vault_settings(token_label=SPARE, key_label=label), Path("/nonexistent"))


def test_an_aes_128_master_key_is_refused(softhsm: SoftHsm) -> None:
    template = {**vault_pkcs11.MASTER_KEY_TEMPLATE, Attribute.LABEL: "short"}
    session(softhsm, SPARE).generate_key(KeyType.AES, 128, label="short", store=True, template=template)
    with pytest.raises(factory.VaultUnavailable, match="is not an AES-256 key"):
        factory.open_vault(softhsm.vault_settings(token_label=SPARE, key_label="short"), Path("/nonexistent"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"token_label": "no-such-token"},
            r"no token labelled 'no-such-token' in .* \(tokens present: .*'paycrypt-tests'",
        ),
        (
            {"key_label": "no-such-key"},
            r"no AES key labelled 'no-such-key' in token 'paycrypt-tests': create it",
        ),
        ({"module": Path("/nonexistent/libpkcs11.so")}, r"no PKCS#11 module at /nonexistent/libpkcs11.so"),
        ({"token_label": None}, r"needs --pkcs11-module and --pkcs11-token"),
        ({"pin_file": None, "pin_variable": "PAYCRYPT_TEST_UNSET_PIN"}, r"PAYCRYPT_TEST_UNSET_PIN.*not set"),
    ],
)
def test_what_cannot_be_opened_is_said(softhsm: SoftHsm, changes: dict, message: str) -> None:
    with pytest.raises(factory.VaultUnavailable, match=message):
        factory.open_vault(softhsm.vault_settings(**changes), Path("/nonexistent"))


def test_a_pin_other_than_the_one_logged_in_is_refused(
    softhsm: SoftHsm, vault: object, tmp_path: Path
) -> None:
    """In a process already logged in (PKCS#11 logs in a process, and a second C_Login does not
    check the PIN), the PIN is still checked, against the one that logged in."""
    wrong = tmp_path / "wrong.pin"
    wrong.touch(mode=0o600)
    wrong.write_text("not-the-pin\n")
    with pytest.raises(
        factory.VaultUnavailable, match="the PIN for token 'paycrypt-tests' was refused"
    ) as info:
        factory.open_vault(softhsm.vault_settings(pin_file=wrong), Path("/nonexistent"))
    assert "not-the-pin" not in str(info.value)


def test_the_pin_comes_from_the_environment_or_a_private_file(
    softhsm: SoftHsm, vault: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCRYPT_TEST_PIN", softhsm.pin)
    opened = factory.open_vault(
        softhsm.vault_settings(pin_file=None, pin_variable="PAYCRYPT_TEST_PIN"), tmp_path
    )
    assert opened.key_id == vault.key_id  # type: ignore[attr-defined]
    readable = tmp_path / "readable.pin"
    readable.write_text(softhsm.pin)
    readable.chmod(0o644)
    with pytest.raises(factory.VaultUnavailable, match="must not be readable by group or others") as info:
        factory.open_vault(softhsm.vault_settings(pin_file=readable), tmp_path)
    assert softhsm.pin not in str(info.value)


def test_the_library_is_the_one_module_path_loads(softhsm: SoftHsm) -> None:
    assert (
        p11lib.lib(str(softhsm.module)).get_token(token_label=softhsm.token_label).label
        == softhsm.token_label
    )
