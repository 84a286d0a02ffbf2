"""Stable, pronounceable dataset ids (BIL style, e.g. ``bak-tuv-mer``) derived from the source path."""

from __future__ import annotations

import hashlib

_ONSETS = "bdfghjklmnprstvz"
_VOWELS = "aeiou"
_CODAS = "bdgklmnprstvxz"
# 16 * 5 * 14 = 1120 syllables; three of them give 1.4e9 ids
WORDS = [o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS]


def dataset_id(source_key: str, attempt: int = 0) -> str:
    """Three words from a hash of ``source_key``; ``attempt`` > 0 picks another id after a collision."""
    digest = hashlib.sha256(f"{source_key}\0{attempt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    words = []
    for _ in range(3):
        number, rest = divmod(number, len(WORDS))
        words.append(WORDS[rest])
    return "-".join(words)


def looks_like_id(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 3 and all(p in _WORD_SET for p in parts)


_WORD_SET = frozenset(WORDS)
