"""Canonical key parts shared by the zarr v2 and v3 layouts: a key is served only if it re-encodes
to exactly the same string, so ``00`` or ``+1`` is a malformed key, never a guess."""

from __future__ import annotations

from collections.abc import Sequence

from writers.errors import MalformedKey, NoSuchKey
from writers.spec import ImageSpec

#: digits of the largest number any URL may carry: 2**63 has 19, so every index and size fits in int64,
#: and ``int()`` never meets a string long enough to be slow or to raise (it refuses over 4,300 digits)
MAX_DIGITS = 19
_ASCII_DIGITS = frozenset("0123456789")


def decimal(text: str) -> int | None:
    """``text`` as a non-negative integer if it is spelt canonically (ASCII digits, no sign, space,
    underscore or leading zero, at most :data:`MAX_DIGITS` digits), else None.

    ``str.isdigit`` is not enough: it accepts ``²``, ``①`` and ``١``, and ``int()`` accepts ``" 1"``,
    ``"+1"`` and ``"1_0"``.
    """
    if not 0 < len(text) <= MAX_DIGITS or not _ASCII_DIGITS.issuperset(text) or (len(text) > 1 and text[0] == "0"):
        return None
    return int(text)


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut short: a hostile URL is not echoed back whole."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def canonical_int(text: str, key: str) -> int:
    value = decimal(text)
    if value is None:
        raise MalformedKey(f"{shown(key)}: {shown(text)} is not a canonical chunk index")
    return value


def level_index(text: str, key: str, spec: ImageSpec) -> int:
    """The pyramid level a key names; 404 past the last level."""
    level = canonical_int(text, key)
    if level >= len(spec.levels):
        raise NoSuchKey(f"level {level} does not exist (levels 0..{len(spec.levels) - 1})")
    return level


def chunk_index(parts: Sequence[str], key: str, spec: ImageSpec, level: int) -> tuple[int, ...]:
    """Grid indices of a chunk of ``level``; 404 outside the chunk grid."""
    index = tuple(canonical_int(p, key) for p in parts)
    grid = spec.levels[level].grid
    if any(i >= g for i, g in zip(index, grid, strict=True)):
        raise NoSuchKey(f"chunk {index} is outside the chunk grid {grid} of level {level}")
    return index
