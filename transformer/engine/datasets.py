"""Open datasets on demand: catalog record -> reader Volume (with metadata overrides) -> Pyramid."""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import Executor
from pathlib import Path

from catalog.record import Record

from catalog.store import Catalog
from readers.base import Channel, Volume

from readers.registry import open_volume
from transformer.engine.cache import ComputeCache
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
    """Keeps at most ``max_open`` datasets open; the least recently used one is closed beyond that."""

    def __init__(self, catalog: Catalog, blocks: ComputeCache, chunk: tuple[int, int, int], max_open: int = 64,
                 leaves: Executor | None = None, stats: Counter | None = None, parts: ComputeCache | None = None,
                 overview: str = "auto", exact_limit: int = 512 * 1024 * 1024):
        self.catalog = catalog
        self.blocks = blocks
        self.leaves = leaves
        self.stats = stats if stats is not None else Counter()
        self.parts = parts
        self.overview, self.exact_limit = overview, exact_limit  # see Pyramid._mean_levels
        self.chunk = chunk
        self.max_open = max_open
        self._open: OrderedDict[str, Dataset] = OrderedDict()
        self._lock = threading.Lock()
        self._gates: dict[str, threading.Lock] = {}

    #: how long an open dataset is served before its catalog record is looked at again
    RECHECK_SECONDS = 5.0

    def peek(self, dataset_id: str) -> Dataset | None:
        """The open dataset if its record was confirmed within RECHECK_SECONDS (no I/O: safe on the loop)."""
        ds = self._open.get(dataset_id)
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
        with self._lock:
            ds = self._open.get(dataset_id)
            if ds is not None and ds.record.version == record.version:
                self._open.move_to_end(dataset_id)
                ds.checked = time.monotonic()
                return ds
            gate = self._gates.setdefault(dataset_id, threading.Lock())
        with gate:
            with self._lock:
                ds = self._open.get(dataset_id)
                if ds is not None and ds.record.version == record.version:
                    return ds
            volume = apply_overrides(open_volume(Path(record.source), record.reader)[1], record)
            ds = Dataset(record, Pyramid(record.version, volume, self.blocks, self.chunk,
                                              leaves=self.leaves, stats=self.stats, parts=self.parts,
                                              overview=self.overview, exact_limit=self.exact_limit))
            with self._lock:
                old = self._open.pop(dataset_id, None)
                self._open[dataset_id] = ds
                evicted = [old] if old else []
                while len(self._open) > self.max_open:
                    evicted.append(self._open.popitem(last=False)[1])
        for stale in evicted:
            stale.pyramid.volume.close()
        return ds

    def close(self) -> None:
        with self._lock:
            items = list(self._open.values())
            self._open.clear()
        for ds in items:
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
