"""OME-Zarr 0.5 on zarr v3: zarr.json documents (consolidated in the root), default chunk keys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from writers import ngff
from writers.codecs import Compressor, encode_full_chunk
from writers.errors import MalformedKey, NoSuchKey
from writers.keys import chunk_index, level_index
from writers.spec import AXES, ImageSpec, LevelSpec

#: v2 documents and other probes: absent in a v3 hierarchy
PROBED_ABSENT = {".zgroup", ".zattrs", ".zarray", ".zmetadata", "labels", "OME"}


def codecs(dtype: str, comp: Compressor) -> list[dict]:
    """bytes (little-endian) then the compressor; zstd frames carry their content size (numcodecs)."""
    chain: list[dict] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if comp.codec is None:
        return chain
    cfg = comp.codec.get_config()
    if cfg["id"] == "zstd":
        chain.append({"name": "zstd", "configuration": {"level": cfg.get("level", 3), "checksum": False}})
    elif cfg["id"] == "gzip":
        chain.append({"name": "gzip", "configuration": {"level": cfg.get("level", 5)}})
    elif cfg["id"] == "blosc":
        shuffle = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}[cfg.get("shuffle", 1)]
        chain.append({"name": "blosc", "configuration": {
            "cname": cfg["cname"], "clevel": cfg["clevel"], "shuffle": shuffle,
            "typesize": np.dtype(dtype).itemsize, "blocksize": 0}})
    return chain


def array_json(spec: ImageSpec, level: LevelSpec, comp: Compressor) -> dict:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(level.shape),
        "data_type": np.dtype(spec.dtype).name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(level.chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": codecs(spec.dtype, comp),
        "dimension_names": list(AXES),
        "attributes": {},
        "storage_transformers": [],
    }


def group_json(spec: ImageSpec, comp: Compressor) -> dict:
    """Root group with OME 0.5 attributes and consolidated metadata of every level.

    ``omero`` is also written at the top level of the attributes, where Neuroglancer reads channel
    colours and windows; validators look only inside ``ome``.
    """
    ome = ngff.ome_attributes_v05(spec)
    return {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {"ome": ome, "omero": ome["omero"]},
        "consolidated_metadata": {
            "kind": "inline",
            "must_understand": False,
            "metadata": {str(i): array_json(spec, level, comp) for i, level in enumerate(spec.levels)},
        },
    }


@dataclass(frozen=True)
class MetadataKey:
    level: int | None  # None: the root group


@dataclass(frozen=True)
class ChunkKey:
    level: int
    index: tuple[int, ...]


def parse_key(key: str, spec: ImageSpec) -> MetadataKey | ChunkKey:
    if key == "zarr.json":
        return MetadataKey(None)
    parts = key.split("/")
    if not parts[0].isdigit():
        if parts[0] in PROBED_ABSENT or parts[-1] in PROBED_ABSENT:
            raise NoSuchKey(f"{key!r} does not exist in this zarr v3 group")
        raise MalformedKey(f"{key!r} is not a key of this OME-Zarr group")
    level = level_index(parts[0], key, spec)
    rest = parts[1:]
    if rest == ["zarr.json"]:
        return MetadataKey(level)
    if len(rest) == 1 and rest[0] in PROBED_ABSENT:
        raise NoSuchKey(f"{key!r} does not exist")
    ndim = len(spec.levels[level].shape)
    if len(rest) != ndim + 1 or rest[0] != "c":
        raise MalformedKey(f"{key!r}: chunk keys of level {level} are '{level}/c/' + {ndim} indices")
    return ChunkKey(level, chunk_index(rest[1:], key, spec, level))


def encode_chunk(block: np.ndarray, level: LevelSpec, comp: Compressor) -> bytes:
    return encode_full_chunk(block, level.chunks, comp)
