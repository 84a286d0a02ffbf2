"""What the format writers need to know about a served image, and nothing more."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import product

import numpy as np

AXES = ("t", "c", "z", "y", "x")


@dataclass(frozen=True)
class ChannelSpec:
    label: str
    color: str  # RRGGBB
    window: tuple[float, float]  # display start, end
    range: tuple[float, float]  # dtype min, max


@dataclass(frozen=True)
class LevelSpec:
    """One served resolution level. Shapes and chunks are (t, c, z, y, x); sizes are (z, y, x) in µm."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]  # the layout the pyramid reads and caches blocks in; zarr serves this one
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]
    #: the (t, c, z, y, x) chunk shapes a view that can choose lists (precomputed's ``chunk_sizes``), one per
    #: orientation in the same order at every level (xy, any, xz, yz): Neuroglancer picks one position by the
    #: finest level's shapes and reads that position's shape at every level, so a position must mean one
    #: orientation throughout; empty: ``chunks`` only
    orientations: tuple[tuple[int, ...], ...] = ()

    @property
    def alternates(self) -> tuple[tuple[int, ...], ...]:
        """The shapes of ``orientations`` other than ``chunks``, once each: the pyramid reads their chunks as
        blocks of their own (Pyramid.chunk's ``layout``)."""
        return tuple(dict.fromkeys(shape for shape in self.orientations if shape != self.chunks))

    @property
    def layouts(self) -> tuple[tuple[int, ...], ...]:
        """Every chunk shape of this level, ``chunks`` first."""
        return (self.chunks, *self.alternates)

    def in_layout(self, layout: int) -> LevelSpec:
        """This level cut into chunk shape ``layouts[layout]`` (its grid and chunk regions)."""
        return self if layout == 0 else replace(self, chunks=self.layouts[layout], orientations=())

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(s / c) for s, c in zip(self.shape, self.chunks, strict=True))

    def chunk_region(self, index: tuple[int, ...]) -> tuple[slice, ...]:
        """The (t, c, z, y, x) voxel region of a chunk, clipped to the level."""
        return tuple(
            slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, self.chunks, self.shape, strict=True)
        )


@dataclass(frozen=True)
class ImageSpec:
    name: str
    dtype: str  # numpy dtype name, native little-endian
    levels: tuple[LevelSpec, ...]
    channels: tuple[ChannelSpec, ...]
    downsampling: str = "mean"
    kind: str = "intensity"
    sampled_from: int | None = None  # levels past this one are every n-th voxel of it (bounded-cost overview)
    time_interval: float | None = None  # seconds between time points, when known


#: reads the decoded (z, y, x) block at a (t, c, z, y, x) grid index of a level's ``chunks``
BlockReader = Callable[[tuple[int, ...]], np.ndarray]


def blocks_touched(level: LevelSpec, t: int, c: int, region: tuple[slice, slice, slice]) -> list[tuple[int, ...]]:
    """The grid indices of ``level.chunks`` that a (z, y, x) region touches."""
    ranges = [range(s.start // n, (s.stop - 1) // n + 1) for s, n in zip(region, level.chunks[2:], strict=True)]
    return [(t, c, *index) for index in product(*ranges)]


def assemble(level: LevelSpec, read: BlockReader, t: int, c: int, region: tuple[slice, slice, slice],
             dtype: np.dtype) -> np.ndarray:
    """Any (z, y, x) region of one level, copied out of the blocks of ``level.chunks`` it touches."""
    out = np.empty(tuple(s.stop - s.start for s in region), dtype)
    for index in blocks_touched(level, t, c, region):
        paste(out, region, read(index), [i * n for i, n in zip(index[2:], level.chunks[2:], strict=True)])
    return out


def paste(out: np.ndarray, region: tuple[slice, ...], block: np.ndarray, origin: list[int], add: bool = False) -> None:
    """Copy (or ``add``) the part of ``block`` (whose first voxel is at ``origin``) inside ``region`` into ``out``
    (which holds ``region``)."""
    src, dst = [], []
    for s, o, n in zip(region, origin, block.shape, strict=True):
        a, b = max(s.start, o), min(s.stop, o + n)
        src.append(slice(a - o, b - o))
        dst.append(slice(a - s.start, b - s.start))
    if add:
        out[tuple(dst)] += block[tuple(src)]
    else:
        out[tuple(dst)] = block[tuple(src)]
