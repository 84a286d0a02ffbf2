"""Open HDF5 files for reading through the shared, bounded handle pool.

Opening an HDF5 file parses its metadata, so a file stays open in the readers' handle pool
(:class:`readers.resources.ReaderResources`) between reads. Datasets are cached next to the file:
for BigDataProcessor files ``Data`` lives behind an external link, and HDF5 reopens the target file
on every link traversal unless the dataset object is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from readers.caching import Cache
from readers.imaris.chunks import DirectPlan, plan
from readers.resources import HDF5_CHUNK_SLOTS, ReaderResources


def pool_key(path: Path) -> tuple[str, str]:
    return ("imaris", str(path))


class OpenFile:
    """An open ``h5py.File`` plus the datasets most recently looked up in it."""

    #: datasets kept per file; each one behind an external link holds that file open, so bound them
    MAX_DATASETS = 64

    def __init__(self, h5file: Any) -> None:
        self.file = h5file
        self.closed = False
        # each entry weighs 1; one that falls out is dropped, not closed: a thread may still be reading
        # it, and h5py closes it when unused
        self._datasets = Cache("hdf5_datasets", self.MAX_DATASETS, size=lambda _entry: 1)

    def dataset(self, name: str) -> tuple[Any, DirectPlan | None]:
        """The dataset at ``name`` and its plan for decoding chunks outside h5py's lock."""
        return self._datasets.get_or_compute(name, lambda: self._look_up(name))

    def _look_up(self, name: str) -> tuple[Any, DirectPlan | None]:
        ds = self.file[name]
        return ds, plan(ds)

    def close(self) -> None:
        self.closed = True
        datasets = [ds for ds, _ in self._datasets.clear()]
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


def open_h5(path: Path, chunk_cache: int) -> OpenFile:
    """Open ``path`` read-only with ``chunk_cache`` bytes of HDF5 chunk cache; raises OSError when it is
    not a readable HDF5 file."""
    load_filters()
    import h5py

    # locking=False: read-only access needs no lock, and HDF5 locks fail on some network filesystems
    h5file = h5py.File(path, "r", locking=False, rdcc_nbytes=chunk_cache, rdcc_nslots=HDF5_CHUNK_SLOTS)
    return OpenFile(h5file)


def pooled(path: Path, resources: ReaderResources) -> OpenFile:
    """The pooled open handle of ``path`` (opened on first use)."""
    return resources.handles.get(pool_key(path), lambda: open_h5(path, resources.hdf5_chunk_cache), OpenFile.close)


def release(path: Path, resources: ReaderResources) -> None:
    """Close and forget the pooled handle of ``path``."""
    resources.handles.discard(pool_key(path))


