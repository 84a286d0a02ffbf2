"""Read a region of one TIFF page by decoding only the tiles or strips it touches."""

from __future__ import annotations

import math
import os
import threading

import numpy as np

from readers.base import SourceError
from readers.resources import ReaderResources

#: bytes of a row a read must skip before it reads each row's column span alone (one pread per row)
#: rather than the rows whole (one pread): measured in the page cache, a pread costs what copying ~20 KiB
#: costs, and from storage a skip under a 4 KiB page saves nothing (the page is read anyway)
SPAN_GAP = 8 << 10


def is_raw_rows(keyframe) -> bool:
    """Whether a page's strips are plain rows of samples (uncompressed, byte-aligned, untiled): any row,
    and any column span of a row, is then at a known byte offset, read without decoding anything."""
    return (
        not keyframe.is_tiled and keyframe.compression == 1 and keyframe.predictor == 1
        and keyframe.fillorder == 1 and keyframe.bitspersample in (8, 16, 32, 64)
        and not keyframe.is_subsampled and keyframe.dtype is not None
    )


def read_unit(keyframe, length: int, width: int) -> tuple[int, int]:
    """The (rows, columns) a region read of a 2-D page costs at least: its tile or strip, or for raw rows
    the row (a narrow row is read whole) or nothing coarser than a voxel (a row wide enough that spans
    of it are read alone, see SPAN_GAP)."""
    if keyframe.is_tiled:
        return min(keyframe.tilelength, length), min(keyframe.tilewidth, width)
    if is_raw_rows(keyframe):
        row_bytes = width * keyframe.shaped[4] * np.dtype(keyframe.dtype).itemsize
        return 1, (1 if row_bytes >= 2 * SPAN_GAP else width)
    return min(keyframe.rowsperstrip or length, length), width


