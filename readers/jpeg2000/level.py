"""One native level of a JPEG2000 stack: wavelet reduction ``r`` of every slice."""

from __future__ import annotations

import numpy as np

from readers.base import Level, LevelGeometry
from readers.jpeg2000.decoders import SliceDecoder


class Jpeg2000Level(Level):
    def __init__(self, decoder: SliceDecoder, r: int, geometry: LevelGeometry) -> None:
        super().__init__(geometry)
        self.decoder, self.r = decoder, r

    def _read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        out = np.empty((z.stop - z.start, y.stop - y.start, x.stop - x.start), self.dtype)
        for i, index in enumerate(range(z.start, z.stop)):
            plane = self.decoder.region(index, self.r, y.start, y.stop, x.start, x.stop)
            out[i] = plane[:, :, c]
        return out

    def __repr__(self) -> str:
        return f"Jpeg2000Level(r={self.r}, shape={self.shape}, dtype={self.dtype})"
