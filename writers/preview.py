"""Thumbnails and previews: a coloured projection of a coarse pyramid level as PNG (no HTTP, no I/O).

The caller picks the level (:func:`pick_level`), reads the planes (:func:`plane_range` says which) and hands
the (c, z, y, x) block to :func:`render`, which takes the maximum over z per channel, scales each channel
by its display window, tints it with its colour, adds the channels and encodes a PNG with imagecodecs.
Label volumes are coloured by label id instead (a window means nothing for ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import imagecodecs
import numpy as np

from writers.spec import ChannelSpec, LevelSpec

#: the most voxels one projection reads per channel: a coarse level's central planes, never a whole big level
MAX_VOXELS = 16 << 20
MAX_CHANNELS = 8


@dataclass(frozen=True)
class Plan:
    """What a projection reads: one level, its first time point, a run of central z planes."""

    level: int
    z: slice
    channels: int

    def describe(self, levels: int) -> str:
        planes = self.z.stop - self.z.start
        what = ("middle plane" if planes == 1
                else f"maximum-intensity projection of z planes {self.z.start}–{self.z.stop - 1}")
        return f"{what} of level {self.level} (levels 0–{levels - 1}), first time point"


def pick_level(levels: Sequence[LevelSpec], size: int) -> int:
    """The coarsest level at least ``size`` voxels wide in y or x (else the finest): enough detail for the
    image, the least reading."""
    for index in range(len(levels) - 1, -1, -1):
        if max(levels[index].shape[3:]) >= size:
            return index
    return 0


def plan(levels: Sequence[LevelSpec], size: int) -> Plan:
    level = pick_level(levels, size)
    _, nc, nz, ny, nx = levels[level].shape
    planes = max(1, min(nz, MAX_VOXELS // max(1, ny * nx)))
    start = (nz - planes) // 2
    return Plan(level, slice(start, start + planes), min(nc, MAX_CHANNELS))


def render(block: np.ndarray, channels: Sequence[ChannelSpec], size: int, labels: bool = False) -> bytes:
    """PNG of a (c, z, y, x) block: per channel the maximum over z, windowed, coloured, added; at most
    ``size`` pixels on the longer side (nearest sampling, aspect kept)."""
    projection = block.max(axis=1)  # (c, y, x)
    projection = _fit(projection, size)
    if labels:
        rgb = _label_colours(projection[0])
    else:
        rgb = np.zeros((*projection.shape[1:], 3), np.float32)
        for plane, channel in zip(projection, channels, strict=False):
            lo, hi = channel.window
            scaled = np.clip((plane.astype(np.float32) - lo) / max(hi - lo, 1e-12), 0, 1)
            rgb += scaled[..., None] * np.asarray(_colour(channel.color), np.float32)
        rgb = np.clip(rgb, 0, 1) * 255
    return imagecodecs.png_encode(np.ascontiguousarray(np.rint(rgb).astype(np.uint8)))


def _fit(projection: np.ndarray, size: int) -> np.ndarray:
    _, ny, nx = projection.shape
    scale = min(1.0, size / max(ny, nx))
    rows = np.minimum((np.arange(max(1, round(ny * scale))) / scale).astype(int), ny - 1)
    cols = np.minimum((np.arange(max(1, round(nx * scale))) / scale).astype(int), nx - 1)
    return projection[:, rows][:, :, cols]


def _colour(hex_rgb: str) -> tuple[float, float, float]:
    return tuple(int(hex_rgb[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def _label_colours(ids: np.ndarray) -> np.ndarray:
    """A stable bright colour per label id; 0 (background) black."""
    mixed = (ids.astype(np.uint64) * np.uint64(2654435761)) & np.uint64(0xFFFFFF)
    rgb = np.stack([(mixed >> np.uint64(s)) & np.uint64(0xFF) for s in (16, 8, 0)], axis=-1).astype(np.float32)
    rgb = 64 + rgb * (191 / 255)
    rgb[ids == 0] = 0
    return rgb
