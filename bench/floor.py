"""The in-process floor: what reading a chunk's region with the reader and encoding it costs, no server.

Level 0 (and any native level): one read of the chunk's region plus the zarr encode.
A computed level: the region of the nearest finer *native* level, read in z-slabs one output plane
thick, reduced with the service's own block mean, level by level, then encoded; a sampled level (a
large source's overview): one strided read of the native level. No caches, no HTTP: the least work any
server must do for that chunk. Source reads go through the pyramid's own read path with a leaf pool the
size of the server's, so a slice stack's read is split into parallel slabs as the server splits it: the
floor has the server's parallelism, not one thread against its pool.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from readers.caching import Cache
from readers.registry import open_volume
from readers.resources import ReaderResources
from transformer.config import Config
from transformer.engine import downsample
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid
from writers import zarr_v2
from writers.codecs import compressor


class Floor:
    """The source opened in-process with the same reader and the same pyramid plan as the server."""

    def __init__(self, path: Path, compressor_name: str = "blosc-zstd", overview: str = "auto",
                 resources: ReaderResources | None = None, blocks_bytes: int = 0) -> None:
        # resources: None reads through the library's process-wide caches (kept from one Floor to the next)
        _, self.volume = open_volume(path, resources=resources)
        options = PyramidOptions.from_chunks(Config().chunks, overview=overview)
        # the server's leaf pool (transformer.engine.resources): os.cpu_count() threads
        self.leaves = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="floor-leaf")
        engine = Engine(Cache("blocks", blocks_bytes), leaves=self.leaves)
        self.pyramid = Pyramid("floor", self.volume, engine, options)
        self.comp = compressor(compressor_name)

    def close(self) -> None:
        self.leaves.shutdown()
        self.volume.close()

    def __enter__(self) -> Floor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunk_seconds(self, level: int, index: tuple[int, ...]) -> float:
        start = time.perf_counter()
        block = self.block(level, index)
        zarr_v2.encode_chunk(block, self.pyramid.levels[level].spec, self.comp)
        return time.perf_counter() - start

    def block(self, level: int, index: tuple[int, ...]) -> np.ndarray:
        levels = self.pyramid.levels
        t, c, z, y, x = levels[level].spec.chunk_region(index)
        native = max(i for i in range(level + 1) if levels[i].native is not None)
        if native == level or levels[level].sampling is not None:  # read (or sampled) from the source
            return self.pyramid.source_region(level, t.start, c.start, z, y, x)
        steps = [levels[i].factors for i in range(native + 1, level + 1)]
        fz, fy, fx = (math.prod(f[a] for f in steps) for a in range(3))
        nz, ny, nx = levels[native].spec.shape[2:]
        ys, xs = slice(y.start * fy, min(y.stop * fy, ny)), slice(x.start * fx, min(x.stop * fx, nx))
        planes = []
        for zo in range(z.start, z.stop):
            slab = self.pyramid.source_region(native, t.start, c.start, slice(zo * fz, min((zo + 1) * fz, nz)), ys,
                                              xs)
            for f in steps:
                slab = downsample.mean(slab, f)
            planes.append(slab)
        return np.concatenate(planes, axis=0)
