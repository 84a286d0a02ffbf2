"""``GET /api/datasets/{id}/cutout?level=&t=&c=&z=&y=&x=&format=npy|tiff|h5``: any box of any level as a file.

The box is read through the pyramid's chunk cache in the worker pool, one slab at a time
(writers/cutout.py), so the voxels equal the zarr view of that level and memory stays bounded by a slab;
the work of a slab is shared by the cutout executor of Resources and the thread reading it, and the next
slab is read while the current one is sent or written (at most two slabs ahead of the client).

What can fail happens before the status line (docs/errors.md): the source is checked unchanged first; an
OME-TIFF or HDF5 file (both writers seek back) is written whole to a temporary file (server/scratch.py bounds
how many and how large) and only then sent, with its length; a .npy has its first slab read before it
starts. A .npy failing at a later slab is aborted short of its ``Content-Length`` (server/bodies.py).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from readers.base import SourceError
from transformer.engine.datasets import Dataset, DatasetRegistry
from transformer.server.auth import grant_of, link_base
from transformer.server.bodies import SizedBody, ranged, request_id
from transformer.server.errors import BadRequest, NotFound, TooLarge, Unavailable
from transformer.server.http import IMMUTABLE, base_url, stale_version
from transformer.server.routes.links import cutout_url
from transformer.server.routes.views import recheck
from transformer.server.scratch import RETRY_AFTER
from writers.cutout import (
    FORMATS,
    MEDIA_TYPES,
    Abandoned,
    Box,
    SlabReader,
    StorageFull,
    file_bytes,
    npy_bytes,
    npy_chunks,
    parse_box,
    physical,
    reads,
    slabs,
    write_file,
)
from writers.spec import AXES
from writers.view import version_tag

FILE_CHUNK = 1 << 20  # bytes per read when sending a written file
T = TypeVar("T")


def _level(request: Request, ds: Dataset) -> int:
    raw = request.query_params.get("level", "0")
    try:
        level = int(raw)
    except ValueError:
        raise BadRequest(f"level={raw!r} is not an integer") from None
    if not 0 <= level < len(ds.spec.levels):
        raise NotFound(f"no level {level}: this dataset has levels 0 to {len(ds.spec.levels) - 1}")
    return level


def _format(request: Request) -> str:
    fmt = request.query_params.get("format", "npy")
    if fmt not in FORMATS:
        raise BadRequest(f"format={fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def filename(dataset_id: str, box: Box, fmt: str) -> str:
    return f"{dataset_id}_level{box.level}_{box.spelled()}{FORMATS[fmt]}"


async def cutout(request: Request) -> Response:
    """A box of one level as one file.
    ---
    summary: Cutout of any box of any level (npy, OME-TIFF or HDF5)
    description: >-
      Voxels identical to the zarr view of that level, always 5-D (t, c, z, y, x), streamed slab by slab and
      named in Content-Disposition. Ranges are half-open start:stop (omitted = the whole extent; a stop past
      the edge is clipped). Embargoed and private datasets need a token.
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}, description: "dataset id, or {id}@{tag}
          (versioned_links.cutout): immutable, 404 with `current` once the dataset changed"}
      - {name: level, in: query, schema: {type: integer, default: 0}}
      - {name: t, in: query, schema: {type: string}, description: an index or a range}
      - {name: c, in: query, schema: {type: string}, description: an index or a range}
      - {name: z, in: query, schema: {type: string}, description: "start:stop"}
      - {name: y, in: query, schema: {type: string}, description: "start:stop"}
      - {name: x, in: query, schema: {type: string}, description: "start:stop"}
      - {name: format, in: query, schema: {type: string, enum: [npy, tiff, h5], default: npy}}
    responses:
      "200": {description: the file}
      "400": {description: malformed or empty ranges}
      "401": {description: embargoed, no token}
      "404": {description: no such dataset or level, or a box starting outside the volume}
      "413": {description: "larger than --cutout-max-mb, or an OME-TIFF/HDF5 file larger than --cutout-tmp-mb"}
      "500": {description: "the source failed or changed (before the status line; a .npy failing later is
          aborted short of its Content-Length, docs/errors.md)"}
      "503": {description: "every temporary-file slot or byte is taken, or the disk is full (Retry-After)"}
    """
    svc = request.app.state.service
    fmt = _format(request)
    dataset_id, at, tag = request.path_params["id"].partition("@")  # {id}@{tag}: one version, immutable
    ds = await svc.dataset(dataset_id, grant_of(request))
    if at and tag != version_tag(ds.version):
        ds = await recheck(svc, ds, request)
        if tag != version_tag(ds.version):
            base = link_base(request, base_url(request, svc.config))
            return stale_version(f"{cutout_url(base, dataset_id, ds.version)}?{request.url.query}".rstrip("?"))
    level = _level(request, ds)
    box = parse_box(level, {a: request.query_params.get(a) for a in AXES}, ds.spec.levels[level].shape)
    limit = svc.config.cutout_max_mb * 1024 * 1024
    if box.nbytes(ds.pyramid.dtype) > limit:
        raise TooLarge(
            f"the box holds {box.nbytes(ds.pyramid.dtype) / 2**20:.0f} MiB, more than the "
            f"{svc.config.cutout_max_mb} MiB one cutout may carry: split it into smaller boxes (the Python "
            f"client does), or export it with `transformer export {dataset_id} --level {level} "
            f"--region ... --to out.ome.zarr`")
    headers = {"Content-Disposition": f'attachment; filename="{filename(dataset_id, box, fmt)}"',
               "Cache-Control": IMMUTABLE if at else "no-store"}  # made private for non-public data (auth.py)
    rid = request_id(request.headers)
    if fmt == "npy":
        return await ranged(request.headers, await _npy(svc, ds, box, headers, rid))
    answer = await _file(svc, request, ds, fmt, box, headers, rid)
    # an OME-TIFF carries a new UUID in each file (OME's rule), so two downloads differ: no ranges of one
    return await ranged(request.headers, answer) if fmt == "h5" and isinstance(answer, SizedBody) else answer


def _parallel_reader(executor: Executor, pyramid, box: Box) -> SlabReader:
    """Reads a slab with its work split into tasks shared by ``executor`` and the calling thread
    (:func:`_share`): assembling a region alone makes a computed level one chunk at a time (raw TIFF
    level 2 was 7x the in-process read), and one read of a slab of a slice stack decodes its planes on
    the two leaf threads only (JPEG2000 level 2: zarr-python, decoding planes on every pool thread, was
    1.7x faster)."""
    level, x = box.level, box.ranges[4]
    plan = pyramid.levels[level]

    def read(t: int, c: int, z: slice, y: slice) -> np.ndarray:
        if plan.native is not None or plan.sampling is not None:  # a level the source holds or samples
            parts = _source_parts(plan, z, y, x)
            if len(parts) == 1:
                return pyramid.source_region(level, t, c, *parts[0])
            out = np.empty((z.stop - z.start, y.stop - y.start, x.stop - x.start), pyramid.dtype)

            def into_out(zp: slice, yp: slice, xp: slice) -> None:
                out[zp.start - z.start : zp.stop - z.start, yp.start - y.start : yp.stop - y.start,
                    xp.start - x.start : xp.stop - x.start] = pyramid.source_region(level, t, c, zp, yp, xp)

            _share(executor, [functools.partial(into_out, *part) for part in parts])
            return out
        _share(executor, [functools.partial(pyramid.chunk, level, index)
                          for index in pyramid.region_chunks(level, t, c, z, y, x)])
        return pyramid.region(level, t, c, z, y, x)

    return read


def _source_parts(plan, z: slice, y: slice, x: slice) -> list[tuple[slice, slice, slice]]:
    """The (z, y, x) parts of a slab read from the source, one task each: the level's chunks' planes (or,
    for a one-plane slab, bands of chunk rows). A sampled level of a source decoding blocks (tiles, strips)
    is read chunk by chunk, as its chunk requests read it: a strided read decodes the dense region under it
    whole, and under a 512² slab at stride 4 that is 8 MiB a plane, which the allocator (transformer.malloc:
    4 MiB and more go to mmap) maps and page-faults afresh for every plane; a chunk's 2 MiB is reused from
    the heap (tiff-zstd level 2 of 2048²: 180,000 page faults, 0.4 s of system time)."""
    _, _, cz, cy, cx = plan.spec.chunks
    sampling = plan.sampling
    if sampling is not None and sampling.native.read_chunks[1] > 1:
        return list(itertools.product(_split(z, cz), _split(y, cy), _split(x, cx)))
    if z.stop - z.start > 1:
        return [(part, y, x) for part in _split(z, cz)]
    return [(z, part, x) for part in _split(y, cy)]


def _split(s: slice, step: int) -> list[slice]:
    """``s`` cut at multiples of ``step`` (a level's chunk edges, where its source reads are aligned)."""
    edges = [s.start, *range((s.start // step + 1) * step, s.stop, step), s.stop]
    return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def _share(executor: Executor, tasks: list[Callable[[], T]]) -> list[T]:
    """The tasks' results, computed on ``executor`` and in this thread at once: the executor's threads take
    tasks from the front while this thread takes those they have not started from the back (cancelled
    there, run here). A cutout thus works on one thread more than the shared executor gives it, and an
    executor busy with other cutouts never leaves it waiting with nothing done."""
    futures = [executor.submit(task) for task in tasks]
    results: list = [None] * len(tasks)
    done = [False] * len(tasks)
    try:
        for i in reversed(range(len(tasks))):
            if futures[i].cancel():
                results[i], done[i] = tasks[i](), True
        for i, future in enumerate(futures):
            if not done[i]:
                results[i] = future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results


class _ReadAhead:
    """A SlabReader for slabs asked in ``order`` that, asked for one, starts reading the next on ``executor``
    first: slab k+1 is read while slab k is sent (or written), and the two reads overlap. At most two slabs
    are in memory besides the one being sent: the one returned and the next.

    The caller runs on ``executor`` too (the service's pool): a read-ahead the executor has not started when
    its slab is asked for is cancelled and read in the caller, so a full pool costs the overlap, never a
    deadlock."""

    def __init__(self, read: SlabReader, order: Iterable[tuple[int, int, slice, slice]], executor: Executor):
        self._read, self._executor = read, executor
        self._order = [(t, c, z, y) for t, c, z, y in order]
        self._position = {_key(*slab): i for i, slab in enumerate(self._order)}
        self._pending: dict[tuple, Future] = {}
        self._lock = threading.Lock()  # close() comes from the event loop while a pool thread may be reading
        self._closed = False

    def __call__(self, t: int, c: int, z: slice, y: slice) -> np.ndarray:
        key = _key(t, c, z, y)
        i = self._position.get(key)
        with self._lock:
            upcoming = self._order[i + 1] if i is not None and i + 1 < len(self._order) else None
            if upcoming is not None and not self._closed and _key(*upcoming) not in self._pending:
                self._pending[_key(*upcoming)] = self._executor.submit(self._read, *upcoming)
            future = self._pending.pop(key, None)
        if future is not None and not future.cancel():
            return future.result()
        return self._read(t, c, z, y)

    def close(self) -> None:
        """Drop a read-ahead nobody will ask for (the client went away)."""
        with self._lock:
            self._closed = True
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()


def _key(t: int, c: int, z: slice, y: slice) -> tuple[int, ...]:
    return t, c, z.start, z.stop, y.start, y.stop


#: a source found unchanged this recently is not stamped again (10,000 slices: ~75 ms of stat calls); a change
#: in between is still refused by the readers, which compare each file's identity at every read
UNCHANGED_FOR = 1.0
_confirmed: weakref.WeakKeyDictionary[Dataset, float] = weakref.WeakKeyDictionary()


def _unchanged(ds: Dataset) -> None:
    """Refuse to start on a source whose files changed since the dataset was opened: until the registry
    reopens it under its new version (within DatasetRegistry.RECHECK_SECONDS), its chunk requests that read
    the source answer 500 source_error, and so does the cutout, before its status line."""
    if time.monotonic() - _confirmed.get(ds, -UNCHANGED_FOR) < UNCHANGED_FOR:
        return
    if ds.source_changed():
        raise SourceError(f"{Path(ds.record.source).name}: the source changed while being served; it is served "
                          f"under its new version within {DatasetRegistry.RECHECK_SECONDS:.0f} s")
    _confirmed[ds] = time.monotonic()


async def _npy(svc, ds: Dataset, box: Box, headers: dict[str, str], rid: str) -> Response:
    """The .npy header, then each slab as it is read (the next one read while this one is sent); the first
    slab is read before the status line, so a source failing at once is a JSON error."""
    dtype = ds.pyramid.dtype
    ahead = _ReadAhead(_parallel_reader(svc.resources.cutouts, ds.pyramid, box), slabs(box, dtype), svc.pool)
    pieces = npy_chunks(box, dtype, ahead)
    try:
        await svc.run(_unchanged, ds)
        first = [next(pieces), await svc.run(next, pieces, None)]  # the header, slab 0
    except BaseException:
        ahead.close()
        raise
    return SizedBody(_npy_rest(svc, first, pieces, ahead), npy_bytes(box, dtype), media_type=MEDIA_TYPES["npy"],
                     headers=headers, request_id=rid)


async def _npy_rest(svc, first: list, pieces: Iterator, ahead: _ReadAhead) -> AsyncIterator[bytes | memoryview]:
    try:
        for piece in first:
            yield piece
        while (piece := await svc.run(next, pieces, None)) is not None:
            yield piece
    finally:
        ahead.close()


async def _file(svc, request: Request, ds: Dataset, fmt: str, box: Box, headers: dict[str, str],
                rid: str) -> Response:
    """Writes the file in the pool, then sends it with its length. A client that disconnects stops the
    writing at the next slab; the file is unlinked as soon as it is open for sending, so none is left
    behind whatever ends the request."""
    dtype = ds.pyramid.dtype
    lease = svc.scratch.lease(file_bytes(fmt, box, dtype))  # 413 or 503 before any work
    path: Path | None = None
    try:
        await svc.run(_unchanged, ds)
        path = _temporary(svc.scratch.directory, FORMATS[fmt])
        stop = threading.Event()
        ahead = _ReadAhead(_parallel_reader(svc.resources.cutouts, ds.pyramid, box), reads(fmt, box, dtype),
                           svc.pool)
        watcher = asyncio.ensure_future(_stop_when_gone(request, stop))
        try:
            await svc.run(write_file, fmt, path, box, dtype, ahead, physical(ds.spec, box), stop)
        finally:
            watcher.cancel()
            stop.set()
            ahead.close()
        f = path.open("rb")
        path.unlink()  # the open file keeps its bytes until it is sent
        size = os.fstat(f.fileno()).st_size
    except StorageFull as exc:
        lease.release()
        raise Unavailable(f"the server's temporary disk refused the file ({exc.args[0]}): try again later, or "
                          f"ask format=npy (sent as it is read, no temporary file)", RETRY_AFTER) from None
    except Abandoned:
        lease.release()
        return Response(status_code=204)  # nobody is listening any more
    except BaseException:
        lease.release()
        raise
    finally:
        if path is not None:
            path.unlink(missing_ok=True)

    def close() -> None:
        f.close()
        lease.release()

    return SizedBody(_file_pieces(svc, f), size, media_type=MEDIA_TYPES[fmt], headers=headers, request_id=rid,
                     on_close=close)


def _temporary(directory: Path, suffix: str) -> Path:
    try:
        fd, name = tempfile.mkstemp(suffix=suffix, prefix="cutout-", dir=directory)
    except OSError as exc:
        raise StorageFull(f"creating the file failed ({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    return Path(name)


async def _stop_when_gone(request: Request, stop: threading.Event) -> None:
    """Set ``stop`` when the client disconnects (the writer then stops before its next slab)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    stop.set()


async def _file_pieces(svc, f: BinaryIO) -> AsyncIterator[bytes]:
    while piece := await svc.run(f.read, FILE_CHUNK):
        yield piece


routes = [Route("/api/datasets/{id}/cutout", cutout)]
