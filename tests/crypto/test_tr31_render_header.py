"""tr31.render_header: the clear header of the block `wrap` would make (used in TR-34 blocks).

Vectors: the headers AWS emits (seed-B §5.2/§7.3): `D0112K0TB00E0000` for a TDES key (the real
TR-34 export in awscli's export-key.rst), `D0144K0AB00E0000` for an AES key and `B0096B1TX00S0000`
for a TDES IPEK (the guide's examples), all with the service's key-length masking.
"""

from __future__ import annotations

import secrets

import psec
import pytest

from paycrypt.crypto import tr31


@pytest.mark.parametrize(
    ("header", "key_length", "expected"),
    [
        (tr31.Header("D", "K0", "T", "B", "00", "E"), 16, "D0112K0TB00E0000"),
        (tr31.Header("D", "K0", "A", "B", "00", "E"), 16, "D0144K0AB00E0000"),
        (tr31.Header("B", "B1", "T", "X", "00", "S"), 16, "B0096B1TX00S0000"),
    ],
)
def test_aws_headers(header: tr31.Header, key_length: int, expected: str) -> None:
    assert tr31.render_header(header, key_length) == expected


@pytest.mark.parametrize("key_length", [16, 24, 32])
def test_matches_wrap_and_psec(key_length: int) -> None:
    header = tr31.Header("D", "D0", "A", "B", "01", "E", optional_blocks=(("KS", "00604B120F9292800000"),))
    key = secrets.token_bytes(key_length)
    kbpk = secrets.token_bytes(32)
    block = tr31.wrap(kbpk, header, key)
    text = tr31.render_header(header, key_length)
    assert text[:16] == block[:16]  # same length field, counts and fields as the real block
    assert len(text) == tr31.parse_header(block).header_length
    assert psec.tr31.wrap(kbpk, text, key)[:16] == text[:16]  # psec computes the same length
