"""What readers share and must not create themselves: caches, the handle pool, settings.

The service builds one :class:`ReaderResources` from its configuration (transformer.engine.resources)
and passes it to ``ReaderPlugin.open``; library use and tests get :func:`default_resources` or build
their own isolated instance with :meth:`ReaderResources.create`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from readers.caching import Cache
from readers.handles import HandlePool
from readers.jpeg2000.backend import CHOICES as JP2_BACKENDS

MiB = 1 << 20
#: HDF5's own recommendation for the number of chunk-cache slots: a prime
HDF5_CHUNK_SLOTS = 1021
#: a slice handle's parsed header fills slots of this size (a single-strip TIFF slice ~10 KiB, one, one
#: strip per row of 8,192 ~360 KiB, twelve), so the slices pool holds at most max_open_slices x 32 KiB
SLICE_SLOT = 32 << 10


@dataclass(frozen=True)
class ReaderResources:
    handles: HandlePool  # open files of every reader but the slices of slice stacks
    # the slices of TIFF slice folders: a full-resolution xz or yz view reads a row of every slice under the
    # screen's height (~800), so 256 shared handles thrashed (an xz view of a 4,000-slice TIFF stack re-parsed
    # 3,035 slice headers for its 60 chunks); a slice's header is small. (JPEG2000 keeps no file open.)
    slices: HandlePool
    tiles: Cache  # decoded TIFF tiles/strips: a 256^2 tile feeds sixteen 64^2 chunks
    regions: Cache  # decoded JPEG2000 regions: red, green and blue of one chunk share a decode
    planes: Cache  # whole JPEG2000 slices (imagecodecs decodes no region) and whole HTJ2K tiles
    hdf5_chunk_cache: int  # bytes of HDF5's chunk cache per open HDF5 file
    jp2_backend: str = "auto"  # glymur (regions, reductions), imagecodecs (whole slices) or auto

    @classmethod
    def create(cls, *, tiles: int = 256 * MiB, regions: int = 64 * MiB, planes: int = 256 * MiB,
               hdf5_chunk_cache: int = 8 * MiB, max_open_files: int = 256, max_open_slices: int = 2048,
               jp2_backend: str = "auto") -> ReaderResources:
        """A fresh, isolated set (sizes in bytes); the defaults are the library's."""
        if jp2_backend not in JP2_BACKENDS:
            raise ValueError(f"jp2_backend must be one of {JP2_BACKENDS}, not {jp2_backend!r}")
        return cls(
            handles=HandlePool(max_open_files),
            slices=HandlePool(max_open_slices, SLICE_SLOT, "slices"),
            tiles=Cache("tiles", tiles, freeze=True),
            regions=Cache("regions", regions, freeze=True),
            planes=Cache("planes", planes, freeze=True),
            hdf5_chunk_cache=hdf5_chunk_cache,
            jp2_backend=jp2_backend,
        )

    def close(self) -> None:
        self.handles.close_all()
        self.slices.close_all()
        for cache in (self.tiles, self.regions, self.planes):
            cache.clear()


@functools.cache
def default_resources() -> ReaderResources:
    """The process-wide set used when a caller passes none (library use outside the service)."""
    return ReaderResources.create()
