"""Chunk compressors by name, shared by the zarr writers."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numcodecs
import numpy as np

from writers.errors import WriterError

COMPRESSORS = ("blosc-zstd", "blosc-lz4", "zstd", "gzip", "none")


@dataclass(frozen=True)
class Compressor:
    name: str
    codec: numcodecs.abc.Codec | None

    def v2_config(self) -> dict | None:
        return self.codec.get_config() if self.codec is not None else None

    def encode(self, data: np.ndarray) -> bytes:
        raw = np.ascontiguousarray(data)
        if self.codec is None:
            return raw.tobytes()
        return bytes(self.codec.encode(raw))


@functools.cache
def compressor(name: str) -> Compressor:
    """A compressor by its service name (one shared, stateless instance per name)."""
    if name == "blosc-zstd":
        return Compressor(name, numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE))
    if name == "blosc-lz4":
        return Compressor(name, numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE))
    if name == "zstd":
        return Compressor(name, numcodecs.Zstd(level=3))
    if name == "gzip":
        return Compressor(name, numcodecs.GZip(level=5))
    if name in ("none", "raw", "null"):
        return Compressor("none", None)
    raise WriterError(f"unknown compressor {name!r}; choose one of {', '.join(COMPRESSORS)}")


def pad_to(block: np.ndarray, shape: tuple[int, ...], fill: float = 0) -> np.ndarray:
    """Zarr chunks are always full size: pad an edge block with the fill value."""
    if block.shape == tuple(shape):
        return block
    out = np.full(shape, fill, dtype=block.dtype)
    out[tuple(slice(0, n) for n in block.shape)] = block
    return out


def encode_full_chunk(block: np.ndarray, chunks: tuple[int, ...], comp: Compressor) -> bytes:
    """A (z, y, x) or full-rank block as a full-size little-endian zarr chunk (v2 and v3 alike)."""
    block = block.astype(block.dtype.newbyteorder("<"), copy=False)
    block = block.reshape((1,) * (len(chunks) - block.ndim) + block.shape)
    return comp.encode(pad_to(block, chunks))
