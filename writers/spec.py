"""What the format writers need to know about a served image, and nothing more."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    chunks: tuple[int, ...]
    voxel_size: tuple[float, float, float]
    translation: tuple[float, float, float]

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
