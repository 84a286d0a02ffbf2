"""Reading a region of one native Imaris level.

Each read takes the pooled file handle and decodes only the chunks the region touches: gzip chunks
directly (see :mod:`readers.imaris.chunks`, parallel across threads), anything else by h5py
slicing. Either way the result is a native-endian array (``read_direct`` converts byte order in
HDF5, the direct path on assignment), so big-endian sources come back as plain ``uint16``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from readers.base import Level, LevelGeometry, SourceError
from readers.imaris import chunks, files
from readers.imaris.layout import LevelLayout
from readers.resources import ReaderResources
from readers.scrub import scrub

#: contiguous datasets have no chunks; a plane is their cheapest unit
_PLANE = 1


class ImarisLevel(Level):
    #: read every region through h5py slicing (the reference path; also for measurements)
    force_h5py = False

    def __init__(
        self, path: Path, layout: LevelLayout, n_channels: int, voxel_size: tuple[float, float, float],
        resources: ReaderResources,
    ) -> None:
        block = layout.chunks or (_PLANE, *layout.size[1:])
        super().__init__(LevelGeometry(
            shape=(len(layout.paths), n_channels, *layout.size),
            dtype=layout.dtype.newbyteorder("="),
            voxel_size=voxel_size,
            read_chunks=tuple(min(c, n) for c, n in zip(block, layout.size, strict=True)),
        ))
        self.path = path
        self.resources = resources
        self.layout = layout

    def _read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        name = self.layout.paths[t][c]
        out = np.empty((z.stop - z.start, y.stop - y.start, x.stop - x.start), dtype=self.dtype)
        for attempt in (0, 1):
            handle = files.pooled(self.path, self.resources)
            try:
                ds, direct = handle.dataset(name)
                if direct is not None and not self.force_h5py:
                    try:
                        chunks.read_region(ds, direct, (z.start, y.start, x.start), out)
                        return out
                    except chunks.NotDirect:
                        pass  # a chunk stored unfiltered: let HDF5 decode the region
                ds.read_direct(out, np.s_[z.start : z.stop, y.start : y.stop, x.start : x.stop])
                return out
            except Exception as exc:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError...
                if handle.closed and attempt == 0:
                    continue  # the pool evicted this handle mid-read; reopen once
                raise SourceError(self._explain(name, exc)) from None
        raise AssertionError("unreachable")

    def _explain(self, name: str, exc: Exception) -> str:
        where = name.lstrip("/")
        if isinstance(exc, KeyError):
            # h5py raises KeyError when an external link's target file is missing
            return f"{self.path.name}: cannot open {where} (broken external link or missing object)"
        reason = scrub(str(exc)) or type(exc).__name__
        return f"{self.path.name}: cannot read {where}: {reason}"
