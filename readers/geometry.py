"""The facts of one native level as validated, immutable data.

A reader builds one :class:`LevelGeometry` per level and hands it to ``Level.__init__``; a missing or
nonsensical value (a 4-D shape, a zero voxel size, a storage block larger than the level) fails
there, when the source is opened, instead of surfacing later as a broken request.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass

import numpy as np

#: dtype kinds a level can hold: bool, signed and unsigned integers, floats, complex
_NUMERIC_KINDS = "biufc"


class InvalidGeometry(ValueError):
    """A reader described a level with impossible geometry (a bug in the reader, found at open)."""


@dataclass(frozen=True)
class LevelGeometry:
    """Shape, dtype, voxel size, storage block, origin and read cost of one native level.

    ``shape`` is (t, c, z, y, x); ``voxel_size`` is (z, y, x) in micrometres; ``read_chunks`` is the
    (z, y, x) block the source stores natively (tiles, strips, HDF5 chunks), a hint for alignment.
    ``origin`` is the (z, y, x) µm position of the level's first voxel centre relative to level 0's;
    None means "a block mean": (voxel_size - level-0 voxel size) / 2 (wavelet LL bands sit at 0).
    ``read_cost`` is the bytes a read of the whole level costs per time point and channel, when that
    is more than its voxel bytes (a wavelet reduction still parses the whole codestream).
    """

    shape: tuple[int, int, int, int, int]
    dtype: np.dtype
    voxel_size: tuple[float, float, float]
    read_chunks: tuple[int, int, int]
    origin: tuple[float, float, float] | None = None
    read_cost: int | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__  # normalising the fields of a frozen dataclass
        put(self, "shape", _positive_ints("shape", self.shape, 5))
        put(self, "dtype", _numeric_dtype(self.dtype))
        put(self, "voxel_size", _finite_floats("voxel_size", self.voxel_size, positive=True))
        chunks = _positive_ints("read_chunks", self.read_chunks, 3)
        if any(c > n for c, n in zip(chunks, self.shape[2:], strict=True)):
            raise InvalidGeometry(f"read_chunks {chunks} exceed the level's (z, y, x) {self.shape[2:]}")
        put(self, "read_chunks", chunks)
        if self.origin is not None:
            put(self, "origin", _finite_floats("origin", self.origin, positive=False))
        if self.read_cost is not None:
            cost = _int("read_cost", self.read_cost)
            if cost < 0:
                raise InvalidGeometry(f"read_cost must not be negative, got {cost}")
            put(self, "read_cost", cost)

    @property
    def voxel_bytes(self) -> int:
        """Bytes of one (t, c) of the level's voxels."""
        return math.prod(self.shape[2:]) * self.dtype.itemsize

    @property
    def cost(self) -> int:
        """Bytes a read of the whole level costs: never less than its voxel bytes, which an exact
        overview averages whatever the storage reads."""
        return max(self.voxel_bytes, self.read_cost or 0)


    def with_voxel_size(self, voxel_size: tuple[float, float, float]) -> LevelGeometry:
        """The same level measured in other voxels (a sidecar's calibration): the origin, a physical
        position, scales with the voxels; the shape, storage and read cost stay what they are."""
        new = _finite_floats("voxel_size", voxel_size, positive=True)
        origin = self.origin
        if origin is not None:
            origin = tuple(o * n / v for o, n, v in zip(origin, new, self.voxel_size, strict=True))
        return dataclasses.replace(self, voxel_size=new, origin=origin)


def _int(name: str, value: object) -> int:
    if isinstance(value, bool | np.bool_):
        raise InvalidGeometry(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidGeometry(f"{name} must be an integer, got {value!r}") from None


def _sequence(name: str, values: object, n: int) -> tuple:
    try:
        items = tuple(values)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidGeometry(f"{name} must be {n} values, got {values!r}") from None
    if len(items) != n:
        raise InvalidGeometry(f"{name} must be {n} values, got {values!r}")
    return items


def _positive_ints(name: str, values: object, n: int) -> tuple[int, ...]:
    ints = tuple(_int(name, v) for v in _sequence(name, values, n))
    if any(v < 1 for v in ints):
        raise InvalidGeometry(f"{name} must be positive, got {ints}")
    return ints


def _finite_floats(name: str, values: object, positive: bool) -> tuple[float, ...]:
    items = _sequence(name, values, 3)
    try:
        floats = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        raise InvalidGeometry(f"{name} must be 3 numbers, got {values!r}") from None
    if not all(math.isfinite(v) and (v > 0 or not positive) for v in floats):
        raise InvalidGeometry(f"{name} must be {'positive ' if positive else ''}finite numbers, got {floats}")
    return floats


def _numeric_dtype(value: object) -> np.dtype:
    if value is None:  # np.dtype(None) would quietly be float64
        raise InvalidGeometry("dtype is missing")
    try:
        dtype = np.dtype(value)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidGeometry(f"dtype {value!r} is not a numpy dtype") from None
    if dtype.kind not in _NUMERIC_KINDS or not dtype.isnative:
        raise InvalidGeometry(f"dtype {dtype.str} is not a numeric dtype in native byte order")
    return dtype
