"""The key cache (src/paycrypt/vault/keycache.py): each key unsealed once, what is derived from it
built once, forget(arn) dropping all of a key, the bound held by evicting the least recently used
entry one at a time, a changed block never served from the cache, and all of it thread-safe; a
key's cipher contexts (its CipherKey) built once, in the material's entry, and gone with it."""

from __future__ import annotations

import dataclasses
import gc
import random
import secrets
import threading
import weakref
from collections import Counter
from pathlib import Path

import pytest

from paycrypt import defaults
from paycrypt.crypto import cvv, keygen, primitives
from paycrypt.crypto.primitives import CipherKey
from paycrypt.errors import InternalServer
from paycrypt.server import Settings, build_app
from paycrypt.service.issuer import card_validation
from paycrypt.service.keys import lifecycle
from paycrypt.store.records import KeyRecord
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault
from tests.service import stored_keys
from tests.vault.test_sealing import record


class CountingVault(MasterKeyVault):
    """A vault that counts its unseals per ARN (what the cache saves), optionally holding each
    unseal until `release` is set."""

    def __init__(self) -> None:
        super().__init__(secrets.token_bytes(32))
        self.unseals: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.entered = threading.Event()
        self.release: threading.Event | None = None

    def unseal(self, rec: KeyRecord, block: str) -> bytes:
        with self._lock:
            self.unseals[rec.arn] += 1
        if self.release is not None:
            self.entered.set()
            assert self.release.wait(10)
        return super().unseal(rec, block)


def stored(vault: MasterKeyVault, name: str, material: bytes | None = None) -> KeyRecord:
    rec = record(arn=f"arn:aws:payment-cryptography:us-east-1:111122223333:key/{name:0>16}")
    rec.key_block = vault.seal(rec, material or keygen.generate("TDES_2KEY"))
    return rec


def test_a_key_is_unsealed_once() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    first = cache.material(rec)
    assert all(cache.material(rec) is first for _ in range(5))
    assert vault.unseals[rec.arn] == 1 and len(cache) == 1
    assert cache.holds(rec.arn)


def test_a_derived_object_is_built_once_from_the_cached_material() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    built: list[bytes] = []

    def build(material: bytes) -> bytes:
        built.append(material)
        return material[::-1]

    assert cache.derived(rec, ("reversed", 1), build) == cache.material(rec)[::-1]
    assert cache.derived(rec, ("reversed", 1), build) == cache.material(rec)[::-1]
    assert cache.derived(rec, ("reversed", 2), build) == cache.material(rec)[::-1]
    assert len(built) == 2 and vault.unseals[rec.arn] == 1 and len(cache) == 3


def test_a_failing_build_caches_nothing() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")

    def refuse(material: bytes) -> bytes:
        raise ValueError("bad KSN")

    with pytest.raises(ValueError, match="bad KSN"):
        cache.derived(rec, "ksn", refuse)
    assert len(cache) == 1  # the material, unsealed on the way; not the failed derivation
    assert cache.derived(rec, "ksn", lambda m: b"ok") == b"ok"


def test_a_block_that_fails_to_unseal_caches_nothing() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    rec.key_block = rec.key_block[:-1] + ("0" if rec.key_block[-1] != "0" else "1")
    for _ in range(2):
        with pytest.raises(InternalServer):
            cache.material(rec)
    assert len(cache) == 0 and vault.unseals[rec.arn] == 2


def test_forget_drops_every_entry_of_one_key_and_the_next_use_unseals_again() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    a, b = stored(vault, "a"), stored(vault, "b")
    for rec in (a, b):
        cache.material(rec)
        cache.derived(rec, "parsed", bytes)
        cache.derived(rec, ("dukpt", b"\x01"), bytes)
    assert len(cache) == 6
    cache.forget(a.arn)
    assert len(cache) == 3 and not cache.holds(a.arn) and cache.holds(b.arn)
    cache.forget(a.arn)  # forgetting an absent key is a no-op
    cache.derived(a, "parsed", bytes)
    cache.material(b)
    assert vault.unseals == {a.arn: 2, b.arn: 1}


