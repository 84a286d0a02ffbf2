"""One native level of a JPEG2000 stack: wavelet reduction ``r`` of every slice."""

from __future__ import annotations

import numpy as np

from readers.base import Level
from readers.jpeg2000.decoders import SliceDecoder


class Jpeg2000Level(Level):
    def __init__(
        self,
        decoder: SliceDecoder,
        r: int,
        shape: tuple[int, int, int, int, int],
        dtype: np.dtype,
        voxel_size: tuple[float, float, float],
        read_chunks: tuple[int, int, int],
    ) -> None:
        self.decoder, self.r = decoder, r
        self.shape, self.dtype = shape, np.dtype(dtype)
        self.voxel_size, self.read_chunks = voxel_size, read_chunks
        # LL sample k of reduction r sits on full-resolution pixel k * 2**r, not on its block's centre
        self.origin = (0.0, 0.0, 0.0)

    def read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        self.check_region(t, c, z, y, x)
        out = np.empty((z.stop - z.start, y.stop - y.start, x.stop - x.start), self.dtype)
        for i, index in enumerate(range(z.start, z.stop)):
            plane = self.decoder.region(index, self.r, y.start, y.stop, x.start, x.stop)
            out[i] = plane[:, :, c]
        return out

    def read_cost(self) -> int:
        # OpenJPEG reads each tile-part whole, whatever the reduction: the cost is the files' size
        return max(super().read_cost(), self.decoder.total_bytes() // self.shape[1])

    def __repr__(self) -> str:
        return f"Jpeg2000Level(r={self.r}, shape={self.shape}, dtype={self.dtype})"
