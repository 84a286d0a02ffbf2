"""A box of one level as a file: .npy, OME-TIFF (tifffile) or HDF5 (h5py), written slab by slab.

No HTTP here. A box is always 5-D (t, c, z, y, x). The writers take a ``read(t, c, z, y)`` function
that returns one (z, y, x) slab of one time point and channel (whole planes, or bands of rows of one
plane when a plane alone is over SLAB_BYTES), so at most about SLAB_BYTES is in memory whatever the box.
"""

from __future__ import annotations

import io
import math
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from writers.errors import MalformedKey, NoSuchKey
from writers.preallocated import Preallocated
from writers.spec import AXES, ImageSpec

#: one slab holds at most about this many bytes (and always at least one row of x)
SLAB_BYTES = 32 * 1024 * 1024
TIFF_TILE = 256  # planes over SLAB_BYTES are written as tiles of this size, one band of rows at a time
FORMATS = {"npy": ".npy", "tiff": ".ome.tif", "h5": ".h5"}
MEDIA_TYPES = {"npy": "application/octet-stream", "tiff": "image/tiff", "h5": "application/x-hdf5"}

SlabReader = Callable[[int, int, slice, slice], np.ndarray]  # (t, c, z range, y range) -> (z, y, x)


@dataclass(frozen=True)
class Box:
    """A region of one level: half-open ranges on (t, c, z, y, x)."""

    level: int
    ranges: tuple[slice, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.ranges)

    def nbytes(self, dtype: np.dtype | str) -> int:
        return math.prod(self.shape) * np.dtype(dtype).itemsize

    def spelled(self) -> str:
        """``t0-1_c0-2_z10-20_y0-64_x5-9``: for file names."""
        return "_".join(f"{a}{s.start}-{s.stop}" for a, s in zip(AXES, self.ranges, strict=True))


def parse_range(axis: str, raw: str | None, extent: int) -> slice:
    """``a:b``, ``a:``, ``:b``, ``:`` or a single index ``a``; omitted → the whole extent.

    A stop past the extent is clipped (like numpy and zarr); a start at or past it is outside the volume.
    """
    if raw is None or raw.strip() in ("", ":"):
        return slice(0, extent)
    text = raw.strip()
    parts = text.split(":")
    try:
        if len(parts) == 1:
            start, stop = int(parts[0]), int(parts[0]) + 1
        elif len(parts) == 2:
            start = int(parts[0]) if parts[0].strip() else 0
            stop = int(parts[1]) if parts[1].strip() else extent
        else:
            raise ValueError
    except ValueError:
        raise MalformedKey(f"{axis}={raw!r}: give a range start:stop or a single index") from None
    if start < 0 or stop < 0:
        raise MalformedKey(f"{axis}={raw!r}: negative indices are not allowed")
    if stop <= start:
        raise MalformedKey(f"{axis}={raw!r} is empty: stop must be greater than start")
    if start >= extent:
        raise NoSuchKey(f"{axis}={raw!r} starts outside the volume (extent {extent} on {axis})")
    return slice(start, min(stop, extent))


def parse_box(level: int, raw: dict[str, str | None], shape: tuple[int, ...]) -> Box:
    """The box named by per-axis range strings (``raw[axis]``) in a level of ``shape`` (t, c, z, y, x)."""
    return Box(level, tuple(parse_range(a, raw.get(a), n) for a, n in zip(AXES, shape, strict=True)))


def plane_bytes(box: Box, dtype: np.dtype | str) -> int:
    _, _, _, ny, nx = box.shape
    return ny * nx * np.dtype(dtype).itemsize


