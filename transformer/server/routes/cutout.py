"""``GET /api/datasets/{id}/cutout?level=&t=&c=&z=&y=&x=&format=npy|tiff|h5``: any box of any level as a file.

The box is read through the pyramid's chunk cache in the worker pool, one slab at a time
(writers/cutout.py), so the voxels equal the zarr view of that level and memory stays bounded by a slab;
the chunks of a slab are computed in parallel on the cutout executor of Resources.
A .npy streams as its slabs are read; an OME-TIFF or HDF5 file is written slab by slab to a temporary
file (both formats seek back while writing) and then streamed from it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from transformer.engine.datasets import Dataset
from transformer.server.auth import grant_of, link_base
from transformer.server.errors import BadRequest, NotFound, TooLarge
from transformer.server.http import IMMUTABLE, base_url, stale_version
from transformer.server.routes.links import cutout_url
from transformer.server.routes.views import recheck
from writers.cutout import (
    FORMATS,
    MEDIA_TYPES,
    Box,
    Physical,
    SlabReader,
    npy_header,
    parse_box,
    physical,
    slabs,
    write_file,
)
from writers.spec import AXES
from writers.view import version_tag

FILE_CHUNK = 1 << 20  # bytes per read when streaming a written file


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
      "413": {description: larger than --cutout-max-mb}
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
    read = _parallel_reader(svc.resources.cutouts, ds.pyramid, box)
    body = _npy(svc, box, ds.pyramid.dtype, read) if fmt == "npy" else _file(svc, fmt, box, ds.pyramid.dtype, read,
                                                                           physical(ds.spec, box))
    headers = {"Content-Disposition": f'attachment; filename="{filename(dataset_id, box, fmt)}"',
               "Cache-Control": IMMUTABLE if at else "no-store"}  # made private for non-public data (auth.py)
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _parallel_reader(executor: Executor, pyramid, box: Box) -> SlabReader:
    """Reads a slab after computing the chunks it touches in parallel on ``executor``: assembling a region
    alone makes a computed level one chunk at a time (raw TIFF level 2 was 7x the in-process read)."""
    level, x = box.level, box.ranges[4]

    def chunk(index: tuple[int, ...]) -> None:
        pyramid.chunk(level, index)

    def read(t: int, c: int, z: slice, y: slice) -> np.ndarray:
        direct = pyramid.source_region(level, t, c, z, y, x)
        if direct is not None:
            return direct
        for _ in executor.map(chunk, pyramid.region_chunks(level, t, c, z, y, x)):
            pass
        return pyramid.region(level, t, c, z, y, x)

    return read


async def _npy(svc, box: Box, dtype, read: SlabReader) -> AsyncIterator[bytes]:
    """The .npy header, then each slab as it is read."""
    yield npy_header(box, dtype)
    for t, c, z, y in slabs(box, dtype):
        yield await svc.run(_slab_bytes, read, t, c, z, y)


def _slab_bytes(read: SlabReader, t: int, c: int, z: slice, y: slice) -> bytes:
    return np.ascontiguousarray(read(t, c, z, y)).tobytes()


async def _file(svc, fmt: str, box: Box, dtype, read: SlabReader, meta: Physical) -> AsyncIterator[bytes]:
    """Writes the file in the pool, then streams it. A client that disconnects stops the writing at the
    next slab (``stop``); the writer deletes its partial file, and a written one is deleted here."""
    fd, name = tempfile.mkstemp(suffix=FORMATS[fmt], prefix="cutout-")
    os.close(fd)
    path = Path(name)
    stop = threading.Event()
    try:
        await svc.run(write_file, fmt, path, box, dtype, read, meta, stop)
        with path.open("rb") as f:
            while piece := await svc.run(f.read, FILE_CHUNK):
                yield piece
    finally:
        stop.set()
        path.unlink(missing_ok=True)


routes = [Route("/api/datasets/{id}/cutout", cutout)]
