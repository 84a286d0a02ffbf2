"""What the zarr v2 and v3 views share: ``{id}.ome.zarr`` naming, (t, c, z, y, x) chunk grids,
full-size chunks compressed with the service's compressor, and OME axes for Neuroglancer."""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable
from typing import ClassVar

import numpy as np

from writers.codecs import encode_full_chunk, plain_buffer
from writers.errors import NoSuchKey
from writers.listing import Folder, fixed, grid, joined
from writers.spec import ImageSpec
from writers.view import Chunk, Document, PeekBlock, ReadBlock, View, ViewOptions


class ZarrView(View):
    """Chunk keys name (t, c, z, y, x) grid indices of one level."""

    suffix = ".ome.zarr"
    group_documents: ClassVar[tuple[str, ...]]  #: the documents at the root, listed
    array_document: ClassVar[str]  #: each level's document
    chunk_folder: ClassVar[str] = ""  #: the folder chunk keys start with inside a level ("c" in zarr v3)

    def naming_error(self) -> NoSuchKey:
        return NoSuchKey(f"zarr views are named {{id}}{self.suffix}")

    def chunk_identity(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> Hashable:
        return options.compressor.name, key.level, key.index

    def encode(self, key: Chunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        return encode_full_chunk(read(key.level, key.index), spec.levels[key.level].chunks, options.compressor)

    def plain_in_memory(self, key: Chunk, spec: ImageSpec, peek: PeekBlock) -> memoryview | None:
        block = peek(key.level, key.index)
        return None if block is None else plain_buffer(block, spec.levels[key.level].chunks)

    def chunk_size(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> int | None:
        if options.compressor.codec is not None:
            return None
        return _full_chunk_bytes(spec.levels[key.level].chunks, spec.dtype)  # full size, even at edges

    def tree(self, spec: ImageSpec, options: ViewOptions) -> Folder:
        root = [(name, Document(name)) for name in self.group_documents]
        for level, ls in enumerate(spec.levels):
            root.append((f"{level}/", functools.partial(self._level_tree, level, ls.grid)))
        return fixed(root)

    def _level_tree(self, level: int, shape: tuple[int, ...]) -> Folder:
        chunks = grid(shape, lambda index: Chunk(level, index))
        if self.chunk_folder:
            chunks = fixed([(f"{self.chunk_folder}/", chunks)])
        return joined(fixed([(self.array_document, Document(self.array_document, level))]), chunks)


@functools.lru_cache(maxsize=256)
def _full_chunk_bytes(chunks: tuple[int, ...], dtype: str) -> int:
    return math.prod(chunks) * np.dtype(dtype).itemsize
