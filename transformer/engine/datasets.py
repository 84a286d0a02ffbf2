"""Open datasets on demand: catalog record -> reader Volume (with metadata overrides) -> Pyramid."""

from __future__ import annotations

import time
from pathlib import Path

from catalog.record import Record
from catalog.store import Catalog
from readers.base import Channel, Volume
from readers.caching import Cache
from readers.registry import open_volume
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid


class UnknownDataset(LookupError):
    """No public dataset has that id (the server answers 404)."""


class Dataset:
    def __init__(self, record: Record, pyramid: Pyramid) -> None:
        self.record = record
        self.pyramid = pyramid
        # the version in every cache key and ETag: a re-registered dataset never serves stale bytes
        self.version = record.version
        self.checked = time.monotonic()  # when the catalog last confirmed this record
        self.spec = pyramid.image_spec(record.title)


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
        """The open dataset if its record was confirmed within RECHECK_SECONDS (no I/O: safe on the loop)."""
        ds = self._open.peek(dataset_id)
        if ds is not None and time.monotonic() - ds.checked < self.RECHECK_SECONDS:
            return ds
        return None

    def record(self, dataset_id: str) -> Record:
        record = self.catalog.get(dataset_id)
        if record is None or not record.public:
            raise UnknownDataset(f"no dataset {dataset_id!r}")
        return record

    def get(self, dataset_id: str) -> Dataset:
        """The open dataset (blocking: call from a worker thread)."""
        record = self.record(dataset_id)
        while True:
            ds = self._open.get_or_compute(dataset_id, lambda: self._open_dataset(record))
            if ds.record.version == record.version:
                ds.checked = time.monotonic()
                return ds
            # re-registered since it was opened: close the stale one (unless another thread just did)
            self._open.discard(dataset_id, expected=ds)

    def _open_dataset(self, record: Record) -> Dataset:
        volume = open_volume(Path(record.source), record.reader, self.engine.readers)[1]
        volume = apply_overrides(volume, record)
        return Dataset(record, Pyramid(record.version, volume, self.engine, self.options))

    def stats(self) -> dict[str, int]:
        return self._open.stats()

    def close(self) -> None:
        self._open.clear()


def _close(ds: Dataset) -> None:
    ds.pyramid.volume.close()


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
