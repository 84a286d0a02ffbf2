"""Open datasets on demand: catalog record -> reader Volume (with metadata overrides) -> Pyramid."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from catalog.attached import attached_files
from catalog.record import Record
from catalog.scan import named_stamp
from catalog.store import Catalog
from readers.base import Channel, Volume
from readers.caching import Cache
from readers.registry import open_volume
from transformer.config import AUTO_TARGET
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid


class UnknownDataset(LookupError):
    """No dataset has that id (the server answers 404)."""


class Dataset:
    def __init__(self, record: Record, pyramid: Pyramid, stamp: str) -> None:
        self.record = record
        self.pyramid = pyramid
        self.stamp = stamp  # the source files' content stamp when they were opened
        self.version = served_version(record, stamp)
        self.checked = time.monotonic()  # when the catalog and the files last confirmed this record
        self.generation: object = None  # the catalog's generation when it last confirmed this record
        self.spec = pyramid.image_spec(record.title)

    def source_changed(self) -> bool:
        """Whether the files now hold other content than when they were opened (a curator re-copied,
        replaced or deleted one, with or without a rescan)."""
        return source_stamp(self.record) != self.stamp


def served_version(record: Record, stamp: str) -> str:
    """The version in every cache key and ETag: the record's, unless the files changed since the
    record was made (no rescan yet), then one of that content, so old cached levels are never mixed in."""
    return record.version if not record.stamp or stamp == record.stamp else f"{record.version}~{stamp}"


def source_stamp(record: Record) -> str:
    """The content stamp of the files the record lists, as ``catalog.scan`` computes it; "" when one is gone."""
    source = Path(record.source)
    base = str(source if source.is_dir() else source.parent)
    files = [(m["name"], os.path.join(base, m["name"])) for m in record.manifest] or [(source.name, str(source))]
    files += attached_files(base, record.attached)  # neurons and cells: a re-traced neuron is a new version
    try:
        return named_stamp(files)
    except OSError:
        return ""


class DatasetRegistry:
    """Keeps at most ``max_open`` datasets open; the least recently used one is closed beyond that.

    The open datasets are a :class:`Cache` in which each weighs 1: one thread opens a dataset while
    the others asking for it wait, and a dataset leaving the cache has its volume closed.
    """

    def __init__(self, catalog: Catalog, engine: Engine, options: PyramidOptions, max_open: int = 64) -> None:
        self.catalog = catalog
        self.engine = engine
        self.options = options
        self._open = Cache("datasets", max_open, size=lambda _ds: 1, on_evict=_close)

    #: how long an open dataset is served before its catalog record is looked at again
    RECHECK_SECONDS = 5.0

    def peek(self, dataset_id: str) -> Dataset | None:
        """The open dataset if its record was confirmed within RECHECK_SECONDS and nothing in the catalog
        changed since (a cheap pragma, safe on the loop): an access change or a revocation made by another
        process counts from the next request, with no window."""
        ds = self._open.peek(dataset_id)
        if (ds is not None and time.monotonic() - ds.checked < self.RECHECK_SECONDS
                and ds.generation == self.catalog.generation()):
            return ds
        return None

    def record(self, dataset_id: str) -> Record:
        record = self.catalog.get(dataset_id)
        if record is None:  # who may see it is the server's decision (transformer.server.auth)
            raise UnknownDataset(f"no dataset {dataset_id!r}")
        return record

    def get(self, dataset_id: str) -> Dataset:
        """The open dataset (blocking: call from a worker thread)."""
        generation = self.catalog.generation()  # before the read: a change after it is seen by the next peek
        record = self.record(dataset_id)
        while True:
            ds = self._open.get_or_compute(dataset_id, lambda: self._open_dataset(record))
            fresh = time.monotonic() - ds.checked < self.RECHECK_SECONDS
            if ds.record.version == record.version and (fresh or not ds.source_changed()):
                ds.checked = time.monotonic()
                ds.generation = generation
                return ds
            # re-registered, or its files changed, since it was opened: close the stale one (unless
            # another thread just did) and open what is there now, under a new version
            self._open.discard(dataset_id, expected=ds)

    def _open_dataset(self, record: Record) -> Dataset:
        # stamped before opening: a change while opening is seen by the next recheck, which reopens
        stamp = source_stamp(record)
        volume = open_volume(Path(record.source), record.reader, self.engine.readers)[1]
        volume = apply_overrides(volume, record)
        options = dataset_options(self.options, record)
        return Dataset(record, Pyramid(served_version(record, stamp), volume, self.engine, options), stamp)

    def stats(self) -> dict[str, int]:
        return self._open.stats()

    def close(self) -> None:
        self._open.clear()


def _close(ds: Dataset) -> None:
    ds.pyramid.volume.close()


def dataset_options(options: PyramidOptions, record: Record) -> PyramidOptions:
    """The server's pyramid options with the dataset's own chunk layout (its sidecar's ``chunks``), if any."""
    if record.chunks == "auto":
        return replace(options, chunk=AUTO_TARGET, auto=True)
    if record.chunks:
        z, y, x = record.chunks
        return replace(options, chunk=(z, y, x), auto=False)
    return options


def apply_overrides(volume: Volume, record: Record) -> Volume:
    """The catalog's word over the reader's: voxel size (sidecar or --meta), channels, kind.

    A voxel-size override rescales every level's geometry by level 0's factors; the levels keep
    reading as before and keep what their readers said of them (read cost, origin, hooks).
    """
    native = volume.voxel_size
    wanted = tuple(record.voxel_size)
    if tuple(native) != wanted:
        factors = tuple(w / n for w, n in zip(wanted, native, strict=True))
        volume.levels = [level.with_voxel_size(tuple(v * f for v, f in zip(level.voxel_size, factors, strict=True)))
                         for level in volume.levels]
    channels = []
    for native_ch, ch in zip(volume.channels, record.channels, strict=False):
        window = ch.get("window")
        channels.append(Channel(ch.get("name") or native_ch.name, ch.get("color") or native_ch.color,
                                tuple(window) if window else native_ch.window))
    volume.channels = channels or volume.channels
    volume.kind = record.kind
    return volume
