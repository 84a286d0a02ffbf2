"""``GET /api/datasets/{id}/cutout?level=&t=&c=&z=&y=&x=&format=npy|tiff|h5``: any box of any level as a file.

The box is read through the pyramid's chunk cache in the worker pool, one slab at a time
(writers/cutout.py), so the voxels equal the zarr view of that level and memory stays bounded by a slab.
A .npy streams as its slabs are read; an OME-TIFF or HDF5 file is written slab by slab to a temporary
file (both formats seek back while writing) and then streamed from it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from transformer.engine.datasets import Dataset
from transformer.server.auth import grant_of
from transformer.server.errors import BadRequest, NotFound, TooLarge
from writers.cutout import FORMATS, MEDIA_TYPES, WRITERS, Box, Physical, npy_header, parse_box, physical, slabs
from writers.spec import AXES

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
    svc = request.app.state.service
    fmt = _format(request)
    dataset_id = request.path_params["id"]
    ds = await svc.dataset(dataset_id, grant_of(request))
    level = _level(request, ds)
    box = parse_box(level, {a: request.query_params.get(a) for a in AXES}, ds.spec.levels[level].shape)
    limit = svc.config.cutout_max_mb * 1024 * 1024
    if box.nbytes(ds.pyramid.dtype) > limit:
        raise TooLarge(
            f"the box holds {box.nbytes(ds.pyramid.dtype) / 2**20:.0f} MiB, more than the "
            f"{svc.config.cutout_max_mb} MiB one cutout may carry: split it into smaller boxes (the Python "
            f"client does), or export it with `transformer export {dataset_id} --level {level} "
            f"--region ... --to out.ome.zarr`")
    pyramid = ds.pyramid

    def read(t: int, c: int, z: slice, y: slice):
        return pyramid.region(level, t, c, z, y, box.ranges[4])

    body = _npy(svc, pyramid, box, read) if fmt == "npy" else _file(svc, fmt, box, pyramid.dtype, read,
                                                                         physical(ds.spec, box))
    headers = {"Content-Disposition": f'attachment; filename="{filename(dataset_id, box, fmt)}"',
               "Cache-Control": "no-store"}
    return StreamingResponse(body, media_type=MEDIA_TYPES[fmt], headers=headers)


async def _npy(svc, pyramid, box: Box, read) -> AsyncIterator[bytes]:
    """The .npy header, then each slab: its chunks computed in parallel on the pool (a level computed from
    finer ones is otherwise made one chunk at a time), then assembled from the block cache."""
    yield npy_header(box, pyramid.dtype)
    x = box.ranges[4]
    share = asyncio.Semaphore(max(1, svc.config.threads // 2))  # leave half the pool to other requests

    async def compute(index: tuple[int, ...]) -> None:
        async with share:
            await svc.run(pyramid.chunk, box.level, index)

    for t, c, z, y in slabs(box, pyramid.dtype):
        await asyncio.gather(*(compute(index) for index in pyramid.region_chunks(box.level, t, c, z, y, x)))
        yield await svc.run(_slab_bytes, read, t, c, z, y)


def _slab_bytes(read, t: int, c: int, z: slice, y: slice) -> bytes:
    return np.ascontiguousarray(read(t, c, z, y)).tobytes()


async def _file(svc, fmt: str, box: Box, dtype, read, meta: Physical) -> AsyncIterator[bytes]:
    fd, name = tempfile.mkstemp(suffix=FORMATS[fmt], prefix="cutout-")
    os.close(fd)
    path = Path(name)
    try:
        await svc.run(WRITERS[fmt], path, box, dtype, read, meta)
        with path.open("rb") as f:
            while piece := await svc.run(f.read, FILE_CHUNK):
                yield piece
    finally:
        path.unlink(missing_ok=True)


routes = [Route("/api/datasets/{id}/cutout", cutout)]
