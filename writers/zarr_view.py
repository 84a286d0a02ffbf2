"""What the zarr v2 and v3 views share: ``{id}.ome.zarr`` naming, (t, c, z, y, x) chunk grids,
full-size chunks compressed with the service's compressor, and OME axes for Neuroglancer."""

from __future__ import annotations

from collections.abc import Hashable

from writers.codecs import encode_full_chunk
from writers.errors import NoSuchKey
from writers.spec import ImageSpec
from writers.view import Chunk, ReadBlock, View, ViewOptions


class ZarrView(View):
    """Chunk keys name (t, c, z, y, x) grid indices of one level."""

    suffix = ".ome.zarr"

    def naming_error(self) -> NoSuchKey:
        return NoSuchKey(f"zarr views are named {{id}}{self.suffix}")

    def chunk_identity(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> Hashable:
        return options.compressor.name, key.level, key.index

    def encode(self, key: Chunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        return encode_full_chunk(read(key.level, key.index), spec.levels[key.level].chunks, options.compressor)
