"""Assemble a :class:`readers.base.Volume` from an Imaris file."""

from __future__ import annotations

from pathlib import Path

from readers.base import UnsupportedSource, Volume
from readers.imaris import files, metadata
from readers.imaris.layout import discover
from readers.imaris.level import ImarisLevel
from readers.resources import ReaderResources
from readers.scrub import scrub


def open_ims(path: Path, resources: ReaderResources) -> Volume:
    """Open ``path`` as an Imaris volume; the file handle goes to the shared pool.

    UnsupportedSource when the file is not HDF5, not Imaris, or its first level's data cannot be
    reached (e.g. a dangling external link); the pool entry is dropped in that case.
    """
    path = Path(path).absolute()
    try:
        handle = files.pooled(path, resources)
    except OSError as exc:
        raise UnsupportedSource(f"{path.name}: not a readable HDF5 file ({scrub(str(exc))})") from None
    try:
        return _build(path, handle, resources)
    except UnsupportedSource:
        files.release(path, resources)
        raise
    except (KeyError, OSError, RuntimeError, ValueError, TypeError) as exc:
        # metadata that h5py cannot even parse: the file is damaged, refuse it at scan time
        files.release(path, resources)
        reason = scrub(str(exc))
        raise UnsupportedSource(f"{path.name}: unreadable Imaris structure ({reason})") from None


def _build(path: Path, handle: files.OpenFile, resources: ReaderResources) -> Volume:
    h5file = handle.file
    layout = discover(h5file, path)
    info = h5file.get("DataSetInfo/Image")
    info_attrs = info.attrs if info is not None else {}
    size0 = layout.levels[0].size
    box = metadata.extent_um(info_attrs, size0)
    levels = [
        ImarisLevel(path, level, len(layout.channels), metadata.voxel_size(box, level.size), resources)
        for level in layout.levels
    ]
    channels = metadata.channels(h5file, layout)
    meta = metadata.describe(h5file, info_attrs, box)
    meta["time_point_groups"] = list(layout.time_points)
    meta["channel_groups"] = list(layout.channels)
    volume = Volume(
        levels=levels,
        channels=channels,
        format="imaris",
        kind="intensity",
        downsampling="mean",  # Imaris builds its ResolutionLevels by 2x2x2 / 2x2 means
        metadata=meta,
        files=[path, *layout.external_files],
    )
    volume.on_close(lambda: files.release(path, resources))
    return volume
