"""Key ids: 16 characters of [a-z0-9], every position drawn from all 36 (service/identifiers.py)."""

from __future__ import annotations

import re
from collections import Counter

from paycrypt.service.identifiers import ID_ALPHABET, new_key_id


def test_key_ids_use_every_character_at_every_position() -> None:
    ids = [new_key_id() for _ in range(7200)]
    assert all(re.fullmatch(r"[a-z0-9]{16}", key_id) for key_id in ids)
    assert len(set(ids)) == len(ids)
    for position in range(16):
        counts = Counter(key_id[position] for key_id in ids)
        assert set(counts) == set(ID_ALPHABET), position
        # 200 expected per character; a position stuck on part of the alphabet is far outside this
        assert min(counts.values()) > 120 and max(counts.values()) < 290, (position, counts.most_common(3))
