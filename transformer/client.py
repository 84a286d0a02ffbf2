"""A one-line Python client for a brain-transformer service: numpy boxes of any level, or a dask array.

    from transformer.client import open_dataset
    ds = open_dataset("http://host:8000/api/datasets/ace-cot-new")
    box = ds[0, 0, 100:164, 2000:2512, 3000:3512]        # numpy, level 0
    overview = ds.level(3)[0, 0]                          # numpy, level 3
    lazy = ds.to_dask(level=1)                            # dask.array (needs dask)

Only the standard library and numpy are needed (dask only for ``to_dask``), so it installs anywhere the
server's readers do not. A box is fetched as .npy cutouts (``/api/datasets/{id}/cutout``): big boxes are
split along the level's chunk grid into sub-boxes fetched in parallel, each retried on connection errors
and 5xx answers; a 4xx is the caller's mistake and raised at once as :class:`ClientError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

#: bytes one request asks for at most (sub-boxes are aligned to the chunk grid below this)
REQUEST_BYTES = 32 * 1024 * 1024
#: show a progress bar on stderr for downloads larger than this
PROGRESS_BYTES = 256 * 1024 * 1024
AXES = ("t", "c", "z", "y", "x")
#: output suffix → cutout format
SUFFIX_FORMATS = {".npy": "npy", ".tif": "tiff", ".tiff": "tiff", ".h5": "h5", ".hdf5": "h5"}
T = TypeVar("T")


class ClientError(Exception):
    """The service refused the request (its JSON reason is the message); ``status`` is the HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Connection:
    base_url: str
    token: str | None = None
    retries: int = 4
    timeout: float = 300

    def get(self, path: str) -> bytes:
        """GET ``path`` (relative to the base URL); retried with backoff on connection errors and 5xx."""
        return self.fetch(path, lambda response: response.read())

    def fetch(self, path: str, consume: Callable[[Any], T]) -> T:
        """``consume(response)`` of a GET of ``path``, retried like :meth:`get` (``consume`` starts over)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(self.base_url + path, headers=headers)
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http only)
                    return consume(response)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == self.retries:
                    raise ClientError(exc.code, _reason(exc)) from None
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if attempt == self.retries:
                    raise
            time.sleep(min(8.0, 0.25 * 2**attempt))
        raise AssertionError("unreachable")

    def json(self, path: str) -> Any:
        return json.loads(self.get(path))


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        return json.loads(exc.read())["reason"]
    except (ValueError, KeyError, TypeError):
        return exc.reason


def open_dataset(url_or_id: str, base_url: str | None = None, token: str | None = None,
                 workers: int = 8) -> RemoteDataset:
    """The dataset at ``http(s)://host/.../api/datasets/ID``, or ``ID`` on the service at ``base_url``
    (default ``$TRANSFORMER_URL``). ``token``: a bearer token for embargoed or private datasets."""
    if url_or_id.startswith(("http://", "https://")):
        base, dataset_id, url_token = parse_dataset_url(url_or_id)
        if url_token and not token:  # the /t/TOKEN/ prefix stays in the base: every request carries it
            base = f"{base}/t/{url_token}"
    else:
        base, dataset_id = base_url or os.environ.get("TRANSFORMER_URL", ""), url_or_id
        if not base:
            raise ValueError("give the dataset's URL, or its id and base_url (or set $TRANSFORMER_URL)")
    connection = Connection(base.rstrip("/"), token)
    record = connection.json(f"/api/datasets/{urllib.parse.quote(dataset_id)}")
    return RemoteDataset(connection, record, workers)


#: the path words after which a service URL names a dataset: its page, its record, its views, its viewer
DATASET_PATHS = ("api/datasets", "datasets", "zarr", "zarr3", "precomputed", "neuroglancer")
_DATASET_URL = re.compile(
    r"^(?P<base>https?://[^?#]*?)(?:/t/(?P<token>[^/?#]+))?/(?P<path>" + "|".join(DATASET_PATHS) + r")/"
    r"(?P<id>[^/?#@]+?)(?:@[^/?#]*)?(?:\.ome\.zarr)?(?:[/?#].*)?$")


def parse_dataset_url(url: str) -> tuple[str, str, str | None]:
    """``(service base URL, dataset id, token or None)`` of any URL the service gives for a dataset:
    ``…/datasets/ID`` (its page), ``…/api/datasets/ID``, ``…/zarr/ID.ome.zarr``, ``…/zarr3/…``,
    ``…/precomputed/ID``, ``…/neuroglancer/ID``, versioned (``ID@tag``) or not, under ``/t/TOKEN/`` or not."""
    m = _DATASET_URL.match(url.strip())
    if not m:
        raise ValueError(f"{url!r} is not a dataset URL (…/datasets/ID, …/api/datasets/ID, …/zarr/ID.ome.zarr)")
    return m["base"].rstrip("/"), urllib.parse.unquote(m["id"]), m["token"]


def download(url_or_id: str, out: Path | str, level: int = 0, region: str | None = None, t: str | None = None,
             c: str | None = None, base_url: str | None = None, token: str | None = None,
             progress: bool | None = None) -> Path:
    """Save a cutout as a file (format from ``out``'s suffix: .npy, .tif/.ome.tif, .h5), streamed to disk.

    ``region``: ``z0:z1,y0:y1,x0:x1`` (each may be ``:``); ``t``, ``c``: an index or a range.
    ``progress``: a bar on stderr (default: when stderr is a terminal)."""
    out = Path(out)
    fmt = SUFFIX_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out.name}: name the file .npy, .tif, .ome.tif or .h5")
    ds = open_dataset(url_or_id, base_url, token)
    ranges = dict(zip("zyx", region.split(","), strict=True)) if region else {}
    if len(ranges) not in (0, 3):
        raise ValueError(f"region {region!r}: give z0:z1,y0:y1,x0:x1")
    ranges.update({k: v for k, v in (("t", t), ("c", c)) if v is not None})
    query = "&".join(f"{a}={urllib.parse.quote(ranges[a])}" for a in AXES if a in ranges)
    expected = _box_bytes(ds.level(level), ranges)
    show = sys.stderr.isatty() if progress is None else progress

    def save(response) -> Path:
        bar = Progress(expected) if show else None
        with out.open("wb") as f:
            while piece := response.read(1 << 20):
                f.write(piece)
                if bar:
                    bar.add(len(piece))
        if bar:
            bar.close()
        return out

    return ds.connection.fetch(f"/api/datasets/{ds.id}/cutout?level={level}&format={fmt}&{query}", save)


def _box_bytes(level: RemoteLevel, ranges: dict[str, str]) -> int:
    """About how many bytes a box holds (for the progress bar; the server checks the ranges)."""
    n = level.dtype.itemsize
    for axis, size in zip(AXES, level.shape, strict=True):
        lo, _, hi = ranges.get(axis, ":").partition(":")
        start = int(lo) if lo.strip() else 0
        stop = (start + 1) if ":" not in ranges.get(axis, ":") else (int(hi) if hi.strip() else size)
        n *= max(1, min(stop, size) - start)
    return n


class RemoteDataset:
    """A served dataset: its record, and ``ds[t, c, z, y, x]`` at level 0 (numpy indexing rules)."""

    def __init__(self, connection: Connection, record: dict, workers: int = 8) -> None:
        self.connection = connection
        self.record = record
        self.id: str = record["id"]
        self.workers = workers
        self.levels = [RemoteLevel(self, i, lv) for i, lv in enumerate(record["levels"])]

    def __repr__(self) -> str:
        return f"<RemoteDataset {self.id} shape={self.shape} dtype={self.dtype} levels={len(self.levels)}>"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.levels[0].shape

    @property
    def dtype(self) -> np.dtype:
        return self.levels[0].dtype

    @property
    def voxel_size(self) -> tuple[float, float, float]:
        """(z, y, x) in µm at level 0."""
        return self.levels[0].voxel_size

    def level(self, level: int) -> RemoteLevel:
        return self.levels[level]

    def __getitem__(self, key) -> np.ndarray:
        return self.levels[0][key]

    def to_dask(self, level: int = 0, blocks: str = "requests"):
        return self.levels[level].to_dask(blocks)

    def multiscale(self, channel: int = 0) -> list:
        """One channel as lazy dask arrays, finest level first, each block one served chunk (so a viewer
        fetches only the chunks it draws): (t, z, y, x), or (z, y, x) for a single time point."""
        return [level.channel_dask(channel) for level in self.levels]

    def channels(self) -> list[dict]:
        """Each channel's ``name``, ``color`` (RRGGBB) and display ``window`` [start, end] from the record."""
        return [dict(c) for c in self.record.get("channels") or [{}] * self.shape[1]]

    def neuroglancer_url(self) -> str:
        return self.record["links"]["neuroglancer"]

    # objects beside the image (transformer/client_objects.py): µm, z, y, x like the image
    def neurons(self, parse: bool | None = None) -> list[dict]:
        """Each neuron's ``id``, ``name``, ``label`` and summary (nodes, cable length in µm, soma, types); ``parse``
        as in ``client_objects.neuron_list`` (default: the server parses what it has not when that is small)."""
        from transformer.client_objects import neuron_list

        return neuron_list(self, parse) if "skeletons" in self.record.get("links", {}) else []

    def neuron(self, neuron_id: str | int):
        """One neuron (``client_objects.Neuron``): ``nodes`` (n, 3) µm z, y, x, ``edges``, ``radius``, ``types``."""
        from transformer.client_objects import read_neuron

        return read_neuron(self, neuron_id)

    def cells(self, box=None, table: str | None = None):
        """The cells (``client_objects.Cells``: ``ids``, ``zyx`` µm, ``properties``) inside ``box``, (z, y, x)
        slices of level-0 voxels (None: all); ``table``: a cell table id (default: the first)."""
        from transformer.client_objects import read_cells

        return read_cells(self, box, table)


class RemoteLevel:
    """One level of a served dataset; indexing it downloads the box as numpy."""

    def __init__(self, dataset: RemoteDataset, index: int, info: dict) -> None:
        self.dataset = dataset
        self.index = index
        self.info = info
        self.shape = tuple(info["shape"])
        self.chunks = tuple(info["chunks"])
        self.voxel_size = tuple(info["voxel_size"])
        self.dtype = np.dtype(dataset.record["dtype"])
        self.ndim = len(self.shape)

    def __repr__(self) -> str:
        return f"<RemoteLevel {self.dataset.id}/{self.index} shape={self.shape} dtype={self.dtype}>"

    def __getitem__(self, key) -> np.ndarray:
        ranges, picks, drop = _normalise(key, self.shape)
        box = self.read(tuple(slice(r.start, r.stop) for r in ranges))
        if any(p is not None for p in picks):  # strided or reversed slices: pick from the covering box
            for axis, pick in enumerate(picks):
                if pick is not None:
                    box = np.take(box, pick, axis=axis)
        return box.reshape([n for n, d in zip(box.shape, drop, strict=True) if not d])

    def read(self, box: tuple[slice, ...]) -> np.ndarray:
        """The (t, c, z, y, x) box of half-open ranges, fetched in aligned sub-boxes in parallel."""
        out = np.empty(tuple(s.stop - s.start for s in box), self.dtype)
        if out.size == 0:
            return out
        parts = list(sub_boxes(box, self.chunks, self.dtype.itemsize))
        progress = Progress(out.nbytes) if out.nbytes > PROGRESS_BYTES and sys.stderr.isatty() else None

        def fetch(part: tuple[slice, ...]) -> None:
            block = self.cutout(part)
            out[tuple(slice(p.start - b.start, p.stop - b.start) for p, b in zip(part, box, strict=True))] = block
            if progress:
                progress.add(block.nbytes)

        if len(parts) == 1:
            fetch(parts[0])
        else:
            with ThreadPoolExecutor(self.dataset.workers) as pool:
                for done in pool.map(fetch, parts):
                    del done
        if progress:
            progress.close()
        return out

    def cutout(self, box: tuple[slice, ...]) -> np.ndarray:
        """One request: the box as .npy."""
        query = "&".join(f"{a}={s.start}:{s.stop}" for a, s in zip(AXES, box, strict=True))
        body = self.dataset.connection.get(f"/api/datasets/{self.dataset.id}/cutout?level={self.index}&{query}")
        return np.load(io.BytesIO(body), allow_pickle=False)

    @property
    def translation(self) -> tuple[float, float, float]:
        """(z, y, x) µm of this level's voxel 0 centre, as the zarr views declare it (0 in old records)."""
        return tuple(self.info.get("translation") or (0.0, 0.0, 0.0))

    def to_dask(self, blocks: str = "requests"):
        """A dask array of this level; each block is one cutout: ``"requests"``: of whole chunks (about
        REQUEST_BYTES, for analysis), ``"chunks"``: one served chunk (for viewers, which draw a few)."""
        import dask.array as da

        if blocks not in ("requests", "chunks"):
            raise ValueError(f"blocks must be 'requests' or 'chunks', not {blocks!r}")
        block = self.chunks if blocks == "chunks" else _block_shape(self.chunks, self.dtype.itemsize)
        meta = np.empty((0,) * self.ndim, self.dtype)
        return da.from_array(self, chunks=block, asarray=False, fancy=False, lock=False, meta=meta,
                             name=self._dask_name(blocks))

    def channel_dask(self, channel: int):
        """One channel as a dask array of (z, y, x), or (t, z, y, x) with several time points, one served chunk
        per block. Made directly rather than by slicing :meth:`to_dask`: dask slices a graph key by key, and
        a 10,000-slice level 0 has 640,000 chunks (seconds per slicing)."""
        import dask.array as da

        view = _ChannelView(self, channel)
        chunks = ((1,) if view.timed else ()) + self.chunks[2:]
        meta = np.empty((0,) * view.ndim, self.dtype)
        return da.from_array(view, chunks=chunks, asarray=False, fancy=False, lock=False, meta=meta,
                             name=self._dask_name(f"c{channel}"))

    def _dask_name(self, kind: str) -> str:
        """dask (and napari's chunk cache) key blocks by name: the server and the version keep two apart."""
        source = f"{self.dataset.connection.base_url} {self.dataset.record.get('versioned_links', {}).get('cutout')}"
        digest = hashlib.blake2b(source.encode(), digest_size=6).hexdigest()
        return f"transformer-{self.dataset.id}-{digest}-{self.index}-{kind}"


class _ChannelView:
    """One channel of a level, indexed (z, y, x) (or (t, z, y, x) when there are several time points)."""

    def __init__(self, level: RemoteLevel, channel: int) -> None:
        self.level, self.channel = level, channel
        self.timed = level.shape[0] > 1
        self.shape = ((level.shape[0],) if self.timed else ()) + level.shape[2:]
        self.dtype, self.ndim = level.dtype, len(self.shape)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        return self.level[(key[0], self.channel, *key[1:]) if self.timed else (0, self.channel, *key)]


def _normalise(key, shape: tuple[int, ...]):
    """numpy basic indexing → (covering ranges, per-axis picks for strided slices, axes to drop)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: {len(key)} for {len(shape)} axes (t, c, z, y, x)")
    key = key + (slice(None),) * (len(shape) - len(key))
    ranges, picks, drop = [], [], []
    for axis, (k, n) in enumerate(zip(key, shape, strict=True)):
        if isinstance(k, slice):
            r = range(*k.indices(n))
            if len(r) and r.step != 1:
                lo = min(r[0], r[-1])
                ranges.append(range(lo, max(r[0], r[-1]) + 1))
                picks.append(np.arange(r[0], r[-1] + (1 if r.step > 0 else -1), r.step) - lo)
            else:
                ranges.append(range(r.start, r.start + len(r)))
                picks.append(None)
            drop.append(False)
        elif isinstance(k, (int, np.integer)):
            i = int(k) + n if k < 0 else int(k)
            if not 0 <= i < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {AXES[axis]} with size {n}")
            ranges.append(range(i, i + 1))
            picks.append(None)
            drop.append(True)
        else:
            raise TypeError(f"only integers, slices and ... index a remote dataset, not {type(k).__name__}")
    return ranges, picks, drop


def _block_shape(chunks: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Whole chunks, doubled along x, y, z in turn while the block stays within REQUEST_BYTES."""
    block = [1, 1, *chunks[2:]]
    axis = 4
    while math.prod(block) * itemsize * 2 <= REQUEST_BYTES and axis >= 2:
        block[axis] *= 2
        axis = 4 if axis == 2 else axis - 1
    return tuple(block)


def sub_boxes(box: tuple[slice, ...], chunks: tuple[int, ...], itemsize: int):
    """``box`` cut along the grid of :func:`_block_shape` (so each request reads whole chunks where it can)."""
    block = _block_shape(chunks, itemsize)
    per_axis = []
    for s, b in zip(box, block, strict=True):
        edges = [s.start, *range((s.start // b + 1) * b, s.stop, b), s.stop]
        per_axis.append([slice(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)])
    return product(*per_axis)


class Progress:
    """A one-line progress bar on stderr (downloads are threads, so it counts bytes, not steps)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        share = self.done / self.total
        rate = self.done / max(1e-6, time.monotonic() - self.start) / 2**20
        sys.stderr.write(f"\r[{'#' * int(40 * share):<40}] {100 * share:5.1f}%  {rate:7.1f} MiB/s")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


class RemoteCatalog:
    """A service's catalog: search it (words and facets), fetch thumbnails, open its datasets.

        archive = RemoteCatalog("http://host:8000", token=None)
        found = archive.search("hippocampus", species="Mus musculus")   # {"total", "datasets", "facets", ...}
        ds = archive.open(found["datasets"][0]["id"])
    """

    def __init__(self, base_url: str, token: str | None = None, retries: int = 4, timeout: float = 300) -> None:
        self.connection = Connection(base_url.rstrip("/"), token or None, retries, timeout)

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    def search(self, q: str = "", limit: int = 50, offset: int = 0, sort: str = "relevance", **filters: str) -> dict:
        """``/api/datasets``: ``filters`` are facets (species, technique, format, access); empty ones are left out.
        The answer's ``facets`` maps each facet to ``[[value, count], …]``."""
        params = {"q": q, **filters, "sort": sort, "limit": limit, "offset": offset}
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v not in ("", None)})
        return self.connection.json(f"/api/datasets?{query}")

    def thumbnail(self, dataset_id: str) -> bytes:
        """The dataset's PNG thumbnail (a projection of a coarse level)."""
        return self.connection.get(f"/datasets/{urllib.parse.quote(dataset_id)}/thumbnail.png")

    def open(self, dataset_id: str, workers: int = 8) -> RemoteDataset:
        record = self.connection.json(f"/api/datasets/{urllib.parse.quote(dataset_id)}")
        return RemoteDataset(self.connection, record, workers)
