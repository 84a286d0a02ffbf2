"""OME-NGFF 0.4 on zarr v2: metadata documents, canonical chunk keys, chunk encoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from writers import ngff
from writers.codecs import Compressor, encode_full_chunk
from writers.errors import MalformedKey, NoSuchKey
from writers.keys import chunk_index, level_index
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
    level = level_index(parts[0], key, spec)
    rest = parts[1:]
    if rest == [".zarray"]:
        return MetadataKey(f"{level}/.zarray")
    if len(rest) == 1 and rest[0] in PROBED_ABSENT:
        raise NoSuchKey(f"{key!r} does not exist: levels are arrays")
    ndim = len(spec.levels[level].shape)
    if len(rest) != ndim:
        raise MalformedKey(f"{key!r}: a chunk key of level {level} has {ndim} '/'-separated indices")
    return ChunkKey(level, chunk_index(rest, key, spec, level))


def encode_chunk(block: np.ndarray, level: LevelSpec, comp: Compressor) -> bytes:
    return encode_full_chunk(block, level.chunks, comp)
