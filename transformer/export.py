"""``transformer export``: a box of one level to an OME-Zarr 0.4, OME-TIFF or HDF5 file, computed as a dask graph
over the service's engine (in process, not through HTTP).

Without a scheduler address the graph runs on dask's local threads; with one (``tcp://host:8786``) on a
dask.distributed cluster whose workers open the catalog themselves (they need the same filesystem view of
the catalog and the sources). Every task reads one output chunk through the pyramid's chunk cache, so memory
is bounded by the tasks in flight. An OME-Zarr export is resumable: chunks already written are skipped.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

import numpy as np

from writers.cutout import WRITERS, Box, Physical, parse_box, physical
from writers.spec import AXES

TASK_BYTES = 32 * 1024 * 1024  # output chunks one dask task writes, at most (at least one)
SUFFIXES = {".zarr": "zarr", ".tif": "tiff", ".tiff": "tiff", ".h5": "h5", ".hdf5": "h5"}


#: engines one process keeps (one per catalog it exported from)
ENGINES = 4


class Engines:
    """One engine per process and catalog (on a dask worker too): caches survive from task to task. At most
    ``most`` are kept; the least recently used one beyond that is closed (its catalog connection, thread pools
    and open files), not just dropped."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._open: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, catalog: str):
        with self._lock:
            engine = self._open.pop(catalog, None) or _open_engine(catalog)
            self._open[catalog] = engine
            leaving = [self._open.popitem(last=False)[1] for _ in range(len(self._open) - self.most)]
        for engine_left in leaving:
            _close_engine(engine_left)
        return engine[0]

    def cache_clear(self) -> None:
        """Close every engine (``functools.lru_cache``'s name for it)."""
        with self._lock:
            leaving, self._open = list(self._open.values()), OrderedDict()
        for engine in leaving:
            _close_engine(engine)


def _open_engine(catalog: str) -> tuple:
    from catalog.store import Catalog
    from transformer.config import Config
    from transformer.engine.datasets import DatasetRegistry
    from transformer.engine.resources import Resources

    config = Config.from_env(catalog=catalog)
    resources = Resources(config)
    registry = DatasetRegistry(Catalog(config.catalog), resources.engine, resources.pyramid_options,
                               config.max_open_datasets)
    return registry, resources


def _close_engine(engine: tuple) -> None:
    registry, resources = engine
    registry.close()
    resources.close()
    registry.catalog.close()


_registry = Engines(ENGINES)


@dataclass(frozen=True)
class Source:
    """A level of a dataset as an array that dask can slice; small and picklable (sent to workers)."""

    catalog: str
    dataset_id: str
    level: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        ranges = [slice(*k.indices(n)[:2]) for k, n in zip(key, self.shape, strict=True)]
        return _registry(self.catalog).get(self.dataset_id).pyramid.regions(self.level, *ranges)


def format_of(path: Path) -> str:
    for suffix, fmt in SUFFIXES.items():
        if path.name.endswith(suffix):
            return fmt
    raise ValueError(f"{path.name}: name the output .ome.zarr, .zarr, .tif, .ome.tif or .h5")


def parse_region(region: str | None) -> dict[str, str | None]:
    """``z0:z1,y0:y1,x0:x1`` (any of them may be ``:``) → the per-axis ranges of writers.cutout.parse_box."""
    if not region:
        return {}
    parts = region.split(",")
    if len(parts) != 3:
        raise ValueError(f"--region {region!r}: give z0:z1,y0:y1,x0:x1")
    return dict(zip("zyx", parts, strict=True))


def export(catalog: Path, dataset_id: str, out: Path, level: int = 0, region: str | None = None,
           t: str | None = None, c: str | None = None, scheduler: str | None = None,
           progress: bool = True) -> Box:
    """Write the box to ``out`` (format from its suffix); returns the box written."""
    fmt = format_of(out)
    ds = _registry(str(catalog)).get(dataset_id)
    if not 0 <= level < len(ds.spec.levels):
        raise ValueError(f"no level {level}: {dataset_id} has levels 0 to {len(ds.spec.levels) - 1}")
    spec = ds.spec.levels[level]
    box = parse_box(level, {**parse_region(region), "t": t, "c": c}, spec.shape)
    source = Source(str(catalog), dataset_id, level, spec.shape, ds.pyramid.dtype)
    with _scheduler(scheduler):
        if fmt == "zarr":
            _to_zarr(source, box, spec.chunks, out, ome_zarr_attrs(ds, box, spec.chunks), progress)
        else:
            _to_file(fmt, source, box, spec.chunks, out, physical(ds.spec, box), progress)
    return box