def slabs(box: Box, dtype: np.dtype | str, rows: int | None = None) -> Iterator[tuple[int, int, slice, slice]]:
    """(t, c, z range, y range) of every slab of ``box``, in C order of the 5-D array: several whole planes
    while a plane fits in SLAB_BYTES, else one plane at a time in bands of ``rows`` rows (default: as many
    as fit)."""
    t, c, z, y, _ = box.ranges
    plane = plane_bytes(box, dtype)
    if plane <= SLAB_BYTES and rows is None:
        depth, rows = max(1, SLAB_BYTES // max(1, plane)), y.stop - y.start
    else:
        row = max(1, plane // (y.stop - y.start))
        depth, rows = 1, rows or max(1, SLAB_BYTES // row)
    for ti in range(t.start, t.stop):
        for ci in range(c.start, c.stop):
            for z0 in range(z.start, z.stop, depth):
                for y0 in range(y.start, y.stop, rows):
                    yield ti, ci, slice(z0, min(z0 + depth, z.stop)), slice(y0, min(y0 + rows, y.stop))


def reads(fmt: str, box: Box, dtype: np.dtype | str) -> Iterator[tuple[int, int, slice, slice]]:
    """The slabs the writer of ``fmt`` reads, in the order it reads them (so a reader can start the next
    one early): tiled OME-TIFF planes in bands of TIFF_TILE rows, else :func:`slabs`."""
    if fmt == "tiff" and plane_bytes(box, dtype) > SLAB_BYTES:
        return slabs(box, dtype, rows=TIFF_TILE)
    return slabs(box, dtype)


def npy_header(box: Box, dtype: np.dtype | str) -> bytes:
    """The .npy header of the whole box; the slabs' bytes follow it in order."""
    buf = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": box.shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def npy_chunks(box: Box, dtype: np.dtype | str, read: SlabReader) -> Iterator[bytes | memoryview]:
    """A .npy file as a sequence of byte strings: the header, then one slab at a time (its bytes without a
    copy: ``tobytes`` copied each 32 MiB slab once more). The server sends exactly these pieces."""
    yield npy_header(box, dtype)
    for t, c, z, y in slabs(box, dtype):
        yield memoryview(np.ascontiguousarray(read(t, c, z, y), dtype=dtype)).cast("B")


def npy_bytes(box: Box, dtype: np.dtype | str) -> int:
    """The length of the .npy file of ``box``: its ``Content-Length``."""
    return len(npy_header(box, dtype)) + box.nbytes(dtype)


@dataclass(frozen=True)
class Physical:
    """What the OME-TIFF and HDF5 files say about the box besides its voxels."""

    voxel_size: tuple[float, float, float]  # z, y, x in µm
    origin: tuple[float, float, float]  # z, y, x in µm of the box's first voxel
    channel_names: tuple[str, ...]  # of the box's channels
    name: str


def physical(spec: ImageSpec, box: Box) -> Physical:
    """The box's voxel size, origin and channel names, from the served image."""
    level = spec.levels[box.level]
    origin = tuple(o + s.start * v for o, s, v in zip(level.translation, box.ranges[2:], level.voxel_size, strict=True))
    names = tuple(ch.label for ch in spec.channels[box.ranges[1].start : box.ranges[1].stop])
    return Physical(level.voxel_size, origin, names, spec.name)


def write_tiff(path: Path, box: Box, dtype: np.dtype | str, read: SlabReader, meta: Physical) -> None:
    """An OME-TIFF (TCZYX, one page per plane) with the level's physical voxel size and channel names.

    Planes over SLAB_BYTES are tiled: each band of TIFF_TILE rows is read once and cut into tiles."""
    import tifffile

    tiled = plane_bytes(box, dtype) > SLAB_BYTES

    def planes() -> Iterator[np.ndarray]:
        for t, c, z, y in slabs(box, dtype):
            yield from read(t, c, z, y)

    def tiles() -> Iterator[np.ndarray]:
        n = TIFF_TILE
        for t, c, z, y in reads("tiff", box, dtype):
            band = read(t, c, z, y)[0]
            for x0 in range(0, band.shape[1], n):
                tile = np.zeros((n, n), band.dtype)
                part = band[:, x0 : x0 + n]
                tile[: part.shape[0], : part.shape[1]] = part
                yield tile

    vz, vy, vx = meta.voxel_size
    metadata = {
        "axes": "TCZYX", "Name": meta.name,
        "PhysicalSizeZ": vz, "PhysicalSizeY": vy, "PhysicalSizeX": vx,
        "PhysicalSizeZUnit": "µm", "PhysicalSizeYUnit": "µm", "PhysicalSizeXUnit": "µm",
        "Channel": {"Name": list(meta.channel_names)},
    }
    big = box.nbytes(dtype) > 2**32 - 2**25  # classic TIFF offsets are 32-bit
    with tifffile.TiffWriter(path, bigtiff=big, ome=True) as tif:
        tif.write(tiles() if tiled else planes(), shape=box.shape, dtype=np.dtype(dtype), metadata=metadata,
                  photometric="minisblack", tile=(TIFF_TILE, TIFF_TILE) if tiled else None)


def write_h5(path: Path, box: Box, dtype: np.dtype | str, read: SlabReader, meta: Physical) -> None:
    """An HDF5 file with the dataset ``data`` (t, c, z, y, x) and its attributes.

    Its disk space is taken before HDF5 writes (writers/preallocated.py): a disk or a file size limit
    without room fails at once, never inside HDF5."""
    import h5py

    shape = box.shape
    with path.open("w+b") as raw:
        space = Preallocated(raw.fileno(), file_bytes("h5", box, dtype))
        with h5py.File(space, "w") as f:
            data = f.create_dataset("data", shape=shape, dtype=np.dtype(dtype), chunks=h5_chunks(shape))
            data.attrs["axes"] = "tczyx"
            data.attrs["element_size_um"] = meta.voxel_size  # z, y, x: the convention Fiji and ilastik read
            data.attrs["origin_um"] = meta.origin
            data.attrs["level"] = box.level
            data.attrs["box"] = [[s.start, s.stop] for s in box.ranges]
            data.attrs["channel_names"] = list(meta.channel_names)
            data.attrs["name"] = meta.name
            t0, c0, z0, y0 = (s.start for s in box.ranges[:4])
            for t, c, z, y in slabs(box, dtype):
                data[t - t0, c - c0, z.start - z0 : z.stop - z0, y.start - y0 : y.stop - y0] = read(t, c, z, y)
        space.finish()


def h5_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1, 1, *(min(n, 64) for n in shape[2:]))


WRITERS = {"tiff": write_tiff, "h5": write_h5}


def file_bytes(fmt: str, box: Box, dtype: np.dtype | str) -> int:
    """At most how many bytes the file of ``fmt`` takes on disk (what a server reserves before writing):
    the voxels (HDF5: whole chunks, edge chunks included), a page directory or chunk index entry per plane
    or chunk, and 64 KiB of metadata."""
    shape, itemsize = box.shape, np.dtype(dtype).itemsize
    if fmt == "h5":
        chunks = h5_chunks(shape)
        counts = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]
        return math.prod(counts) * (math.prod(chunks) * itemsize + 64) + (64 << 10)
    planes = math.prod(shape[:3])
    tiles = planes * -(-shape[3] // TIFF_TILE) * -(-shape[4] // TIFF_TILE)
    padded = tiles * TIFF_TILE * TIFF_TILE * itemsize if plane_bytes(box, dtype) > SLAB_BYTES else box.nbytes(dtype)
    return padded + planes * 512 + tiles * 16 + (64 << 10)


class Abandoned(Exception):
    """Nobody wants the file being written any more (the client disconnected)."""


class StorageFull(Exception):
    """The file could not be written: the disk, a quota or the process's file size limit is full."""


def write_file(fmt: str, path: Path, box: Box, dtype: np.dtype | str, read: SlabReader, meta: Physical,
               stop: threading.Event) -> None:
    """Write ``box`` as ``fmt`` to ``path``; once ``stop`` is set, stop before the next slab is read
    (raising :class:`Abandoned`), and delete the partial file whatever ended the writing. A failure of the
    source is raised as it is; the file system refusing the bytes (an OSError of the writer, not of a read)
    is :class:`StorageFull`."""
    read_failed: list[BaseException] = []

    def read_unless_stopped(t: int, c: int, z: slice, y: slice) -> np.ndarray:
        if stop.is_set():
            raise Abandoned(f"stopped writing {path.name}: nobody is waiting for it")
        try:
            return read(t, c, z, y)
        except BaseException as exc:
            read_failed.append(exc)
            raise

    try:
        WRITERS[fmt](path, box, dtype, read_unless_stopped, meta)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if read_failed:  # as the reader raised it, whatever the writing library wrapped it in
            raise read_failed[0] from None
        if isinstance(exc, OSError):  # by its errno only: HDF5's message names the file and its folder
            reason = os.strerror(exc.errno) if exc.errno else "the file system refused it"
            # the writer's objects die here, in this thread: a half-closed HDF5 file left in the frames of
            # the traceback and freed later on another thread crashed the process (SIGSEGV)
            traceback.clear_frames(exc.__traceback__)
            raise StorageFull(f"writing the file failed: {reason}") from None
        raise
