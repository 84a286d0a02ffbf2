"""Write valid Imaris 5.5 files from an in-memory (t, c, z, y, x) array: test and demo data.

The output follows the official layout (FORMATS.md A3) closely enough to exercise every quirk a
reader must handle:

- string attributes are 1-D arrays of 1-byte ``C_S1``/``NULLTERM`` strings, written through the
  low-level h5py API exactly as Imaris writes them; numbers are written as text;
- ``Data`` is chunked and, with ``pad=True``, padded up to whole chunks, the padding filled with
  non-zero garbage so a reader that forgets to crop to ``ImageSize*`` is caught;
- resolution levels follow the Imaris rule: a dimension is halved (floor) only when
  ``(10·dim)² > product of the other two``, by 2×2×2 (or 2×2) means rounded half up;
- per-channel histograms, ``DataSetInfo`` (extents on voxel borders, unit, channel names and
  colours, time info) and a thumbnail;
- optionally (``external=True``) the BigDataProcessor layout: a header ``.ims`` whose
  ``Channel`` groups are HDF5 external links into one ``<stem>--C<cc>--T<ttttt>.h5`` per channel and
  time point.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

#: Imaris stops adding levels once one has fewer voxels than this
MIN_TOP_VOXELS = 4 * 1024 * 1024
DEFAULT_CHUNKS = (32, 128, 128)  # about 1 MB of uint16, Imaris's target block size
HISTOGRAM_BINS = 256
UM_PER_UNIT = {"m": 1e6, "mm": 1e3, "um": 1.0, "nm": 1e-3}
_DEFAULT_COLORS = ("FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00", "FFFFFF")

ColorSpec = str | Sequence[float]


def reduce_flags(size_zyx: Sequence[int]) -> tuple[bool, bool, bool]:
    """Which of (z, y, x) the next Imaris level halves: ``(10·n)² > product of the other two``."""
    z, y, x = (int(n) for n in size_zyx)
    return (
        z >= 2 and (10 * z) ** 2 > x * y,
        y >= 2 and (10 * y) ** 2 > x * z,
        x >= 2 and (10 * x) ** 2 > y * z,
    )


def level_sizes(
    size_zyx: Sequence[int], levels: int | None = None, min_voxels: int = MIN_TOP_VOXELS
) -> list[tuple[int, int, int]]:
    """(z, y, x) of every level by the Imaris rule.

    ``levels=None`` adds levels until one has fewer than ``min_voxels`` voxels (Imaris's own stop);
    an explicit count stops there, or earlier when no dimension can be halved any more.
    """
    sizes = [tuple(int(n) for n in size_zyx)]
    while True:
        current = sizes[-1]
        if levels is not None and len(sizes) >= levels:
            break
        if levels is None and math.prod(current) < min_voxels:
            break
        flags = reduce_flags(current)
        if not any(flags):
            break
        sizes.append(tuple(n // 2 if f else n for n, f in zip(current, flags, strict=True)))
    return sizes


def downsample_mean(block: np.ndarray, size_zyx: Sequence[int]) -> np.ndarray:
    """2×2×2 / 2×2 mean of ``block`` (z, y, x) down to ``size_zyx``; integers round half up.

    An axis of size n becomes n // 2 (the odd last plane is dropped) or stays n.
    """
    factors = [n // m for n, m in zip(block.shape, size_zyx, strict=True)]
    if any(f not in (1, 2) for f in factors):
        raise ValueError(f"cannot reduce {block.shape} to {tuple(size_zyx)} by halving")
    cropped = block[tuple(slice(0, m * f) for m, f in zip(size_zyx, factors, strict=True))]
    shape = [v for m, f in zip(size_zyx, factors, strict=True) for v in (m, f)]
    mean = cropped.astype(np.float64).reshape(shape).mean(axis=(1, 3, 5))
    if block.dtype.kind in "ui":
        info = np.iinfo(block.dtype)
        mean = np.clip(np.floor(mean + 0.5), info.min, info.max)
    return mean.astype(block.dtype)


def write_ims(
    path: str | Path,
    data_tczyx: np.ndarray,
    voxel_size_zyx: Sequence[float],
    levels: int | None = None,
    chunks: Sequence[int] | None = None,
    compression: str | None = "gzip",
    pad: bool = True,
    channel_names: Sequence[str] | None = None,
    colors: Sequence[ColorSpec] | None = None,
    *,
    unit: str = "um",
    origin_zyx: Sequence[float] = (0.0, 0.0, 0.0),
    external: bool = False,
    thumbnail: bool = True,
    name: str = "generated",
    description: str = "",
    compression_level: int = 2,
    seed: int = 0,
) -> list[Path]:
    """Write ``data_tczyx`` as an Imaris file at ``path`` and return every file written.

    - ``data_tczyx``: 5-D array (t, c, z, y, x) of uint8, uint16, uint32 or float32, in any byte
      order (a big-endian array gives big-endian datasets, as some writers produce).
    - ``voxel_size_zyx``: level-0 voxel size in micrometres; ``origin_zyx`` is the outer corner of
      the image box in micrometres. ``unit`` ("m", "mm", "um", "nm") is the unit the extents are
      written in (converted from micrometres).
    - ``levels``: number of resolution levels (None: Imaris's own stop rule, which gives a single
      level for volumes under 4 Mi voxels). Sizes always follow the Imaris halving rule.
    - ``chunks``: HDF5 chunk shape (z, y, x), clipped per level to the level size.
    - ``compression``: "gzip" (level ``compression_level``), "lz4" (LZ4 + byte shuffle, Imaris 9.6+;
      needs hdf5plugin) or None.
    - ``pad``: round each ``Data`` shape up to whole chunks and fill the padding with non-zero
      garbage (readers must crop to ``ImageSize*``).
    - ``channel_names`` / ``colors``: per channel; colours as "RRGGBB" or (r, g, b) floats in 0–1.
    - ``external``: BigDataProcessor layout (header ``.ims`` + one ``.h5`` per channel and time point
      reached through HDF5 external links).
    """
    import h5py

    path = Path(path)
    data = np.asarray(data_tczyx)
    if data.ndim != 5:
        raise ValueError(f"data_tczyx must be 5-D (t, c, z, y, x), got shape {data.shape}")
    if data.dtype.kind not in "uif":
        raise ValueError(f"unsupported dtype {data.dtype}")
    if unit not in UM_PER_UNIT:
        raise ValueError(f"unit must be one of {sorted(UM_PER_UNIT)}")
    nt, nc = data.shape[:2]
    sizes = level_sizes(data.shape[2:], levels)
    chunk0 = tuple(int(c) for c in (chunks or DEFAULT_CHUNKS))
    storage = _storage_options(compression, compression_level)
    rng = np.random.default_rng(seed)
    written = [path]

    with h5py.File(path, "w", libver="earliest") as f:
        _root_attributes(f)
        for t in range(nt):
            for c in range(nc):
                pyramid = _pyramid(data[t, c], sizes)
                if not external:
                    for r, block in enumerate(pyramid):
                        group = f.create_group(f"DataSet/ResolutionLevel {r}/TimePoint {t}/Channel {c}")
                        _write_channel(group, block, chunk0, pad, storage, rng)
                    continue
                ext_path = path.with_name(f"{path.stem}--C{c:02d}--T{t:05d}.h5")
                written.append(ext_path)
                with h5py.File(ext_path, "w", libver="earliest") as ext:
                    for r, block in enumerate(pyramid):
                        level = f"ResolutionLevel {r}"
                        _write_channel(ext.create_group(level), block, chunk0, pad, storage, rng)
                        # BigDataProcessor links the Channel group to a group of the data file
                        tp = f.require_group(f"DataSet/{level}/TimePoint {t}")
                        tp[f"Channel {c}"] = h5py.ExternalLink(f"./{ext_path.name}", level)
        names = list(channel_names or [])
        _dataset_info(f, data, sizes, voxel_size_zyx, origin_zyx, unit, names, colors, name, description)
        if thumbnail:
            _thumbnail(f, data[0, 0])
    return written


def _pyramid(block: np.ndarray, sizes: list[tuple[int, int, int]]) -> Iterator[np.ndarray]:
    """Each level of one (t, c) volume, every level the mean of the one before (as Imaris does)."""
    for r, size in enumerate(sizes):
        if r:
            block = downsample_mean(block, size)
        yield block


def _storage_options(compression: str | None, level: int) -> dict[str, Any]:
    if compression is None:
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": int(level)}
    if compression == "lz4":
        import hdf5plugin

        return {"shuffle": True, **hdf5plugin.LZ4()}
    raise ValueError(f"compression must be 'gzip', 'lz4' or None, not {compression!r}")


def _write_channel(
    group: Any, block: np.ndarray, chunk0: Sequence[int], pad: bool, storage: dict, rng: np.random.Generator
) -> None:
    size = block.shape
    chunks = tuple(max(1, min(c, n)) for c, n in zip(chunk0, size, strict=True))
    shape = tuple(-(-n // c) * c for n, c in zip(size, chunks, strict=True)) if pad else size
    stored = np.empty(shape, dtype=block.dtype)
    if shape != size:
        # non-zero garbage in the padding: a reader that does not crop shows it
        if block.dtype.kind == "f":
            stored[...] = rng.uniform(1e6, 2e6, size=shape)
        else:
            high = min(np.iinfo(block.dtype).max, 2**31 - 1)
            stored[...] = rng.integers(1, high, size=shape, endpoint=True, dtype=np.int64)
    stored[: size[0], : size[1], : size[2]] = block
    group.create_dataset("Data", data=stored, chunks=chunks, **storage)
    for axis, n in zip("ZYX", size, strict=True):
        set_text(group, f"ImageSize{axis}", str(n))
    for axis, n in zip("ZYX", chunks, strict=True):
        set_text(group, f"ImageBlockSize{axis}", str(n))
    _histogram(group, block, HISTOGRAM_BINS, "")
    if block.dtype.itemsize >= 2 and block.dtype.kind == "u":
        _histogram(group, block, 1024, "1024")


def _histogram(group: Any, block: np.ndarray, bins: int, suffix: str) -> None:
    lo, hi = (float(block.min()), float(block.max())) if block.size else (0.0, 1.0)
    if not hi > lo:
        hi = lo + 1.0
    counts, _ = np.histogram(block, bins=bins, range=(lo, hi))
    group.create_dataset(f"Histogram{suffix}", data=counts.astype(np.uint64))
    set_text(group, f"HistogramMin{suffix}", f"{lo:.3f}")
    set_text(group, f"HistogramMax{suffix}", f"{hi:.3f}")


def set_text(obj: Any, name: str, value: str) -> None:
    """Write ``value`` as Imaris does: a (len,) array of 1-byte C_S1 NULLTERM strings."""
    import h5py

    raw = value.encode("utf-8") or b"\x00"  # Imaris writes an empty string as one NUL
    string_type = h5py.h5t.C_S1.copy()
    string_type.set_size(1)
    string_type.set_strpad(h5py.h5t.STR_NULLTERM)
    space = h5py.h5s.create_simple((len(raw),))
    key = name.encode("utf-8")
    if h5py.h5a.exists(obj.id, key):
        h5py.h5a.delete(obj.id, key)
    attr = h5py.h5a.create(obj.id, key, string_type, space)
    # memory type = file type: a conversion to NULLTERM size 1 would keep only the terminator
    attr.write(np.frombuffer(raw, dtype="S1").copy(), mtype=string_type)


def _root_attributes(f: Any) -> None:
    set_text(f, "DataSetDirectoryName", "DataSet")
    set_text(f, "DataSetInfoDirectoryName", "DataSetInfo")
    set_text(f, "ImarisDataSet", "ImarisDataSet")
    set_text(f, "ImarisVersion", "5.5.0")
    set_text(f, "ThumbnailDirectoryName", "Thumbnail")
    f.attrs.create("NumberOfDataSets", np.array([1], dtype=np.uint32))


def _color_text(spec: ColorSpec) -> str:
    if isinstance(spec, str):
        hexa = spec.lstrip("#")
        rgb = [int(hexa[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]
    else:
        rgb = [float(v) for v in spec][:3]
    return " ".join(f"{v:.3f}" for v in rgb)


def _dataset_info(
    f: Any,
    data: np.ndarray,
    sizes: list[tuple[int, int, int]],
    voxel_size_zyx: Sequence[float],
    origin_zyx: Sequence[float],
    unit: str,
    channel_names: list[str],
    colors: Sequence[ColorSpec] | None,
    name: str,
    description: str,
) -> None:
    nt, nc, nz, ny, nx = data.shape
    per_unit = UM_PER_UNIT[unit]
    image = f.create_group("DataSetInfo/Image")
    # Ext*0..2 are X, Y, Z: the outer voxel borders, in ``unit``
    for axis, n, voxel, origin in zip((2, 1, 0), (nz, ny, nx), voxel_size_zyx, origin_zyx, strict=True):
        set_text(image, f"ExtMin{axis}", f"{origin / per_unit:.10g}")
        set_text(image, f"ExtMax{axis}", f"{(origin + n * voxel) / per_unit:.10g}")
    for axis, n in zip("ZYX", (nz, ny, nx), strict=True):
        set_text(image, axis, str(n))
    set_text(image, "Unit", unit)
    set_text(image, "Noc", str(nc))
    set_text(image, "Name", name)
    set_text(image, "Description", description)
    set_text(image, "RecordingDate", "2000-01-01 00:00:00.000")
    set_text(image, "ResolutionLevels", str(len(sizes)))

    imaris = f.create_group("DataSetInfo/Imaris")
    set_text(imaris, "Version", "7.0")
    set_text(imaris, "ThumbnailMode", "thumbnailMIP")
    set_text(imaris, "ThumbnailSize", "256")
    creator = f.create_group("DataSetInfo/ImarisDataSet")
    set_text(creator, "Creator", "brain-transformer")
    set_text(creator, "NumberOfImages", "1")
    set_text(creator, "Version", "5.5")

    for c in range(nc):
        group = f.create_group(f"DataSetInfo/Channel {c}")
        color = colors[c] if colors and c < len(colors) else _DEFAULT_COLORS[c % len(_DEFAULT_COLORS)]
        set_text(group, "Name", channel_names[c] if c < len(channel_names) else f"Channel {c}")
        set_text(group, "Description", "")
        set_text(group, "Color", _color_text(color))
        set_text(group, "ColorMode", "BaseColor")
        set_text(group, "ColorOpacity", "1.000")
        lo, hi = float(data[:, c].min()), float(data[:, c].max())
        set_text(group, "ColorRange", f"{lo:.3f} {max(hi, lo + 1):.3f}")

    time_info = f.create_group("DataSetInfo/TimeInfo")
    set_text(time_info, "DatasetTimePoints", str(nt))
    set_text(time_info, "FileTimePoints", str(nt))
    start = datetime(2000, 1, 1)
    for t in range(nt):
        stamp = (start + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S.000")
        set_text(time_info, f"TimePoint{t + 1}", stamp)


def _thumbnail(f: Any, volume_zyx: np.ndarray, side: int = 256) -> None:
    """Grey RGBA maximum projection, (side, 4·side) uint8, as Imaris stores it."""
    mip = volume_zyx.max(axis=0).astype(np.float64)
    rows = np.arange(side) * mip.shape[0] // side
    cols = np.arange(side) * mip.shape[1] // side
    small = mip[rows][:, cols]
    lo, hi = small.min(), small.max()
    grey = ((small - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(small)).astype(np.uint8)
    rgba = np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=-1)
    f.create_dataset("Thumbnail/Data", data=rgba.reshape(side, side * 4))