@contextlib.contextmanager
def _scheduler(address: str | None):
    """dask's local threads, or the dask.distributed cluster at ``address`` (the default while inside)."""
    if address is None:
        import dask

        with dask.config.set(scheduler="threads"):
            yield None
        return
    from distributed import Client

    with Client(address) as client:
        yield client


def _compute(tasks: list, progress: bool) -> None:
    import dask

    try:
        from distributed import get_client
        from distributed import progress as distributed_progress

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        futures = client.compute(tasks)
        if progress:
            distributed_progress(futures)
        client.gather(futures)
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar() if progress else contextlib.nullcontext():
        dask.compute(*tasks)


def ome_zarr_attrs(ds, box: Box, chunks: tuple[int, ...]) -> dict:
    """OME-NGFF 0.4 attributes (writers/ngff.py) of a one-level image: the box, whose level is ``0``."""
    from writers.ngff import zattrs_v04
    from writers.spec import LevelSpec

    meta = physical(ds.spec, box)
    channels = ds.spec.channels[box.ranges[1].start : box.ranges[1].stop]
    level = LevelSpec(box.shape, chunks, meta.voxel_size, meta.origin)
    return zattrs_v04(replace(ds.spec, levels=(level,), channels=channels, sampled_from=None))


def _to_zarr(source: Source, box: Box, chunks: tuple[int, ...], out: Path, attrs: dict, progress: bool) -> None:
    import dask
    import zarr

    group = zarr.open_group(str(out), mode="a", zarr_format=2)
    group.attrs.update(attrs)
    array = group.require_array("0", shape=box.shape, chunks=chunks, dtype=source.dtype, fill_value=0,
                                chunk_key_encoding={"name": "v2", "separator": "/"},
                                config={"write_empty_chunks": True})
    todo = [index for index in product(*(range(-(-n // k)) for n, k in zip(box.shape, chunks, strict=True)))
            if not (out / "0" / "/".join(map(str, index))).exists()]  # resumed: skip what a run wrote
    # neighbouring chunks share a task (about TASK_BYTES) so a terabyte export stays a graph dask can hold
    per_task = max(1, TASK_BYTES // (math.prod(chunks) * source.dtype.itemsize))
    tasks = [dask.delayed(_write_chunks, pure=False)(source, box, chunks, str(out), todo[i : i + per_task])
             for i in range(0, len(todo), per_task)]
    del array
    _compute(tasks, progress)


def _write_chunks(source: Source, box: Box, chunks: tuple[int, ...], out: str, indices: list[tuple[int, ...]]) -> None:
    import zarr

    array = zarr.open_array(f"{out}/0", mode="r+", zarr_format=2)
    for index in indices:
        local = tuple(slice(i * k, min((i + 1) * k, n)) for i, k, n in zip(index, chunks, box.shape, strict=True))
        array[local] = source[tuple(slice(b.start + s.start, b.start + s.stop)
                                    for s, b in zip(local, box.ranges, strict=True))]


def _to_file(fmt: str, source: Source, box: Box, chunks: tuple[int, ...], out: Path, meta: Physical,
             progress: bool) -> None:
    """OME-TIFF and HDF5 are written in order, slab by slab; each slab is a dask graph over its chunks."""
    import dask.array as da

    lazy = da.from_array(source, chunks=chunks, asarray=False, fancy=False, lock=False,
                         meta=np.empty((0,) * 5, source.dtype), name=f"export-{source.dataset_id}-{source.level}")
    x = box.ranges[4]

    def read(t: int, c: int, z: slice, y: slice) -> np.ndarray:
        return lazy[t, c, z, y, x].compute()  # on the distributed client too, while it is the default

    WRITERS[fmt](out, box, source.dtype, read, meta)
    if progress:
        print(f"wrote {out} ({', '.join(f'{a}={s.start}:{s.stop}' for a, s in zip(AXES, box.ranges, strict=True))})")
