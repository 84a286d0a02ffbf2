"""Open TIFF sources as Volumes: a single (multi-page, OME, pyramidal) file or a folder of slices."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

from readers.base import Level, LevelGeometry, SourceError, UnsupportedSource, Volume
from readers.handles import HandlePool
from readers.identity import Identity, check_unchanged, identity
from readers.resources import ReaderResources
from readers.tiff import slice_files
from readers.tiff.channels import channels as ome_channels
from readers.tiff.layout import SeriesLayout, layout_of
from readers.tiff.segments import PageRegion, read_unit
from readers.tiff.voxels import voxel_size


class _Handle:
    """An open TiffFile with the lock that serialises its file-position-dependent reads."""

    def __init__(self, path: Path, resources: ReaderResources) -> None:
        self.resources = resources
        try:
            self.tif = tifffile.TiffFile(path)
        except Exception as exc:  # tifffile raises many types on garbage input
            raise UnsupportedSource(f"{path.name}: not a readable TIFF ({exc})") from exc
        try:
            self.series = self.tif.series
        except Exception as exc:  # a header that opens but series that do not: the file is closed, not leaked
            self.tif.close()
            raise UnsupportedSource(f"{path.name}: not a readable TIFF ({exc})") from exc
        self.lock = threading.RLock()
        self.regions: dict[int, PageRegion] = {}

    @property
    def header_bytes(self) -> int:
        """About what the parsed header holds: its tags, and two Python ints per strip or tile (measured: a
        one-strip slice ~10 KiB, 8,192 one-row strips ~360 KiB)."""
        try:
            return 8192 + 44 * len(self.series[0].keyframe.dataoffsets)
        except Exception:  # noqa: BLE001 - a header tifffile could open but not walk: weigh the minimum
            return 0

    def close(self) -> None:
        self.tif.close()


def _handle(pool: HandlePool, key: tuple, path: Path, resources: ReaderResources) -> _Handle:
    """``path``'s handle from ``pool``: ``resources.handles`` for single files, ``resources.slices`` for the
    slices of a folder."""
    return pool.get(key, lambda: _Handle(path, resources), _Handle.close)


@contextlib.contextmanager
def _leased(pool: HandlePool, key: tuple, path: Path, resources: ReaderResources,
            opened: Identity) -> Iterator[_Handle]:
    """The handle (from ``pool``, as :func:`_handle`), kept open for the duration of a read even if the pool
    evicts it meanwhile.

    The file must still hold what it held when the volume was opened (its parsed offsets say where
    that content was); a read that fails lets go of the handle, so the next one opens the file afresh.
    """
    try:
        check_unchanged(path, opened)
        with pool.lease(key, lambda: _Handle(path, resources), _Handle.close) as handle:
            yield handle
    except (SourceError, UnsupportedSource):
        pool.discard(key)
        raise


class TiffLevel(Level):
    """One pyramid level of a single TIFF file's first series."""

    def __init__(self, key: tuple, path: Path, index: int, layout: SeriesLayout, geometry: LevelGeometry,
                 resources: ReaderResources, opened: Identity):
        super().__init__(geometry)
        self.key, self.path, self.index, self.layout = key, path, index, layout
        self.resources = resources
        self.opened = opened  # the file's identity when its layout was parsed

    def _region(self, handle: _Handle, frame: int) -> PageRegion:
        cache_key = (self.index, frame)
        region = handle.regions.get(cache_key)
        if region is None:
            with handle.lock:
                page = handle.series[0].levels[self.index].pages[frame]
                region = PageRegion(page, handle.lock, handle.resources)
            handle.regions[cache_key] = region
        return region

    def _read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        out = np.empty((z.stop - z.start, y.stop - y.start, x.stop - x.start), self.dtype)
        zi = z.start
        with _leased(self.resources.handles, self.key, self.path, self.resources, self.opened) as handle:
            while zi < z.stop:
                frame, sample, depth = self.layout.locate(t, c, zi)
                n = min(z.stop - zi, self.layout.page_depth - depth)
                block = self._region(handle, frame).read(sample, slice(depth, depth + n), y, x)
                out[zi - z.start : zi - z.start + n] = block
                zi += n
        return out

    def _read_sampled(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        zs = range(z.start, z.stop, z.step)
        planes = []
        with _leased(self.resources.handles, self.key, self.path, self.resources, self.opened) as handle:
            for zi in zs:
                frame, sample, depth = self.layout.locate(t, c, zi)
                planes.append(self._region(handle, frame).read(sample, slice(depth, depth + 1), y, x)[0])
        return np.stack(planes)


def open_file(path: Path, resources: ReaderResources) -> Volume:
    key = ("tiff", str(path))
    resources.handles.discard(key)  # a re-open (e.g. a rescan) must see the file as it is now
    opened = identity(path)  # before parsing: a change while parsing is seen at the first read
    handle = _handle(resources.handles, key, path, resources)
    try:
        return _volume_of_file(key, path, handle, opened)
    except Exception:
        resources.handles.discard(key)
        raise


def _volume_of_file(key: tuple, path: Path, handle: _Handle, opened: Identity) -> Volume:
    if not handle.series:
        raise UnsupportedSource(f"{path.name}: no image series")
    series = handle.series[0]
    tif = handle.tif
    _check_complete(path, tif, series)
    base_vsize, vsource = voxel_size(tif, series.keyframe)
    levels: list[Level] = []
    files = {path}
    for index, level in enumerate(series.levels):
        keyframe = level.keyframe
        layout = layout_of(level.axes, level.shape, keyframe.axes)
        pages = level.pages
        nframes = math.prod(s for _, s in layout.frame_axes)
        if len(pages) < nframes or any(p is None for p in pages[:nframes]):
            raise UnsupportedSource(f"{path.name}: planes are missing from the file (dangling IFD references)")
        if keyframe.dtype is None:
            raise UnsupportedSource(f"{path.name}: unsupported sample format")
        for page in pages[:nframes]:
            files.add(Path(page.parent.filehandle.path))
        if index == 0:
            y0, x0 = layout.shape[3:]
            vsize = base_vsize
        else:
            ny, nx = layout.shape[3:]
            vsize = (base_vsize[0], base_vsize[1] * y0 / ny, base_vsize[2] * x0 / nx)
        if levels and layout.shape[:3] != levels[0].shape[:3]:
            break  # a reduced level that also reduces z or channels is not a pyramid level we can use
        geometry = LevelGeometry(layout.shape, keyframe.dtype, vsize, _native_chunks(keyframe, layout))
        levels.append(TiffLevel(key, path, index, layout, geometry, handle.resources, opened))
    vol = Volume(
        levels=levels,
        channels=ome_channels(tif.ome_metadata, levels[0].shape[1]),
        format="tiff",
        downsampling="mean",
        metadata={"voxel_size_source": vsource, "tiff_axes": series.axes},
        files=sorted(files),
    )
    vol.on_close(lambda: handle.resources.handles.discard(key))
    return vol


def _check_complete(path: Path, tif, series) -> None:
    """Refuse a file that holds fewer images than its own metadata declares (cut short by a copy):
    tifffile falls back to what it could parse, and a 64-plane stack cut to 40 % was served as one plane."""
    declared = None
    if tif.is_shaped and tif.shaped_metadata and "shape" in tif.shaped_metadata[0]:
        declared = math.prod(tif.shaped_metadata[0]["shape"])
        held = math.prod(series.shape)
    elif tif.is_imagej and tif.imagej_metadata and "images" in tif.imagej_metadata:
        declared = int(tif.imagej_metadata["images"])
        held = math.prod(n for axis, n in zip(series.axes, series.shape, strict=True) if axis not in "YXS")
    if declared is not None and held < declared:
        raise UnsupportedSource(f"{path.name}: holds fewer images than its metadata declares (truncated?)")


def _native_chunks(keyframe, layout: SeriesLayout) -> tuple[int, int, int]:
    _, _, _, ny, nx = layout.shape
    depth = layout.page_depth if keyframe.is_tiled and layout.page_depth > 1 else 1
    return (depth, *read_unit(keyframe, ny, nx))


class SliceFolderLevel(Level):
    """A folder of 2-D TIFF files, one per z, in natural order."""

    def __init__(self, folder: Path, files: list[Path], geometry: LevelGeometry, resources: ReaderResources,
                 opened: list[Identity]):
        super().__init__(geometry)
        self.folder, self.files, self.resources = folder, files, resources
        self.opened = opened  # each slice's identity when the folder was opened

    def _region(self, handle: _Handle, path: Path) -> PageRegion:
        region = handle.regions.get(0)
        if region is None:
            with handle.lock:
                page = handle.series[0].keyframe
                samples = max(page.shaped[0], page.shaped[4])  # an RGB slice in a grey stack: never its first sample
                if (page.shaped[2], page.shaped[3]) != self.shape[3:] or page.dtype != self.dtype \
                        or samples != self.shape[1] or page.shaped[1] != 1:
                    raise SourceError(f"slice {path.name} differs in size, type or samples from the first slice")
                region = PageRegion(page, handle.lock, handle.resources)
            handle.regions[0] = region
        return region

    def _read(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        return self._planes(c, range(z.start, z.stop), y, x)

    def _read_sampled(self, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        return self._planes(c, range(z.start, z.stop, z.step), y, x)

    def _planes(self, c: int, zs: range, y: slice, x: slice) -> np.ndarray:
        out = None
        for i, zi in enumerate(zs):
            path = self.files[zi]
            try:
                with _leased(self.resources.slices, ("tiff", str(self.folder), path.name), path, self.resources,
                             self.opened[zi]) as handle:
                    plane = self._region(handle, path).read(c, slice(0, 1), y, x)[0]
            except UnsupportedSource as exc:  # a slice damaged after registration
                raise SourceError(str(exc)) from exc
            if out is None:
                out = np.empty((len(zs), *plane.shape), self.dtype)
            out[i] = plane
        return out


def open_folder(folder: Path, resources: ReaderResources) -> Volume:
    files = slice_files(folder)
    if not files:
        raise UnsupportedSource(f"{folder.name}: no TIFF slices")
    resources.slices.discard_prefix(("tiff", str(folder)))
    try:
        opened = [identity(f) for f in files]
    except OSError as exc:
        raise UnsupportedSource(f"{folder.name}: a slice vanished while the folder was opened") from exc
    first = _handle(resources.slices, ("tiff", str(folder), files[0].name), files[0], resources)
    page = first.series[0].keyframe
    if page.dtype is None:
        raise UnsupportedSource(f"{files[0].name}: unsupported sample format")
    planes, depth, ny, nx, contig = page.shaped
    if depth != 1 or len(first.series[0].pages) != 1:
        raise UnsupportedSource(f"{folder.name}: slices must be single 2-D images")
    samples = max(planes, contig)
    vsize, vsource = voxel_size(first.tif, page)
    vsize = (vsize[2] if vsource != "ome-xml" else vsize[0], vsize[1], vsize[2])
    # Check a sample of slices up front so a mixed folder is refused at scan, not mid-request.
    step = max(1, len(files) // 16)
    for path in sorted(set(files[::step]) | {files[-1]}):
        other = _handle(resources.slices, ("tiff", str(folder), path.name), path, resources).series[0].keyframe
        if other.shaped != page.shaped or other.dtype != page.dtype:
            raise UnsupportedSource(f"{folder.name}: slice {path.name} differs from {files[0].name}")
    chunks = (1, *read_unit(page, ny, nx))
    level = SliceFolderLevel(folder, files, LevelGeometry((1, samples, len(files), ny, nx), page.dtype, vsize, chunks),
                             resources, opened)
    vol = Volume(
        levels=[level],
        channels=ome_channels(None, samples),
        format="tiff-slices",
        metadata={"voxel_size_source": vsource, "slices": len(files)},
        files=files,
    )
    vol.on_close(lambda: resources.slices.discard_prefix(("tiff", str(folder))))
    return vol
