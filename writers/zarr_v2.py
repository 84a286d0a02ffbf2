"""OME-NGFF 0.4 on zarr v2: metadata documents, canonical chunk keys, chunk encoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from writers import ngff
from writers.codecs import Compressor, encode_full_chunk
from writers.errors import MalformedKey, NoSuchKey
from writers.spec import ImageSpec, LevelSpec

#: keys clients probe that this layout never has: a clean 404, not a 400
PROBED_ABSENT = {"zarr.json", ".zarray", "labels", "OME", ".zgroup", ".zattrs", ".zmetadata"}


def zgroup() -> dict:
    return {"zarr_format": 2}


def zarray(spec: ImageSpec, level: LevelSpec, comp: Compressor) -> dict:
    return {
        "zarr_format": 2,
        "shape": list(level.shape),
        "chunks": list(level.chunks),
        "dtype": np.dtype(spec.dtype).newbyteorder("<").str,
        "compressor": comp.v2_config(),
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "dimension_separator": "/",
    }


def zmetadata(spec: ImageSpec, comp: Compressor) -> dict:
    meta: dict = {".zgroup": zgroup(), ".zattrs": ngff.zattrs_v04(spec)}
    for i, level in enumerate(spec.levels):
        meta[f"{i}/.zarray"] = zarray(spec, level, comp)
    return {"zarr_consolidated_format": 1, "metadata": meta}


@dataclass(frozen=True)
class MetadataKey:
    name: str  # ".zgroup", ".zattrs", ".zmetadata" or "{level}/.zarray"


@dataclass(frozen=True)
class ChunkKey:
    level: int
    index: tuple[int, ...]


def parse_key(key: str, spec: ImageSpec) -> MetadataKey | ChunkKey:
    """Decode a store key. Only canonical keys are served: they must re-encode to the same string."""
    if key in (".zgroup", ".zattrs", ".zmetadata"):
        return MetadataKey(key)
    parts = key.split("/")
    if not parts[0].isdigit():
        if parts[0] in PROBED_ABSENT or parts[0].startswith("."):
            raise NoSuchKey(f"{key!r} does not exist in this group")
        raise MalformedKey(f"{key!r} is not a key of this OME-Zarr group")
    level = _canonical_int(parts[0], key)
    if level >= len(spec.levels):
        raise NoSuchKey(f"level {level} does not exist (levels 0..{len(spec.levels) - 1})")
    rest = parts[1:]
    if rest == [".zarray"]:
        return MetadataKey(f"{level}/.zarray")
    if len(rest) == 1 and rest[0] in PROBED_ABSENT:
        raise NoSuchKey(f"{key!r} does not exist: levels are arrays")
    ndim = len(spec.levels[level].shape)
    if len(rest) != ndim:
        raise MalformedKey(f"{key!r}: a chunk key of level {level} has {ndim} '/'-separated indices")
    index = tuple(_canonical_int(p, key) for p in rest)
    grid = spec.levels[level].grid
    if any(i >= g for i, g in zip(index, grid, strict=True)):
        raise NoSuchKey(f"chunk {index} is outside the chunk grid {grid} of level {level}")
    return ChunkKey(level, index)


def _canonical_int(text: str, key: str) -> int:
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
        raise MalformedKey(f"{key!r}: {text!r} is not a canonical chunk index")
    return int(text)


def encode_chunk(block: np.ndarray, level: LevelSpec, comp: Compressor) -> bytes:
    return encode_full_chunk(block, level.chunks, comp)