class PageRegion:
    """Region reads on one page (or frame sharing a keyframe's layout).

    A page's normalized shape is (separate samples, depth, length, width, contig samples); its
    segments are stored sample-major, then depth, row and column of the segment grid.
    """

    def __init__(self, page, lock: threading.RLock, resources: ReaderResources) -> None:
        keyframe = page.keyframe
        self.page = page
        self.keyframe = keyframe
        self.lock = lock
        # decoded tiles/strips: a 256^2 tile feeds sixteen 64^2 chunks, so decode it once, not sixteen times
        self.tiles = resources.tiles
        self.shaped = keyframe.shaped
        planes, depth, length, width, _ = self.shaped
        if keyframe.is_tiled:
            seg = (keyframe.tiledepth, keyframe.tilelength, keyframe.tilewidth)
        else:
            seg = (1, keyframe.rowsperstrip or length, width)
        self.segment_shape = (min(seg[0], depth) if keyframe.is_tiled else 1, min(seg[1], length), seg[2])
        self.grid = (
            math.ceil(depth / max(seg[0], 1)) if keyframe.is_tiled else depth,
            math.ceil(length / seg[1]),
            math.ceil(width / seg[2]),
        )
        self._seg = seg
        # Uncompressed strips are often whole planes (one strip per page): read just the rows a region
        # needs instead of the whole strip, which for a 2048^2 plane is 32x less for a 64-row region.
        self.raw_rows = is_raw_rows(keyframe)
        expected = planes * self.grid[0] * self.grid[1] * self.grid[2]
        if len(page.dataoffsets) != expected:
            raise SourceError(
                f"page {page.index}: {len(page.dataoffsets)} segments where the layout needs {expected}"
            )

    def read(self, sample: int, d: slice, y: slice, x: slice) -> np.ndarray:
        """The (depth, y, x) region of one sample (channel) of this page; y and x may have a step."""
        if self.raw_rows:
            return self._read_raw_rows(sample, d, y, x)
        if (y.step or 1) > 1 or (x.step or 1) > 1:  # compressed segments decode whole: cut the rows after
            ys, xs = range(y.start, y.stop, y.step or 1), range(x.start, x.stop, x.step or 1)
            dense = self.read(sample, d, slice(ys.start, ys[-1] + 1), slice(xs.start, xs[-1] + 1))
            return dense[:, :: ys.step, :: xs.step]
        kf = self.keyframe
        planes, _, _, _, contig = self.shaped
        plane, comp = (sample, 0) if planes > 1 else (0, sample)
        sd, sy, sx = self._seg
        gd = range(d.start // sd, (d.stop - 1) // sd + 1) if kf.is_tiled else range(d.start, d.stop)
        gy = range(y.start // sy, (y.stop - 1) // sy + 1)
        gx = range(x.start // sx, (x.stop - 1) // sx + 1)
        nd, ny, nx = self.grid
        indices = [
            ((plane * nd + i) * ny + j) * nx + k for i in gd for j in gy for k in gx
        ]
        out = np.zeros((d.stop - d.start, y.stop - y.start, x.stop - x.start), dtype=kf.dtype)
        fh = self.page.parent.filehandle
        keys = {i: (fh.path, self.page.dataoffsets[i], self.page.databytecounts[i]) for i in indices}
        missing = []
        for index in indices:
            block = self.tiles.get(keys[index])
            if block is None:
                missing.append(index)
            else:
                _paste(out, block[..., comp], self._origin(index), (d.start, y.start, x.start))
        if not missing:
            return out
        offsets = [self.page.dataoffsets[i] for i in missing]
        counts = [self.page.databytecounts[i] for i in missing]
        decode = kf.decode
        jpegtables = getattr(kf, "jpegtables", None)
        try:
            with self.lock:
                raw = list(fh.read_segments(offsets, counts, missing, lock=self.lock, sort=True))
        except (OSError, ValueError) as exc:
            raise SourceError(f"reading page {self.page.index} failed: {exc}") from exc
        for data, index in raw:
            if data is None and self.page.databytecounts[index] > 0:
                raise SourceError(f"page {self.page.index}: segment {index} could not be read")
            try:
                block, (_, d0, y0, x0, _), shape = decode(data, index, jpegtables=jpegtables)
            except Exception as exc:  # codec errors come in many types
                raise SourceError(f"page {self.page.index}: segment {index} failed to decode: {exc}") from exc
            if block is None:
                if self.page.databytecounts[index] == 0:
                    continue  # sparse TIFF: an absent segment means fill value 0
                raise SourceError(f"page {self.page.index}: segment {index} decoded to nothing")
            block = block.reshape(block.shape[-4:])  # (depth, length, width, contig samples)
            self.tiles.put(keys[index], block)
            _paste(out, block[..., comp], (d0, y0, x0), (d.start, y.start, x.start))
        return out

    def _read_at(self, fh, offset: int, size: int) -> bytes:
        try:
            if hasattr(os, "pread"):
                return _pread(fh, offset, size)
            with self.lock:  # no pread (Windows): seek and read under the handle's lock
                fh.seek(offset)
                return fh.read(size)
        except (OSError, ValueError) as exc:
            raise SourceError(f"reading page {self.page.index} failed: {exc.strerror or exc}") from exc

    def _origin(self, index: int) -> tuple[int, int, int]:
        """(depth, row, column) of the first voxel of segment ``index``."""
        nd, ny, nx = self.grid
        rest, k = divmod(index, nx)
        rest, j = divmod(rest, ny)
        i = rest % nd
        sd, sy, sx = self._seg
        return (i * sd if self.keyframe.is_tiled else i, j * sy, k * sx)

    def _read_raw_rows(self, sample: int, d: slice, y: slice, x: slice) -> np.ndarray:
        planes, _, length, width, contig = self.shaped
        plane, comp = (sample, 0) if planes > 1 else (0, sample)
        dtype = np.dtype(self.keyframe.dtype).newbyteorder(self.page.parent.byteorder)
        pixel = contig * dtype.itemsize
        rowbytes = width * pixel
        rows_per_strip = self._seg[1]
        nd, ny, nx = self.grid
        ystep = y.step or 1
        rows_out = range(y.start, y.stop, ystep)
        columns = range(x.start, x.stop, x.step or 1)
        first, last = columns[0], columns[-1] + 1
        # a narrow column span of a wide row: each row's span alone (a pread per row), else rows whole
        by_span = rowbytes - (last - first) * pixel >= SPAN_GAP
        lo, hi = (first, last) if by_span else (0, width)  # the columns one read covers
        cols = slice(first - lo, last - lo, x.step or 1)
        # whole rows with a step: read through the rows skipped when they are fewer bytes than SPAN_GAP
        # (one pread per strip, not one per row), else one row at a time (the skipped ones never touched)
        through = not by_span and (ystep - 1) * rowbytes < SPAN_GAP
        out = np.zeros((d.stop - d.start, len(rows_out), len(columns)), dtype=dtype.newbyteorder("="))
        fh = self.page.parent.filehandle
        for di in range(d.start, d.stop):
            row = y.start
            while row < y.stop:
                strip = row // rows_per_strip
                taken = range(row, min(y.stop, (strip + 1) * rows_per_strip, length) if through else row + 1, ystep)
                at, end = (row - y.start) // ystep, taken[-1] + 1
                index = ((plane * nd + di) * ny + strip) * nx
                size = (end - row - 1) * rowbytes + (hi - lo) * pixel
                start = (row - strip * rows_per_strip) * rowbytes + lo * pixel
                if self.page.databytecounts[index] == 0:  # sparse TIFF: absent strip = zeros
                    row = taken[-1] + ystep
                    continue
                if start + size > self.page.databytecounts[index]:
                    raise SourceError(f"page {self.page.index}: strip {index} is shorter than its rows")
                buf = self._read_at(fh, self.page.dataoffsets[index] + start, size)
                if len(buf) != size:
                    raise SourceError(f"page {self.page.index}: strip {index} is truncated")
                rows = np.frombuffer(buf, dtype).reshape(end - row, hi - lo, contig)
                out[di - d.start, at : at + len(taken)] = rows[::ystep, cols, comp]
                row = taken[-1] + ystep
        return out


def _pread(fh, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` without moving the shared file position (no lock needed).

    Never a memory map: touching a mapped page past the end of a file that shrank (a curator
    re-copying it) is a SIGBUS that kills the whole process; a read just comes back short.
    """
    return os.pread(fh.fileno(), size, offset + fh._offset)  # _offset: a TIFF embedded in a larger file


def _paste(out: np.ndarray, block: np.ndarray, origin: tuple, region_start: tuple) -> None:
    """Copy the overlap of ``block`` (placed at ``origin``) into ``out`` (placed at ``region_start``)."""
    src, dst = [], []
    for o, r, bn, on in zip(origin, region_start, block.shape, out.shape, strict=True):
        lo = max(o, r)
        hi = min(o + bn, r + on)
        if hi <= lo:
            return
        src.append(slice(lo - o, hi - o))
        dst.append(slice(lo - r, hi - r))
    out[tuple(dst)] = block[tuple(src)]
