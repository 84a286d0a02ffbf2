"""OME-Zarr 0.5 on zarr v3 with sharding at /zarr3-sharded/{id}.ome.zarr/{key}: one object (a shard) per column
of the level's chunks along z, for clients and copies that prefer fewer, larger objects.

Each shard holds the zarr3 view's chunks of its column as plain inner chunks (``bytes``, little-endian, no
compression, whatever ``--compressor`` says), then the index (``index_location: end``; offset and length of
each inner chunk as little-endian uint64, then the index's CRC32C). Plain inner chunks make every byte's place
a function of the geometry: a shard's size, its index and which inner chunk a byte range falls in are known
before anything is read, so S3 listings state exact sizes and a ranged read makes only the inner chunks it
touches (``parts``; the server sends them one by one, transformer/server/parted.py).
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import replace
from itertools import product

import google_crc32c
import numpy as np

from writers.codecs import compressor
from writers.spec import ImageSpec, LevelSpec
from writers.view import Chunk, Document, Part, PeekBlock, ReadBlock, ViewOptions
from writers.zarr_v3 import ZarrV3, array_json, group_json
from writers.zarr_view import ZarrView

#: a shard holds at most this many bytes of inner chunks (and at least one chunk)
SHARD_BYTES = 16 * 2**20
#: an index entry of an inner chunk that lies wholly outside the array (zarr's "empty" marker)
EMPTY = 2**64 - 1
PLAIN = compressor("none")
INNER = ViewOptions(PLAIN, plain=True)  #: how inner chunks are encoded, whatever --compressor says
INNER_CODECS = [{"name": "bytes", "configuration": {"endian": "little"}}]
INDEX_CODECS = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]


def shard_level(level: LevelSpec, itemsize: int) -> LevelSpec:
    """``level`` cut into shards: its chunks stacked along z, up to SHARD_BYTES or the whole column."""
    t, c, cz, cy, cx = level.chunks
    per_shard = max(1, min(level.grid[2], SHARD_BYTES // (math.prod(level.chunks) * itemsize)))
    return replace(level, chunks=(t, c, cz * per_shard, cy, cx), orientations=())


@functools.lru_cache(maxsize=64)
def sharded(spec: ImageSpec) -> ImageSpec:
    """The spec whose levels' ``chunks`` are the shards (the grid the sharded view's keys index)."""
    itemsize = np.dtype(spec.dtype).itemsize
    return replace(spec, levels=tuple(shard_level(level, itemsize) for level in spec.levels))


def sharded_array_json(spec: ImageSpec, level: int) -> dict:
    inner, shard = spec.levels[level], sharded(spec).levels[level]
    doc = array_json(spec, shard, PLAIN)
    doc["codecs"] = [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(inner.chunks), "codecs": INNER_CODECS, "index_codecs": INDEX_CODECS,
        "index_location": "end"}}]
    return doc


class Layout:
    """Where each inner chunk of one shard lies: inner chunks in C order of the shard's inner grid, each
    ``inner_bytes`` long, the ones outside the array left out and marked EMPTY in the index at the end."""

    def __init__(self, spec: ImageSpec, key: Chunk) -> None:
        inner = spec.levels[key.level]
        shard = sharded(spec).levels[key.level]
        self.inner_bytes = math.prod(inner.chunks) * np.dtype(spec.dtype).itemsize
        per_axis = [s // i for s, i in zip(shard.chunks, inner.chunks, strict=True)]
        self.chunks: list[Chunk | None] = []
        for offset in product(*(range(n) for n in per_axis)):
            index = tuple(k * n + o for k, n, o in zip(key.index, per_axis, offset, strict=True))
            inside = all(i < g for i, g in zip(index, inner.grid, strict=True))
            self.chunks.append(Chunk(key.level, index) if inside else None)
        self.stored = sum(chunk is not None for chunk in self.chunks)

    @property
    def size(self) -> int:
        return self.stored * self.inner_bytes + 16 * len(self.chunks) + 4

    def index(self) -> bytes:
        entries, offset = [], 0
        for chunk in self.chunks:
            if chunk is None:
                entries += [EMPTY, EMPTY]
            else:
                entries += [offset, self.inner_bytes]
                offset += self.inner_bytes
        table = struct.pack(f"<{len(entries)}Q", *entries)
        return table + struct.pack("<I", google_crc32c.value(table))

    def parts(self) -> list[Part]:
        stored = [Part(self.inner_bytes, chunk) for chunk in self.chunks if chunk is not None]
        return [*stored, Part(16 * len(self.chunks) + 4, data=self.index())]


class ZarrV3Sharded(ZarrV3):
    """Keys as the zarr3 view's (``zarr.json``, ``{level}/zarr.json``, ``{level}/c/{t}/{c}/{z}/{y}/{x}``), chunk
    keys indexing the shard grid."""

    name = "zarr3-sharded"
    prefix = "/zarr3-sharded"

    def parse(self, key: str, spec: ImageSpec) -> Document | Chunk:
        return super().parse(key, sharded(spec))

    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        return super().spell(key, sharded(spec))

    def document(self, key: Document, spec: ImageSpec, options: ViewOptions) -> dict:
        if key.level is None:
            return group_json(spec, PLAIN, array=sharded_array_json)
        return sharded_array_json(spec, key.level)

    def chunk_identity(self, key: Chunk, spec: ImageSpec, options: ViewOptions):
        return "shard", key.level, key.index

    def chunk_size(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> int:
        return Layout(spec, key).size

    def parts(self, key: Chunk, spec: ImageSpec) -> list[Part]:
        return Layout(spec, key).parts()

    # an inner chunk is the zarr3 view's plain chunk of the same index (ZarrView: the level's own grid)

    def encode_part(self, part: Part, spec: ImageSpec, read: ReadBlock) -> bytes:
        return part.data if part.chunk is None else ZarrView.encode(self, part.chunk, spec, read, INNER)

    def part_in_memory(self, part: Part, spec: ImageSpec, peek: PeekBlock) -> bytes | memoryview | None:
        return part.data if part.chunk is None else ZarrView.plain_in_memory(self, part.chunk, spec, peek)

    def encode(self, key: Chunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        return b"".join(self.encode_part(part, spec, read) for part in self.parts(key, spec))

    def plain_in_memory(self, key: Chunk, spec: ImageSpec, peek: PeekBlock) -> None:
        return None  # a shard is sent part by part (parts)

    def tree(self, spec: ImageSpec, options: ViewOptions):
        return super().tree(sharded(spec), options)