def test_the_bound_holds_and_the_least_recently_used_entry_goes_first() -> None:
    vault = CountingVault()
    cache = KeyCache(vault, entries=3)
    records = [stored(vault, name) for name in "abcde"]
    a, b, c, d, e = records
    for rec in (a, b, c):
        cache.material(rec)
    cache.material(a)  # a is now the most recently used: b is the least
    cache.material(d)
    assert len(cache) == 3 and not cache.holds(b.arn)
    assert [cache.holds(rec.arn) for rec in records] == [True, False, True, True, False]
    cache.material(e)  # one more: exactly one goes (c, the least recently used now)
    assert [cache.holds(rec.arn) for rec in records] == [True, False, False, True, True]
    cache.material(b)
    assert vault.unseals[b.arn] == 2 and vault.unseals[a.arn] == 1


def test_eviction_is_one_entry_at_a_time_across_kinds() -> None:
    vault = CountingVault()
    cache = KeyCache(vault, entries=4)
    rec = stored(vault, "a")
    for n in range(1, 20):
        cache.derived(rec, ("dukpt", n), lambda m, n=n: m + bytes([n]))
        assert len(cache) == min(n + 1, 4)  # the material plus the derivations, never more than 4
    assert cache.holds(rec.arn)
    cache.forget(rec.arn)
    assert len(cache) == 0


def test_a_record_whose_block_changed_is_unsealed_again() -> None:
    """Re-sealed (rotation, possibly on another node): the entry of the old block is not served."""
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    material = cache.material(rec)
    parsed = cache.derived(rec, "parsed", bytearray)
    resealed = dataclasses.replace(rec, key_block=vault.reseal(rec, rec.key_block))
    vault.unseals.clear()
    assert cache.material(resealed) == material
    assert cache.derived(resealed, "parsed", bytearray) == parsed
    assert vault.unseals[rec.arn] == 1  # once, for the new block; the parsed form built from it
    assert len(cache) == 2  # the old block's entries were replaced, not kept beside


def test_a_value_computed_while_its_key_was_forgotten_is_returned_but_not_kept() -> None:
    """DeleteKey's forget runs while a request is unsealing the key: the request gets its key, and
    the cache does not hold it afterwards."""
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    vault.release = threading.Event()
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(cache.material(rec)))
    reader.start()
    assert vault.entered.wait(10)
    cache.forget(rec.arn)
    vault.release.set()
    reader.join(10)
    vault.release = None
    assert len(results) == 1 and not cache.holds(rec.arn)
    assert cache.material(rec) == results[0] and vault.unseals[rec.arn] == 2


def test_threads_sharing_a_cache_get_the_right_keys_and_the_bound_holds() -> None:
    vault = CountingVault()
    materials = [keygen.generate("AES_128") for _ in range(40)]
    records = [stored(vault, f"k{i}", material) for i, material in enumerate(materials)]
    cache = KeyCache(vault, entries=25)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for _ in range(2000):
                i = rng.randrange(len(records))
                action = rng.random()
                if action < 0.6:
                    assert cache.material(records[i]) == materials[i]
                elif action < 0.95:
                    kind = ("dukpt", rng.randrange(4))
                    assert cache.derived(records[i], kind, lambda m: m + b"!") == materials[i] + b"!"
                else:
                    cache.forget(records[i].arn)
                assert len(cache) <= 25
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(cache) <= 25
    # The index by ARN agrees with the table: forget(arn) leaves nothing of that key behind.
    for rec in records:
        cache.forget(rec.arn)
    assert len(cache) == 0


def test_the_bound_is_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        KeyCache(MasterKeyVault(secrets.token_bytes(32)), entries=0)


def test_the_server_builds_one_cache_of_the_configured_size(tmp_path: Path) -> None:
    built = build_app(Settings(port=1, data_dir=tmp_path / "data", key_cache_entries=7))
    assert built.service.keycache.entries == 7
    assert built.service.vault is built.service.keycache.vault
    default = build_app(Settings(port=1, data_dir=tmp_path / "other"))
    assert default.service.keycache.entries == defaults.KEY_CACHE_ENTRIES


# --- cipher contexts: in the material's entry, dropped with it ------------------------------------


