"""Chunk compressors by name, shared by the zarr writers.

Each compressor is one object that owns its whole description: how it encodes, its zarr v2
``compressor`` config and its zarr v3 codec JSON (the shape of zarr-python's codec classes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numcodecs
import numpy as np

from writers.errors import WriterError


@dataclass(frozen=True)
class Compressor(ABC):
    name: str
    codec: numcodecs.abc.Codec | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codec", self._make_codec())  # stateless: one shared instance per name

    @abstractmethod
    def _make_codec(self) -> numcodecs.abc.Codec | None: ...

    @abstractmethod
    def v3_codec(self, dtype: str) -> dict | None:
        """The zarr v3 codec after ``bytes`` (None: no compression)."""

    def v2_config(self) -> dict | None:
        return self.codec.get_config() if self.codec is not None else None

    def encode(self, data: np.ndarray) -> bytes:
        raw = np.ascontiguousarray(data)
        if self.codec is None:
            return raw.tobytes()
        return bytes(self.codec.encode(raw))


@dataclass(frozen=True)
class Blosc(Compressor):
    cname: str = "zstd"
    clevel: int = 3

    def _make_codec(self) -> numcodecs.abc.Codec:
        return numcodecs.Blosc(cname=self.cname, clevel=self.clevel, shuffle=numcodecs.Blosc.SHUFFLE)

    def v3_codec(self, dtype: str) -> dict:
        return {"name": "blosc", "configuration": {
            "cname": self.cname, "clevel": self.clevel, "shuffle": "shuffle",
            "typesize": np.dtype(dtype).itemsize, "blocksize": 0}}


@dataclass(frozen=True)
class Zstd(Compressor):
    level: int = 3

    def _make_codec(self) -> numcodecs.abc.Codec:
        return numcodecs.Zstd(level=self.level)

    def v3_codec(self, dtype: str) -> dict:
        # numcodecs writes no checksum; its frames carry their content size (see the zarr3 zstd test)
        return {"name": "zstd", "configuration": {"level": self.level, "checksum": False}}


@dataclass(frozen=True)
class Gzip(Compressor):
    level: int = 5

    def _make_codec(self) -> numcodecs.abc.Codec:
        return numcodecs.GZip(level=self.level)

    def v3_codec(self, dtype: str) -> dict:
        return {"name": "gzip", "configuration": {"level": self.level}}


@dataclass(frozen=True)
class Uncompressed(Compressor):
    def _make_codec(self) -> None:
        return None

    def v3_codec(self, dtype: str) -> None:
        return None


_BY_NAME: dict[str, Compressor] = {c.name: c for c in (
    Blosc("blosc-zstd", cname="zstd", clevel=3),
    Blosc("blosc-lz4", cname="lz4", clevel=5),
    Zstd("zstd", level=3),
    Gzip("gzip", level=5),
    Uncompressed("none"),
)}
_ALIASES = {"raw": "none", "null": "none"}
COMPRESSORS = tuple(_BY_NAME)


def compressor(name: str) -> Compressor:
    """A compressor by its service name (one shared, stateless instance per name)."""
    found = _BY_NAME.get(_ALIASES.get(name, name))
    if found is None:
        raise WriterError(f"unknown compressor {name!r}; choose one of {', '.join(COMPRESSORS)}")
    return found


def plain_buffer(block: np.ndarray, shape: tuple[int, ...]) -> memoryview | None:
    """The bytes of an uncompressed chunk of ``shape`` as a view of ``block``, without a copy: only when the block
    already is that chunk laid out (full size, little-endian, C order); None when it must be encoded first."""
    if (1,) * (len(shape) - block.ndim) + block.shape != tuple(shape) or not block.flags.c_contiguous:
        return None
    if block.dtype != block.dtype.newbyteorder("<"):  # big-endian (native order on a little-endian host is "<")
        return None
    return memoryview(block).cast("B")


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
