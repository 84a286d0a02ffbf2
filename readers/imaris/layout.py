"""Discover what an Imaris file holds: levels, time points, channels, sizes, external files.

The tree is ``DataSet/ResolutionLevel r/TimePoint t/Channel c/Data``. Group names are listed, never
assumed contiguous, and sorted numerically ("Channel 10" after "Channel 9"). The true size of each
level comes from the Channel group's ``ImageSizeX/Y/Z``: ``Data`` is padded up to whole chunks and
coarse levels are not exact halvings.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from readers.base import UnsupportedSource
from readers.imaris import attributes

log = logging.getLogger(__name__)

_NUMBERED = {prefix: re.compile(rf"^{prefix}\s*(\d+)$") for prefix in ("ResolutionLevel", "TimePoint", "Channel")}


@dataclass(frozen=True)
class LevelLayout:
    """One native level: its index, the (z, y, x) size after cropping, storage facts."""

    index: int
    size: tuple[int, int, int]
    dtype: np.dtype  # as stored (may be big-endian)
    chunks: tuple[int, int, int] | None  # None for contiguous datasets
    #: HDF5 path of ``Data`` for [time point position][channel position]
    paths: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Layout:
    levels: tuple[LevelLayout, ...]
    time_points: tuple[int, ...]  # group numbers, in order
    channels: tuple[int, ...]
    external_files: tuple[Path, ...]


def numbered(group: Any, prefix: str) -> list[tuple[int, str]]:
    """``(number, name)`` of the children called ``"<prefix> <n>"``, sorted by number."""
    pattern = _NUMBERED[prefix]
    found = []
    for name in group:  # lists link names without resolving them (external links stay cheap)
        match = pattern.match(name)
        if match:
            found.append((int(match.group(1)), name))
    return sorted(found)


def discover(h5file: Any, path: Path) -> Layout:
    """Read the layout; UnsupportedSource if this is not a servable Imaris file."""
    dataset = h5file.get("DataSet")
    if dataset is None or not hasattr(dataset, "keys"):
        raise UnsupportedSource(f"{path.name}: no DataSet group (not an Imaris file)")
    levels = numbered(dataset, "ResolutionLevel")
    if not levels or levels[0][0] != 0:
        raise UnsupportedSource(f"{path.name}: no DataSet/ResolutionLevel 0")
    level0 = dataset[levels[0][1]]
    time_points = numbered(level0, "TimePoint")
    if not time_points:
        raise UnsupportedSource(f"{path.name}: ResolutionLevel 0 has no TimePoint group")
    channels = numbered(level0[time_points[0][1]], "Channel")
    if not channels:
        raise UnsupportedSource(f"{path.name}: ResolutionLevel 0 has no Channel group")

    found: list[LevelLayout] = []
    for number, level_name in levels:
        if number != len(found):
            log.warning("%s: ResolutionLevel %d missing; coarser levels ignored", path.name, len(found))
            break
        try:
            level = _level(h5file, path, number, level_name, time_points, channels, found)
        except UnsupportedSource:
            if not found:
                raise
            log.warning("%s: ResolutionLevel %d unusable; coarser levels ignored", path.name, number)
            break
        found.append(level)
    return Layout(
        levels=tuple(found),
        time_points=tuple(n for n, _ in time_points),
        channels=tuple(n for n, _ in channels),
        external_files=tuple(external_files(h5file, path, found)),
    )


def _level(
    h5file: Any,
    path: Path,
    number: int,
    level_name: str,
    time_points: list[tuple[int, str]],
    channels: list[tuple[int, str]],
    finer: list[LevelLayout],
) -> LevelLayout:
    base = f"DataSet/{level_name}"
    paths = []
    for _, tp_name in time_points:
        tp_group = h5file.get(f"{base}/{tp_name}")
        present = set(tp_group) if tp_group is not None else set()
        missing = [name for _, name in channels if name not in present]
        if missing:
            raise UnsupportedSource(f"{path.name}: {base}/{tp_name} lacks {missing[0]}")
        paths.append(tuple(f"/{base}/{tp_name}/{ch_name}/Data" for _, ch_name in channels))

    # probe one Data object per level: touches the dataset header (and the target of an external
    # link), not its chunks; a dangling link or a missing dataset is refused here, not at read time
    first = paths[0][0]
    try:
        data = h5file[first]
        shape, dtype, chunks = data.shape, data.dtype, data.chunks
        # the Channel group as reached from this file (for BigDataProcessor it is the link target)
        group_attrs = h5file[first.rsplit("/", 1)[0]].attrs
        size = _size(group_attrs, shape, h5file, number)
    except (KeyError, OSError, RuntimeError, AttributeError, TypeError) as exc:
        where = first.lstrip("/")
        raise UnsupportedSource(f"{path.name}: cannot open {where} ({type(exc).__name__})") from None
    if len(shape) != 3:
        raise UnsupportedSource(f"{path.name}: {first.lstrip('/')} is {len(shape)}-D, expected 3-D")
    if dtype.kind not in "uif" or dtype.itemsize > 8:
        raise UnsupportedSource(f"{path.name}: unsupported data type {dtype}")
    if finer:
        prev = finer[-1]
        if dtype.newbyteorder("=") != prev.dtype.newbyteorder("="):
            raise UnsupportedSource(f"{path.name}: level {number} dtype {dtype} differs from level 0")
        # a level larger than the one before it is not a pyramid level
        if any(a > b for a, b in zip(size, prev.size, strict=True)):
            raise UnsupportedSource(f"{path.name}: level {number} is larger than level {prev.index}")
    if min(size) < 1:
        raise UnsupportedSource(f"{path.name}: level {number} is empty")
    return LevelLayout(
        index=number,
        size=size,
        dtype=dtype,
        chunks=tuple(int(c) for c in chunks) if chunks else None,
        paths=tuple(paths),
    )


def _size(group_attrs: Any, shape: tuple[int, ...], h5file: Any, number: int) -> tuple[int, int, int]:
    """(z, y, x) of the level: ImageSize* of the Channel group, else the BigDataProcessor
    ``DataSetInfo/Image`` keys (``X0``/``X1``..., or ``X`` for level 0), else the stored shape.
    Never larger than the stored shape, which would read padding that does not exist."""
    info = h5file.get("DataSetInfo/Image")
    info_attrs = info.attrs if info is not None else {}
    size = []
    for axis, stored in zip("ZYX", shape, strict=True):
        value = attributes.integer(group_attrs, f"ImageSize{axis}")
        if value is None:
            value = attributes.integer(info_attrs, f"{axis}{number}")
        if value is None and number == 0:
            value = attributes.integer(info_attrs, axis)
        if value is None or value < 1:
            value = stored
        size.append(min(int(value), int(stored)))
    return tuple(size)


def external_files(h5file: Any, path: Path, levels: list[LevelLayout]) -> list[Path]:
    """Files reached through HDF5 external links anywhere on the way to each ``Data``.

    Relative link targets are resolved against the ``.ims`` directory, as HDF5 does.
    """
    import h5py

    seen: dict[str, Path] = {}
    checked: set[str] = set()
    for level in levels:
        for row in level.paths:
            for data_path in row:
                parts = data_path.strip("/").split("/")
                for depth in range(1, len(parts) + 1):
                    link_path = "/" + "/".join(parts[:depth])
                    if link_path in checked:
                        continue
                    checked.add(link_path)
                    parent = "/" + "/".join(parts[: depth - 1])
                    try:
                        link = h5file[parent].get(parts[depth - 1], getlink=True)
                    except (KeyError, OSError):
                        break
                    if isinstance(link, h5py.ExternalLink):
                        target = Path(link.filename)
                        if not target.is_absolute():
                            target = Path(os.path.normpath(path.parent / target))
                        seen.setdefault(str(target), target)
                        break  # the rest of the path lives in the other file
    return [p for p in seen.values() if p.exists()]
