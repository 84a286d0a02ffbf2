"""Open HDF5 files for reading through the shared, bounded handle pool.

Opening an HDF5 file parses its metadata, so a file stays open in :data:`readers.handles.POOL`
between reads. Datasets are cached next to the file: for BigDataProcessor files ``Data`` lives
behind an external link, and HDF5 reopens the target file on every link traversal unless the
dataset object is kept.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from readers.handles import POOL
from readers.imaris.chunks import DirectPlan, plan

#: HDF5 chunk cache per open file; the service has its own decoded-block cache, so keep it small
CHUNK_CACHE_BYTES = 8 * 1024 * 1024
CHUNK_CACHE_SLOTS = 1021  # a prime, as HDF5 recommends


def pool_key(path: Path) -> tuple[str, str]:
    return ("imaris", str(path))


class OpenFile:
    """An open ``h5py.File`` plus the datasets most recently looked up in it."""

    #: datasets kept per file; each one behind an external link holds that file open, so bound them
    MAX_DATASETS = 64

    def __init__(self, h5file: Any) -> None:
        self.file = h5file
        self.closed = False
        self._datasets: OrderedDict[str, tuple[Any, DirectPlan | None]] = OrderedDict()
        self._lock = threading.Lock()

    def dataset(self, name: str) -> tuple[Any, DirectPlan | None]:
        """The dataset at ``name`` and its plan for decoding chunks outside h5py's lock."""
        with self._lock:
            entry = self._datasets.get(name)
            if entry is not None:
                self._datasets.move_to_end(name)
                return entry
        ds = self.file[name]
        entry = (ds, plan(ds))
        with self._lock:
            entry = self._datasets.setdefault(name, entry)
            while len(self._datasets) > self.MAX_DATASETS:
                # dropped, not closed: a thread may still be reading it; h5py closes it when unused
                self._datasets.popitem(last=False)
        return entry

    def close(self) -> None:
        self.closed = True
        with self._lock:
            datasets = [ds for ds, _ in self._datasets.values()]
            self._datasets.clear()
        # File.close() only closes objects of its own file: datasets reached through external
        # links belong to another file and would keep it open, so close them first
        for ds in datasets:
            try:
                ds.id.close()
            except Exception:  # noqa: BLE001 - already closed or invalid
                pass
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 - closing must never fail the caller
            pass


def load_filters() -> None:
    """Register the HDF5 compression plugins (LZ4, zstd, blosc...) Imaris 9.6+ may use."""
    try:
        import hdf5plugin  # noqa: F401 - importing registers the filters with HDF5
    except ImportError:  # gzip and shuffle still work; other filters fail on read with a clear error
        pass


def open_h5(path: Path) -> OpenFile:
    """Open ``path`` read-only; raises OSError when it is not a readable HDF5 file."""
    load_filters()
    import h5py

    # locking=False: read-only access needs no lock, and HDF5 locks fail on some network filesystems
    h5file = h5py.File(path, "r", locking=False, rdcc_nbytes=CHUNK_CACHE_BYTES, rdcc_nslots=CHUNK_CACHE_SLOTS)
    return OpenFile(h5file)


def pooled(path: Path) -> OpenFile:
    """The pooled open handle of ``path`` (opened on first use)."""
    return POOL.get(pool_key(path), lambda: open_h5(path), OpenFile.close)


def release(path: Path) -> None:
    """Close and forget the pooled handle of ``path``."""
    POOL.discard(pool_key(path))


_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s'\"]+)*[\\/]([^\\/\s'\"]+)")


def scrub(message: str) -> str:
    """Reduce every filesystem path in an HDF5 error message to its file name."""
    return _PATHS.sub(r"\1", message)
