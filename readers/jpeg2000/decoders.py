"""Decoding a region of one slice at one reduction, with glymur or with imagecodecs.

Both return (y, x, components) arrays and check them against the slice's header, so a slice that
decodes to another size or dtype than the stack raises SourceError instead of being served wrong.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from readers.base import SourceError
from readers.identity import Identity, check_unchanged, identity
from readers.jpeg2000.errors import source_error
from readers.jpeg2000.header import SliceHeader
from readers.jpeg2000.openjpeg import decode_area
from readers.resources import ReaderResources

_tokens = itertools.count()


class SliceDecoder:
    """Shared bookkeeping: the slices, their headers and the cache keys of one open volume."""

    def __init__(self, files: list[Path], headers: Sequence[SliceHeader], resources: ReaderResources,
                 opened: Sequence[Identity] | None = None) -> None:
        self.files, self.headers = files, headers
        # each slice's identity when its header was parsed: a slice re-copied or replaced since is
        # refused (the server reopens the dataset under a new version) rather than decoded under the old one
        self.opened = opened if opened is not None else [identity(f) for f in files]
        # regions: RGB regions asked once per channel, reduced slices asked by nested overview levels;
        # planes: whole slices (imagecodecs) and whole HTJ2K tiles
        self.regions, self.planes = resources.regions, resources.planes
        # cache keys carry a per-volume token so close() can discard exactly this volume's entries (no file
        # stays open between decodes: OpenJPEG opens the slice for each one)
        self.token = ("jpeg2000", next(_tokens))
        self._estimated_bytes: int | None = None

    def region(self, index: int, r: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        raise NotImplementedError

    def _unchanged(self, index: int) -> None:
        check_unchanged(self.files[index], self.opened[index])

    def estimated_bytes(self) -> int:
        """The slices' size on disk (what decoding every slice once reads), estimated from the slices
        sampled at open (a stat of every slice would make opening O(n) in slices)."""
        if self._estimated_bytes is None:
            sample = getattr(self.headers, "sampled", None) or range(len(self.files))
            sizes = [self.files[i].stat().st_size for i in sample]
            self._estimated_bytes = sum(sizes) * len(self.files) // len(sizes)
        return self._estimated_bytes

    def close(self) -> None:
        self.regions.discard_prefix(self.token)
        self.planes.discard_prefix(self.token)

    def _checked(self, index: int, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        head = self.headers[index]
        if arr.shape != (*shape, head.components) or arr.dtype != head.dtype:
            raise SourceError(
                f"{head.name}: decoded {arr.shape} {arr.dtype}, expected {(*shape, head.components)} "
                f"{np.dtype(head.dtype)} like the other slices"
            )
        return arr


class GlymurDecoder(SliceDecoder):
    """Regions at any reduction: OpenJPEG (the system libopenjp2 glymur binds) decodes only the tiles and
    code-blocks the region touches, and only up to the requested resolution (the wavelet LL band)."""

    def region(self, index: int, r: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        head = self.headers[index]
        area = head.grid_area(r, y0, y1, x0, x1)
        if head.htj2k:
            # OpenJPEG 2.5.0 returns wrong values (flat mid-grey) for HT code-blocks cut by the
            # decode area, yet whole tiles decode exactly: decode the touched tiles, then crop
            tiles = head.whole_tiles(area)
            s = 1 << r
            oy, ox = -(-area[0] // s) - -(-tiles[0] // s), -(-area[1] // s) - -(-tiles[1] // s)
            key = (*self.token, index, r, *tiles)
            block = self.planes.get_or_compute(key, lambda: self._decode(index, r, tiles))
            return block[oy : oy + y1 - y0, ox : ox + x1 - x0]
        if head.components == 1 and r == 0:
            return self._decode(index, r, area)  # the pyramid keeps the chunk; a copy here would be waste
        # RGB regions are asked once per channel; reduced slices by nested overview levels (every 2nd,
        # every 4th slice...) at once: decode each once
        key = (*self.token, index, r, *area)
        return self.regions.get_or_compute(key, lambda: self._decode(index, r, area))

    def _decode(self, index: int, r: int, area: tuple[int, int, int, int]) -> np.ndarray:
        self._unchanged(index)
        path, head = self.files[index], self.headers[index]
        top, left, bottom, right = area
        step = 1 << r
        try:
            arr = decode_area(path, head.codestream, r, area, head.dtype)
        except Exception as exc:  # noqa: BLE001 - OpenJPEGError, OSError, a component of another size...
            raise source_error(exc, path, "JPEG 2000 decoding failed") from exc
        shape = (-(-bottom // step) - -(-top // step), -(-right // step) - -(-left // step))
        return self._checked(index, arr, shape)


class ImagecodecsDecoder(SliceDecoder):
    """Level 0 only: imagecodecs decodes whole slices (no region, no reduction), so slices are cached."""

    def region(self, index: int, r: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        if r != 0:
            raise SourceError("imagecodecs decodes full resolution only")
        plane = self.planes.get_or_compute((*self.token, index), lambda: self._decode(index))
        return plane[y0:y1, x0:x1]

    def _decode(self, index: int) -> np.ndarray:
        import imagecodecs

        self._unchanged(index)
        path = self.files[index]
        try:
            arr = imagecodecs.jpeg2k_decode(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - Jpeg2kError, OSError...
            raise source_error(exc, path, "JPEG 2000 decoding failed") from exc
        head = self.headers[index]
        return self._checked(index, arr, (head.height, head.width))
