"""The contract between readers and the rest of the service.

A reader turns source files into a :class:`Volume`: always 5-D (t, c, z, y, x), one or more
native resolution levels, each able to read any region while touching only the bytes it needs.
Readers never compute pyramids, never encode output and know nothing of HTTP.
"""

from __future__ import annotations

import abc
import copy
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from readers.geometry import InvalidGeometry as InvalidGeometry  # re-exported: part of the contract
from readers.geometry import LevelGeometry
from readers.scrub import describe

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


class ReaderBug(Exception):
    """A reader broke its own contract: a programming error (AttributeError, TypeError...) or a wrong
    array from a read hook. Not a ReaderError: the source is fine, the plugin is not, so the server
    answers a generic internal error and logs this one."""


#: what a read hook raising these says about the plugin's code, not about the bytes it read
PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    AttributeError, TypeError, NameError, AssertionError, NotImplementedError, RecursionError, ImportError,
    OutsideVolume,  # the base already checked the region: a hook stepping outside it is confused
)


@dataclass(frozen=True)
class Channel:
    """Display facts of one channel; ``window`` is the (start, end) contrast range if known."""

    name: str
    color: str = "FFFFFF"
    window: tuple[float, float] | None = None


class Level(abc.ABC):
    """One native resolution level of a volume: validated geometry plus a reader's read hooks.

    The public :meth:`read` and :meth:`read_sampled` belong to this base class. They check the region,
    call the reader's private hook (``_read``; ``_read_sampled`` where the reader has a cheaper strided
    read), check the returned array and sort failures: ReaderError passes through, a programming error
    becomes :class:`ReaderBug`, anything else (OSError, codec errors on damaged bytes) SourceError.
    """

    def __init__(self, geometry: LevelGeometry) -> None:
        if not isinstance(geometry, LevelGeometry):
            raise TypeError(f"{type(self).__name__} needs a LevelGeometry, got {type(geometry).__name__}")
        self._geometry = geometry

    @property
    def geometry(self) -> LevelGeometry:
        try:
            return self._geometry
        except AttributeError:
            raise ReaderBug(f"{type(self).__name__}.__init__ did not call Level.__init__(geometry)") from None

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self.geometry.shape

    @property
    def dtype(self) -> np.dtype:
        return self.geometry.dtype

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        return self.geometry.voxel_size

    @property
    def read_chunks(self) -> tuple[int, int, int]:
        return self.geometry.read_chunks

    @property
    def origin(self) -> tuple[float, float, float] | None:
        return self.geometry.origin

    def read_cost(self) -> int:
        """Bytes to read from storage for the whole level once, per time point and channel.

        The service samples its overview instead of averaging it when this is large.
        """
        return self.geometry.cost

    @property
    def cheap_sampled_reads(self) -> bool:
        """Whether the reader skips unsampled rows or tiles itself (it has a ``_read_sampled`` hook)."""
        return type(self)._read_sampled is not Level._read_sampled

    def with_voxel_size(self, voxel_size: tuple[float, float, float]) -> Level:
        """This level, reading the same data, with other voxel sizes (and so a scaled origin)."""
        other = copy.copy(self)
        other._geometry = self.geometry.with_voxel_size(voxel_size)
        return other

    def read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """The (z, y, x) region of time point ``t`` and channel ``c``, an array of this level's dtype.

        Slices have explicit, in-bounds ``start``/``stop`` and step 1; anything else raises
        OutsideVolume (an IndexError) before the reader is asked.
        """
        region = self.__checked_region(t, c, (z, y, x), strided=False)
        return self.__run_hook(self._read, t, c, region)

    def read_sampled(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Every ``step``-th voxel of a region: ``read(...)[::sz, ::sy, ::sx]`` without reading the rest.

        Bounded-cost overviews of big sources use it. Slices have explicit, in-bounds ``start``/``stop``
        and a ``step`` >= 1.
        """
        region = self.__checked_region(t, c, (z, y, x), strided=True)
        return self.__run_hook(self._read_sampled, t, c, region)

    @abc.abstractmethod
    def _read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Hook: the region, already checked to lie inside the level (slices with step 1).

        Read only the bytes it needs; raise SourceError (with a message naming files, never full
        server paths) when the bytes turn out to be damaged.
        """

    def _read_sampled(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Hook: a strided region, already checked. This default reads one bounding plane per sampled
        z (consecutive planes at once); readers that can skip rows or tiles override it."""
        zs, ys, xs = (range(s.start, s.stop, s.step) for s in (z, y, x))
        bounds_y, bounds_x = slice(ys.start, ys[-1] + 1, 1), slice(xs.start, xs[-1] + 1, 1)
        if zs.step == 1:  # consecutive planes: one read keeps chunked sources from re-decoding per plane
            return self._read(t, c, z, bounds_y, bounds_x)[:, :: ys.step, :: xs.step]
        out = np.empty((len(zs), len(ys), len(xs)), self.dtype)
        for i, zi in enumerate(zs):
            plane = self._read(t, c, slice(zi, zi + 1, 1), bounds_y, bounds_x)
            out[i] = plane[0, :: ys.step, :: xs.step]
        return out

    # The two helpers below are name-mangled (__) so that a reader's own helper methods can never
    # shadow them by accident.
    def __checked_region(self, t: int, c: int, zyx: tuple[slice, ...], strided: bool) -> tuple[slice, ...]:
        """The region as slices with explicit int start, stop and step; OutsideVolume unless inside."""
        nt, nc, *sizes = self.shape
        if not (0 <= operator.index(t) < nt and 0 <= operator.index(c) < nc):
            raise OutsideVolume(f"t={t}, c={c} outside shape {self.shape}")
        out = []
        for s, n in zip(zyx, sizes, strict=True):
            step = 1 if s.step is None else s.step
            if s.start is None or s.stop is None or not (0 <= s.start < s.stop <= n):
                raise OutsideVolume(f"region {s} outside 0..{n}")
            if step < 1 or (step > 1 and not strided):
                raise OutsideVolume(f"region {s}: step {step} (read takes step 1, read_sampled a step >= 1)")
            out.append(slice(operator.index(s.start), operator.index(s.stop), operator.index(step)))
        return tuple(out)

    def __run_hook(self, hook, t: int, c: int, region: tuple[slice, ...]) -> np.ndarray:
        """Call a read hook, sort what it raises and check what it returns."""
        name = f"{type(self).__name__}.{hook.__name__}"
        try:
            out = hook(t, c, *region)
        except (ReaderError, ReaderBug, MemoryError):
            raise
        except PROGRAMMING_ERRORS as exc:
            raise ReaderBug(f"{name} failed: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # OSError, codec and library errors on damaged bytes
            raise SourceError(f"reading the source failed: {describe(exc)}") from exc
        expected = tuple(len(range(s.start, s.stop, s.step)) for s in region)
        if not isinstance(out, np.ndarray) or out.shape != expected or out.dtype != self.dtype:
            got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
            raise ReaderBug(f"{name} returned {got} for a region of {expected} {self.dtype}")
        return out


@dataclass
class Volume:
    """A source opened by a reader: native levels (finest first) plus descriptive facts.

    ``downsampling`` names how native levels below level 0 were made (``"mean"``, ``"wavelet"``...);
    ``kind`` is ``"intensity"`` or ``"labels"`` (labels are downsampled by mode, not mean). Levels
    share (t, c) and dtype; there is one channel per c.
    """

    levels: list[Level]
    channels: list[Channel]
    format: str
    kind: str = "intensity"
    downsampling: str = "mean"
    metadata: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    _closers: list[Callable[[], object]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.levels or not all(isinstance(level, Level) for level in self.levels):
            raise TypeError(f"a Volume needs one or more Level objects, got {self.levels!r}")
        first = self.levels[0]
        for level in self.levels[1:]:
            if level.shape[:2] != first.shape[:2] or level.dtype != first.dtype:
                raise ValueError(f"level {level.shape} {level.dtype} differs in (t, c) or dtype from "
                                 f"level 0 {first.shape} {first.dtype}")
        if len(self.channels) != first.shape[1]:
            raise ValueError(f"{len(self.channels)} channels described for {first.shape[1]} in the data")

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        return self.levels[0].voxel_size

    def on_close(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` when the volume closes: release pooled handles, caches, temporary state."""
        self._closers.append(fn)

    def close(self) -> None:
        """Run the closers once, latest first; every one runs even if an earlier one fails."""
        closers, self._closers = self._closers, []
        errors = []
        for fn in reversed(closers):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others ran
                errors.append(exc)
        if errors:
            raise errors[0]

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

    def preload(self) -> None:  # noqa: B027 - an optional hook: by default nothing to import
        """Import what ``open`` needs (the heavy modules kept out of discovery), so the first dataset a
        viewer opens does not wait for them; the service calls it once at start-up, off the event loop."""


def default_channels(n: int, names: Sequence[str] | None = None) -> list[Channel]:
    """Grey for one channel, a distinct colour for each of several."""
    palette = ["FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00", "FFFFFF"]
    if n == 1:
        return [Channel(names[0] if names else "channel 0", "FFFFFF")]
    return [
        Channel(names[i] if names and i < len(names) else f"channel {i}", palette[i % len(palette)])
        for i in range(n)
    ]