def _contexts_built(cache: KeyCache, rec: KeyRecord) -> weakref.ref[CipherKey]:
    """The key's CipherKey from the cache, with a TDES context built in it; only a weak reference
    is returned, so the cache is the one holding it."""
    kept = cache.cipher_key(rec)
    assert kept.tdes_encrypt(bytes(8)) == primitives.tdes_ecb_encrypt(kept.key, bytes(8))
    return weakref.ref(kept)


def _gone(ref: weakref.ref[CipherKey]) -> bool:
    gc.collect()
    return ref() is None


def test_a_key_s_cipher_contexts_are_built_once_in_its_material_entry() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    kept = cache.cipher_key(rec)
    assert cache.cipher_key(rec) is kept and cache.material(rec) is kept.key
    assert len(cache) == 1 and vault.unseals[rec.arn] == 1  # one entry: the material and its contexts
    kept.tdes_encrypt(bytes(8))
    built = list(kept._contexts)
    for _ in range(3):
        cache.cipher_key(rec).tdes_encrypt(bytes(8))
    assert kept._contexts == built  # the same context objects: built once
    assert sum(context is not None for context in built) == 1


def test_forget_drops_the_cipher_contexts_with_the_material() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    a, b = stored(vault, "a"), stored(vault, "b")
    ref_a, ref_b = _contexts_built(cache, a), _contexts_built(cache, b)
    cache.forget(a.arn)
    assert _gone(ref_a) and not _gone(ref_b)
    assert cache.cipher_key(a) is not None and vault.unseals[a.arn] == 2  # the next use unseals again


def test_forget_all_drops_every_key_s_cipher_contexts() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    refs = [_contexts_built(cache, stored(vault, name)) for name in "abc"]
    cache.forget_all()
    assert all(_gone(ref) for ref in refs)


def test_eviction_drops_the_evicted_key_s_cipher_contexts() -> None:
    vault = CountingVault()
    cache = KeyCache(vault, entries=2)
    a, b, c = (stored(vault, name) for name in "abc")
    ref_a = _contexts_built(cache, a)
    ref_b = _contexts_built(cache, b)
    cache.material(c)  # a is the least recently used: it goes, contexts and all
    assert _gone(ref_a) and not _gone(ref_b) and not cache.holds(a.arn)


def test_a_changed_block_gets_new_cipher_contexts_and_the_old_ones_go() -> None:
    vault = CountingVault()
    cache = KeyCache(vault)
    rec = stored(vault, "a")
    ref = _contexts_built(cache, rec)
    resealed = dataclasses.replace(rec, key_block=vault.reseal(rec, rec.key_block))
    fresh = cache.cipher_key(resealed)
    assert _gone(ref) and fresh.key == cache.material(resealed)


def test_the_service_enciphers_with_the_cached_contexts_and_forgets_them_with_the_key(
    tmp_path: Path,
) -> None:
    """A CVV2 verify builds the CVK's contexts once; StopKeyUsage (a change of the key's state)
    forgets the key, and its contexts with it."""
    svc = stored_keys.new_service(tmp_path / "store.db")
    ctx = stored_keys.context(svc)
    cvk = keygen.generate("TDES_2KEY")
    arn = stored_keys.put(svc, cvk, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", stored_keys.GEN_VERIFY)
    params = {
        "KeyIdentifier": arn,
        "PrimaryAccountNumber": "4111111111111111",
        "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1228"}},
        "ValidationData": cvv.cvv(cvk, "4111111111111111", "1228", "000"),
    }
    card_validation.verify_card_validation_data(svc, ctx, params)
    kept = svc.keycache.cipher_key(svc.store.get_key(arn))
    built = list(kept._contexts)
    assert sum(context is not None for context in built) == 2  # DES under KA, TDES under KA‖KB
    for _ in range(3):
        card_validation.verify_card_validation_data(svc, ctx, params)
    assert svc.keycache.cipher_key(svc.store.get_key(arn)) is kept and kept._contexts == built
    ref = weakref.ref(kept)
    del kept, built
    lifecycle.stop_key_usage(svc, ctx, {"KeyIdentifier": arn})
    assert _gone(ref) and not svc.keycache.holds(arn)
