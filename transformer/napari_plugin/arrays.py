"""A lazy array-like per level and channel for napari: indexing it fetches only the served chunks the box
touches (in parallel, each chunk kept in a shared LRU cache so panning back fetches nothing).

napari takes any object with ``shape``, ``dtype``, ``ndim`` and ``__getitem__`` as layer data. A dask array
of a 10,000-slice level 0 has 640,000 blocks, and every slice napari takes makes dask list all of them while
it optimises the graph (≈ 0.6 s a slice, docs/napari.md); this array has no graph, so a slice costs only the
chunks it needs. Scripts keep :meth:`transformer.client.RemoteDataset.multiscale` (dask).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from itertools import product

import numpy as np

from transformer.client import RemoteLevel

#: bytes of decoded chunks kept across all arrays (napari's own dask cache is of the same order)
CACHE_BYTES = 512 * 1024 * 1024


class ChunkCache:
    """Decoded chunks by key, least recently used dropped first once over ``limit`` bytes; thread-safe."""

    def __init__(self, limit: int = CACHE_BYTES) -> None:
        self.limit, self.size = limit, 0
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, value: np.ndarray) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self.size += value.nbytes
            while self.size > self.limit and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.size -= dropped.nbytes


CACHE = ChunkCache()


class ChunkedChannel:
    """One channel of one level, indexed (z, y, x) (or (t, z, y, x) with several time points) with numpy basic
    indexing. Indexing is lazy (napari first cuts the displayed axes over every plane, then picks the plane):
    it returns a view, and only ``np.asarray(view)`` fetches, the served chunks the view touches, one request
    each. ``chunks`` is the served chunk shape in these axes."""

    def __init__(
        self, level: RemoteLevel, channel: int, cache: ChunkCache = CACHE, view: tuple[range | int, ...] | None = None
    ) -> None:
        self.level, self.channel, self.cache = level, channel, cache
        self.timed = level.shape[0] > 1
        full = ((level.shape[0],) if self.timed else ()) + tuple(level.shape[2:])
        self.grid = ((1,) if self.timed else ()) + tuple(level.chunks[2:])  # chunk shape, every axis
        self.view = view if view is not None else tuple(range(n) for n in full)  # an int: an axis indexed away
        kept = [i for i, v in enumerate(self.view) if isinstance(v, range)]
        self.shape = tuple(len(self.view[i]) for i in kept)
        self.chunks = tuple(self.grid[i] for i in kept)
        self.dtype, self.ndim = level.dtype, len(self.shape)
        self.size = int(np.prod(self.shape))
        self.name = f"{level._dask_name(f'c{channel}')}-chunked"

    def __repr__(self) -> str:
        return f"<ChunkedChannel {self.name} shape={self.shape} chunks={self.chunks} dtype={self.dtype}>"

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> ChunkedChannel | np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            at = key.index(Ellipsis)
            key = key[:at] + (slice(None),) * (self.ndim - len(key) + 1) + key[at + 1 :]
        if len(key) > self.ndim:
            raise IndexError(f"too many indices: {len(key)} for {self.ndim} axes")
        key = iter(key + (slice(None),) * (self.ndim - len(key)))
        view = []
        for axis in self.view:
            if not isinstance(axis, range):
                view.append(axis)
                continue
            k = next(key)
            if not isinstance(k, (slice, int, np.integer)):
                raise TypeError(f"only integers, slices and ... index a remote dataset, not {type(k).__name__}")
            view.append(axis[k] if isinstance(k, slice) else axis[int(k)])  # range does numpy's arithmetic
        out = ChunkedChannel(self.level, self.channel, self.cache, tuple(view))
        return out if out.ndim else np.asarray(out)[()]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The view's voxels: its covering box filled chunk by chunk, then strides and indexed axes applied."""
        box = [
            range(v, v + 1)
            if isinstance(v, int)
            else range(min(v[0], v[-1]), max(v[0], v[-1]) + 1)
            if len(v)
            else range(0)
            for v in self.view
        ]
        out = np.empty(tuple(len(b) for b in box), self.dtype)
        if out.size:
            self._fill(out, [b.start for b in box])
        for axis, (v, b) in enumerate(zip(self.view, box, strict=True)):
            if isinstance(v, range) and len(v) and v.step != 1:
                out = np.take(out, np.asarray(v) - b.start, axis=axis)
        out = out.reshape(self.shape)
        return out if dtype is None else out.astype(dtype)

    def _fill(self, out: np.ndarray, origin: list[int]) -> None:
        """Copy into ``out`` (the box at ``origin``) every chunk it touches, fetching the ones not cached."""
        grid = [range(o // c, (o + n - 1) // c + 1) for o, n, c in zip(origin, out.shape, self.grid, strict=True)]
        missing = []
        for index in product(*grid):
            chunk = self.cache.get((self.name, index))
            if chunk is None:
                missing.append(index)
            else:
                self._place(out, origin, index, chunk)
        if len(missing) == 1:
            self._place(out, origin, missing[0], self._fetch(missing[0]))
        elif missing:
            with ThreadPoolExecutor(min(len(missing), self.level.dataset.workers)) as pool:
                for index, chunk in zip(missing, pool.map(self._fetch, missing), strict=True):
                    self._place(out, origin, index, chunk)

    def _fetch(self, index: tuple[int, ...]) -> np.ndarray:
        full = ((self.level.shape[0],) if self.timed else ()) + tuple(self.level.shape[2:])
        box = [slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, self.grid, full, strict=True)]
        t = box.pop(0) if self.timed else slice(0, 1)
        chunk = self.level.cutout((t, slice(self.channel, self.channel + 1), *box))
        chunk = chunk.reshape(tuple(s.stop - s.start for s in ([t] if self.timed else []) + box))
        self.cache.put((self.name, index), chunk)
        return chunk

    def _place(self, out: np.ndarray, origin: list[int], index: tuple[int, ...], chunk: np.ndarray) -> None:
        start = [i * c for i, c in zip(index, self.grid, strict=True)]
        lo = [max(s, o) for s, o in zip(start, origin, strict=True)]
        hi = [min(s + n, o + m) for s, n, o, m in zip(start, chunk.shape, origin, out.shape, strict=True)]
        out[tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, origin, strict=True))] = chunk[
            tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start, strict=True))
        ]


def chunked_multiscale(level_list: list[RemoteLevel], channel: int) -> list[ChunkedChannel]:
    """One channel at every level, finest first, as :class:`ChunkedChannel` arrays."""
    return [ChunkedChannel(level, channel) for level in level_list]
