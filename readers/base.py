"""The contract between readers and the rest of the service.

A reader turns source files into a :class:`Volume`: always 5-D (t, c, z, y, x), one or more
native resolution levels, each able to read any region while touching only the bytes it needs.
Readers never compute pyramids, never encode output and know nothing of HTTP.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from readers.resources import ReaderResources

AXES = ("t", "c", "z", "y", "x")


class ReaderError(Exception):
    """Base class of every error a reader raises."""


class UnsupportedSource(ReaderError):
    """The path is not something this reader can serve (refused at scan time)."""


class SourceError(ReaderError):
    """The source exists but could not be read (corrupt, truncated, broken link)."""


class OutsideVolume(IndexError):
    """A requested region lies outside a level (the caller asked for something that does not exist)."""


@dataclass(frozen=True)
class Channel:
    """Display facts of one channel; ``window`` is the (start, end) contrast range if known."""

    name: str
    color: str = "FFFFFF"
    window: tuple[float, float] | None = None


class Level(abc.ABC):
    """One native resolution level of a volume.

    ``shape`` is (t, c, z, y, x); ``voxel_size`` is (z, y, x) in micrometres; ``read_chunks`` is the
    (z, y, x) block the source stores natively (tiles, strips, HDF5 chunks), a hint for alignment.
    """

    shape: tuple[int, int, int, int, int]
    dtype: np.dtype
    voxel_size: tuple[float, float, float]
    read_chunks: tuple[int, int, int]
    #: (z, y, x) µm position of this level's first voxel centre relative to level 0's; None means
    #: "a block mean": (voxel_size - level-0 voxel size) / 2. Wavelet LL bands sit at 0.
    origin: tuple[float, float, float] | None = None

    @abc.abstractmethod
    def read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Return the (z, y, x) region of time point ``t`` and channel ``c``.

        Slices have explicit, in-bounds ``start``/``stop`` and step 1.
        """

    def read_sampled(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Every ``step``-th voxel of a region: ``read(...)[::sz, ::sy, ::sx]`` without reading the rest.

        Bounded-cost overviews of big sources use it. Slices have explicit, in-bounds ``start``/``stop``
        and a ``step`` ≥ 1. This default reads one bounding plane per sampled z; readers that can skip
        rows (raw strips) override it.
        """
        zs, ys, xs = (range(s.start, s.stop, s.step or 1) for s in (z, y, x))
        bounds_y, bounds_x = slice(ys.start, ys[-1] + 1), slice(xs.start, xs[-1] + 1)
        if zs.step == 1:  # consecutive planes: one read keeps chunked sources from re-decoding per plane
            return self.read(t, c, z, bounds_y, bounds_x)[:, :: ys.step, :: xs.step]
        out = np.empty((len(zs), len(ys), len(xs)), self.dtype)
        for i, zi in enumerate(zs):
            plane = self.read(t, c, slice(zi, zi + 1), bounds_y, bounds_x)
            out[i] = plane[0, :: ys.step, :: xs.step]
        return out

    def read_cost(self) -> int:
        """Bytes to read from storage for the whole level once, per time point and channel.

        The service samples its overview instead of averaging it when this is large. The default is
        the level's voxel bytes; a reader whose reduced levels still read more (a wavelet reduction
        parses the whole codestream) says so.
        """
        return int(np.prod(self.shape[2:])) * np.dtype(self.dtype).itemsize

    def check_region(self, t: int, c: int, z: slice, y: slice, x: slice) -> None:
        """Raise OutsideVolume (an IndexError) unless the request lies inside this level."""
        nt, nc, nz, ny, nx = self.shape
        if not (0 <= t < nt and 0 <= c < nc):
            raise OutsideVolume(f"t={t}, c={c} outside shape {self.shape}")
        for s, n in ((z, nz), (y, ny), (x, nx)):
            if s.start is None or s.stop is None or not (0 <= s.start < s.stop <= n):
                raise OutsideVolume(f"region {s} outside 0..{n}")


@dataclass
class Volume:
    """A source opened by a reader: native levels (finest first) plus descriptive facts.

    ``downsampling`` names how native levels below level 0 were made (``"mean"``, ``"wavelet"``...);
    ``kind`` is ``"intensity"`` or ``"labels"`` (labels are downsampled by mode, not mean).
    """

    levels: list[Level]
    channels: list[Channel]
    format: str
    kind: str = "intensity"
    downsampling: str = "mean"
    metadata: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    _closers: list = field(default_factory=list, repr=False)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        return self.levels[0].voxel_size

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReaderPlugin(abc.ABC):
    """A source format: a cheap ``claims`` sniff for scanning and an ``open`` that builds the Volume.

    Plugins are registered under the entry-point group ``transformer.readers``; heavy imports belong
    inside ``open`` so discovering plugins stays cheap.
    """

    name: str = ""
    #: lower runs first when several plugins claim a path
    priority: int = 100
    extensions: Sequence[str] = ()

    @abc.abstractmethod
    def claims(self, path: Path) -> bool:
        """Cheap check (extension, magic bytes, folder contents): may this plugin open ``path``?"""

    @abc.abstractmethod
    def open(self, path: Path, resources: ReaderResources | None = None) -> Volume:
        """Open ``path``; raise UnsupportedSource or SourceError when it cannot be served.

        ``resources`` (caches, handle pool, settings) come from the service; None means
        :func:`readers.resources.default_resources`.
        """


def default_channels(n: int, names: Sequence[str] | None = None) -> list[Channel]:
    """Grey for one channel, a distinct colour for each of several."""
    palette = ["FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00", "FFFFFF"]
    if n == 1:
        return [Channel(names[0] if names else "channel 0", "FFFFFF")]
    return [
        Channel(names[i] if names and i < len(names) else f"channel {i}", palette[i % len(palette)])
        for i in range(n)
    ]
