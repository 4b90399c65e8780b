"""crypto.primitives.CipherKey: a key with ECB contexts built once and reused, which must encipher
every call exactly as a fresh context does, refuse what would leave state behind, and not show or
pickle the key it holds.

Published known answers: FIPS 197 Appendix C.1 (AES-128: key 000102…0F, plaintext 0011…FF,
ciphertext 69C4E0D86A7B0430D8CDB78070B4C55A) and NIST SP 800-67 Rev. 2 Appendix B (TDEA, three keys
0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123, plaintext "The qufck brown fox jump",
ciphertext A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900). The oracle for everything else is
a fresh `cryptography` context per call (psec's single-DES and TDES functions for the DES parts).
"""

from __future__ import annotations

import copy
import pickle
import secrets
import threading

import psec.des
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import primitives as p

AES_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AES_PLAIN = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AES_CIPHER = bytes.fromhex("69C4E0D86A7B0430D8CDB78070B4C55A")
TDEA_KEY = bytes.fromhex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")
TDEA_PLAIN = b"The qufck brown fox jump"
TDEA_CIPHER = bytes.fromhex("A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900")


def fresh(key: bytes, data: bytes, encrypt: bool, aes: bool = False) -> bytes:
    """The one-shot answer: a new Cipher and context for this call only, finalized."""
    algorithm = p.algorithms.AES(key) if aes else p._tdes(key)
    cipher = p.Cipher(algorithm, p.modes.ECB())
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    return context.update(data) + context.finalize()


def test_published_answers_and_again_on_the_kept_contexts() -> None:
    aes, tdea = p.CipherKey(AES_KEY), p.CipherKey(TDEA_KEY)
    for _ in range(3):  # the same contexts, three times over
        assert aes.aes_encrypt(AES_PLAIN) == AES_CIPHER
        assert aes.aes_decrypt(AES_CIPHER) == AES_PLAIN
        assert tdea.tdes_encrypt(TDEA_PLAIN) == TDEA_CIPHER
        assert tdea.tdes_decrypt(TDEA_CIPHER) == TDEA_PLAIN


@given(
    key=st.sampled_from([16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    blocks=st.lists(st.binary(min_size=8, max_size=8), min_size=1, max_size=4),
    calls=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=6),
)
def test_tdes_contexts_reused_across_calls_match_fresh_ones(
    key: bytes, blocks: list[bytes], calls: list[int]
) -> None:
    kept = p.CipherKey(key)
    for n in calls:
        data = b"".join(blocks[:n])
        assert kept.tdes_encrypt(data) == fresh(key, data, True)
        assert kept.tdes_decrypt(data) == fresh(key, data, False)
        assert p.tdes_ecb_encrypt(kept, data) == p.tdes_ecb_encrypt(key, data) == fresh(key, data, True)


@given(
    key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    data=st.binary(min_size=16, max_size=64).map(lambda b: b[: len(b) // 16 * 16]),
)
def test_aes_contexts_match_fresh_ones(key: bytes, data: bytes) -> None:
    kept = p.CipherKey(key)
    for _ in range(2):
        assert kept.aes_encrypt(data) == fresh(key, data, True, aes=True)
        assert kept.aes_decrypt(data) == fresh(key, data, False, aes=True)


@given(key=st.binary(min_size=16, max_size=16), block=st.binary(min_size=8, max_size=8))
def test_single_des_parts_are_the_k1_k2_k1_parts(key: bytes, block: bytes) -> None:
    kept = p.CipherKey(key)
    for part, single in enumerate((key[:8], key[8:], key[:8])):
        assert kept.des_encrypt(part, block) == psec.des.encrypt_tdes_ecb(single * 2, block)
        assert kept.des_decrypt(part, block) == psec.des.decrypt_tdes_ecb(single * 2, block)


def test_a_partial_block_is_refused_and_leaves_nothing_behind() -> None:
    kept = p.CipherKey(TDEA_KEY)
    with pytest.raises(ValueError, match="not a multiple of the block length"):
        kept.tdes_encrypt(TDEA_PLAIN[:5])
    with pytest.raises(ValueError, match="not a multiple of the block length"):
        p.tdes_ecb_decrypt(kept, TDEA_CIPHER[:12])
    assert kept.tdes_encrypt(TDEA_PLAIN) == TDEA_CIPHER  # nothing of the refused data is buffered
    assert kept.tdes_decrypt(TDEA_CIPHER) == TDEA_PLAIN
    with pytest.raises(ValueError, match="not a multiple of the block length"):
        p.CipherKey(AES_KEY).aes_encrypt(AES_PLAIN[:8])
    with pytest.raises(ValueError, match="not a multiple of the block length"):
        p.tdes_ecb_encrypt(TDEA_KEY, b"short")  # plain bytes: the same refusal as before


def test_a_bad_key_length_is_a_value_error_as_before() -> None:
    with pytest.raises(ValueError, match="TDES key must be 8, 16 or 24 bytes"):
        p.CipherKey(bytes(10)).tdes_encrypt(bytes(8))
    with pytest.raises(ValueError):
        p.CipherKey(bytes(10)).aes_encrypt(bytes(16))


def test_plain_bytes_and_a_cipher_key_are_both_keys() -> None:
    kept = p.CipherKey(TDEA_KEY)
    assert p.cipher_key(kept) is kept
    assert p.cipher_key(TDEA_KEY).key == TDEA_KEY and p.cipher_key(TDEA_KEY) is not kept
    assert p.key_bytes(kept) is TDEA_KEY and p.key_bytes(TDEA_KEY) is TDEA_KEY
    assert len(kept) == 24


def test_the_key_is_neither_shown_nor_pickled_nor_copied() -> None:
    key = secrets.token_bytes(16)
    kept = p.CipherKey(key)
    kept.tdes_encrypt(bytes(8))
    shown = repr(kept) + str(kept)
    assert key.hex() not in shown.lower() and key.hex().upper() not in shown and repr(key) not in shown
    assert shown.startswith("CipherKey(<16 bytes>)")
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(kept)
    with pytest.raises(TypeError, match="not pickled"):
        copy.deepcopy(kept)


def test_threads_sharing_one_key_each_get_their_own_answers() -> None:
    """The key cache hands one CipherKey to every thread using the key (the event loop and the
    heavy-call pool), and `update` releases the GIL while OpenSSL works (a context entered by
    two threads at once raises "Already borrowed"): calls made together must each get their own
    answer. Some inputs are large, so a call is often inside `update` when another starts."""
    key = secrets.token_bytes(16)
    kept = p.CipherKey(key)
    inputs = [secrets.token_bytes(8 * (1 + i % 8) * (4096 if i % 4 == 0 else 1)) for i in range(32)]
    expected = [fresh(key, data, True) for data in inputs]
    errors: list[str] = []
    barrier = threading.Barrier(6)

    def work(offset: int) -> None:
        barrier.wait()
        for n in range(400):
            i = (n + offset) % len(inputs)
            try:
                if kept.tdes_encrypt(inputs[i]) != expected[i] or kept.tdes_decrypt(expected[i]) != inputs[i]:
                    errors.append(f"call {n} of thread {offset}: a wrong answer")
            except RuntimeError as exc:
                errors.append(f"call {n} of thread {offset}: {exc}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
