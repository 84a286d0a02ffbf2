"""Canonical key parts shared by the zarr v2 and v3 layouts: a key is served only if it re-encodes
to exactly the same string, so ``00`` or ``+1`` is a malformed key, never a guess."""

from __future__ import annotations

from collections.abc import Sequence

from writers.errors import MalformedKey, NoSuchKey
from writers.spec import ImageSpec


def canonical_int(text: str, key: str) -> int:
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
        raise MalformedKey(f"{key!r}: {text!r} is not a canonical chunk index")
    return int(text)


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
