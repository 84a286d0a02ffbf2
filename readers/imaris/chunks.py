"""Decode gzip chunks outside h5py's global lock, so concurrent reads use several cores.

h5py serialises every call on one process-wide lock, decompression included, so 8 threads reading
8 chunks take as long as 1 thread. For the common Imaris pipelines, deflate or shuffle + deflate,
the raw chunk bytes are fetched under the lock (``read_direct_chunk``, cheap) and inflated with
``zlib``, which releases the GIL. Any other pipeline (LZ4, contiguous data...) returns None from
:func:`plan` and goes through ordinary h5py slicing.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

_DEFLATE = 1  # H5Z_FILTER_DEFLATE
_SHUFFLE = 2  # H5Z_FILTER_SHUFFLE


class NotDirect(Exception):
    """This chunk cannot be decoded here (a filter was skipped); read the region through h5py."""


@dataclass(frozen=True)
class DirectPlan:
    chunks: tuple[int, int, int]
    dtype: np.dtype  # as stored, possibly big-endian
    shuffle: bool
    fill: Any

    @property
    def chunk_bytes(self) -> int:
        return int(np.prod(self.chunks)) * self.dtype.itemsize


def plan(ds: Any) -> DirectPlan | None:
    """How to read ``ds`` chunk by chunk outside the lock, or None to let h5py do it."""
    if ds.chunks is None or len(ds.chunks) != 3 or ds.dtype.kind not in "uif":
        return None
    dcpl = ds.id.get_create_plist()
    filters = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
    if filters not in ([_DEFLATE], [_SHUFFLE, _DEFLATE]):
        return None
    return DirectPlan(tuple(int(c) for c in ds.chunks), ds.dtype, filters[0] == _SHUFFLE, ds.fillvalue)


def _decode(raw: bytes, plan: DirectPlan) -> np.ndarray:
    buf = zlib.decompress(raw)  # releases the GIL while inflating
    if len(buf) != plan.chunk_bytes:
        raise OSError(f"chunk inflates to {len(buf)} bytes, expected {plan.chunk_bytes}")
    arr = np.frombuffer(buf, dtype=np.uint8)
    if plan.shuffle and plan.dtype.itemsize > 1:
        # HDF5 shuffle stores byte 0 of every element, then byte 1, ...
        arr = arr.reshape(plan.dtype.itemsize, -1).T.copy()
    return arr.view(plan.dtype).reshape(plan.chunks)


def read_region(ds: Any, plan: DirectPlan, start: tuple[int, int, int], out: np.ndarray) -> None:
    """Fill ``out`` with the region of ``ds`` starting at ``start`` (z, y, x), chunk by chunk."""
    stop = tuple(s + n for s, n in zip(start, out.shape, strict=True))
    ranges = [range(s // c * c, e, c) for s, e, c in zip(start, stop, plan.chunks, strict=True)]
    for origin in itertools.product(*ranges):
        try:
            mask, raw = ds.id.read_direct_chunk(origin)
        except RuntimeError:
            info = ds.id.get_chunk_info_by_coord(origin)
            if info.byte_offset is not None:
                raise
            mask, raw = 0, None  # never written: HDF5 would return the fill value
        if mask:
            raise NotDirect(f"chunk at {origin} has filter mask {mask}")
        lo = [max(s, o) for s, o in zip(start, origin, strict=True)]
        hi = [min(e, o + c) for e, o, c in zip(stop, origin, plan.chunks, strict=True)]
        dst = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start, strict=True))
        if raw is None:
            out[dst] = plan.fill
            continue
        chunk = _decode(raw, plan)
        out[dst] = chunk[tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, origin, strict=True))]
