"""Part 4 — time to first view: register + what Neuroglancer fetches first ÷ converting with ome-zarr-py.

Service side, per format, on a server that is already running (as in production) with an empty
catalog: ``catalog.scan.describe`` + ``put`` into its catalog, then the keys Neuroglancer asks for
to open a zarr v2 OME image (root and per-level metadata, including the keys it probes and gets
404 for) and every chunk of the two coarsest levels. Baseline: ``ome_zarr.writer.write_image``
with its defaults on a dask array of the TIFF slices read with tifffile (16 slices per block: the
writer keeps the input's chunking; a whole numpy volume makes it hold ~8× the volume in float64).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import Context, Goal, MemoryWatch, Part, ZarrView, disk_bytes, fetch_all, get_status, serve, table
from catalog.scan import describe
from catalog.store import Catalog

GOAL = 100.0
Z_BLOCK = 16


def convert_with_ome_zarr(folder: Path, out: Path) -> float:
    """Seconds to write ``folder``'s TIFF slices as OME-Zarr with ome-zarr-py's defaults."""
    import dask
    import dask.array as da
    import tifffile
    from ome_zarr.writer import write_image

    start = time.perf_counter()
    files = sorted(folder.glob("*.tif"))
    with tifffile.TiffFile(files[0]) as tf:
        page = tf.pages.first
        shape, dtype = page.shape, page.dtype

    def load(group: list[Path]) -> np.ndarray:
        return np.stack([tifffile.imread(f) for f in group])

    blocks = [da.from_delayed(dask.delayed(load)(files[i : i + Z_BLOCK]), (len(files[i : i + Z_BLOCK]), *shape),
                              dtype) for i in range(0, len(files), Z_BLOCK)]
    write_image(da.concatenate(blocks, axis=0), str(out), axes="zyx")
    return time.perf_counter() - start


def neuroglancer_first_keys(view: ZarrView) -> tuple[list[str], list[str]]:
    """(metadata keys in the order Neuroglancer asks, chunk keys of the two coarsest levels)."""
    meta = [".zarray", ".zattrs", ".zgroup"]  # is the root an array? a group with OME attributes?
    for i in range(len(view.levels)):
        meta += [f"{i}/.zarray", f"{i}/.zattrs"]
    top = len(view.levels) - 1
    return meta, view.all_keys([top, top - 1] if top else [0])


def first_view(ctx: Context, fmt: str) -> dict:
    db = ctx.tmp / f"first-view-{fmt}.sqlite"
    db.unlink(missing_ok=True)
    Catalog(db).close()
    path = ctx.source(fmt)
    with serve(db, "--cache-mb", str(ctx.settings.memory_cache_mb)) as srv:
        watch = MemoryWatch(srv.proc.pid, ctx.settings.memory_cache_mb)
        start = time.perf_counter()
        catalog = Catalog(db)
        record = describe(path, path if path.is_dir() else path.parent, catalog)
        catalog.put(record)
        catalog.close()
        registered = time.perf_counter() - start
        with httpx.Client(timeout=ctx.settings.cap_s) as client:
            base = f"{srv.url}/zarr/{record.id}.ome.zarr"
            got_meta = [get_status(client, f"{base}/.zattrs")]  # Neuroglancer's first request opens it
            view = ZarrView(srv.url, record.id, client)
            meta, chunks = neuroglancer_first_keys(view)
            got_meta += [get_status(client, f"{base}/{k}") for k in meta]
            statuses = [s for s, _ in got_meta]
        metadata = time.perf_counter() - start - registered
        try:
            got = fetch_all(base, chunks, ctx.settings.fetch_concurrency, timeout=ctx.settings.cap_s)
            finished = True
        except TimeoutError:
            finished = False
        total = time.perf_counter() - start
        ctx.peaks[f"4. first view, {fmt}"] = watch.peak()
    if (finished and got.statuses != {200: len(chunks)}) or 500 in statuses:
        raise RuntimeError(f"first view of {fmt}: statuses {got.statuses} {statuses}")
    return {"register": registered, "metadata": metadata, "chunks": len(chunks), "finished": finished,
            "not_found": statuses.count(404), "resets": sum(r for _, r in got_meta),
            "total": total, "native": record.native_levels, "levels": len(view.levels)}


def run(ctx: Context) -> Part:
    part = Part("first_view", "4. Time to first view (register + Neuroglancer's first screen ÷ ome-zarr-py conversion)")
    tiff = next((f for f in ("tiff-raw", "tiff-zstd") if f in ctx.settings.formats), None)
    baseline, size = None, 0
    if tiff is not None:
        out = ctx.tmp / "converted.ome.zarr"
        baseline = convert_with_ome_zarr(ctx.source(tiff), out)
        size = disk_bytes(out)
        shutil.rmtree(out)
    rows, ratios = [], []
    for fmt in ctx.settings.formats:
        r = first_view(ctx, fmt)
        ratio = baseline / r["total"] if baseline else float("nan")
        ratios.append(ratio)
        over = "" if r["finished"] else "> "
        rows.append((fmt, r["native"], r["levels"], r["register"], r["metadata"], f"{r['not_found']} / {r['resets']}",
                     r["chunks"], f"{over}{r['total']:.3g}", f"{'< ' if over else ''}{ratio:.3g}", 0))
    part.tables.append(table(["format", "native levels", "levels served", "register s", "metadata s",
                              "404s / connections reset after them",
                              "chunks (2 coarsest levels)", "first view s", "conversion ÷ first view",
                              "extra bytes on disk"], rows))
    if baseline:
        part.tables.append(table(["baseline", "seconds", "bytes on disk"],
                                 [(f"ome_zarr.writer.write_image of {tiff} (defaults)", baseline, f"{size:,}")]))
    part.notes += [
        "First view = describe + put into the running server's catalog, the metadata keys (including the 404 "
        "probes), then every chunk of the two coarsest levels with "
        f"{ctx.settings.fetch_concurrency} concurrent connections; fresh server per format, --cache-mb "
        f"{ctx.settings.memory_cache_mb}.",
        "A connection reset after a 404 means the server closed the kept-alive connection after answering "
        "(uvicorn logs an 'Exception in ASGI application' for it); the request was retried on a new connection, as "
        "browsers do.",
        f"A first view whose chunks take longer than {ctx.settings.cap_s:.0f} s (one request) is cut there: "
        "'> cap'.",
        "ome-zarr-py defaults: zarr v3, zstd, 4 levels halving y and x only (z kept), skimage `resize`. "
        "The service writes nothing: 0 extra bytes.",
        "Sources over --exact-limit-mb (512 MiB per channel; JPEG2000 counts its files' size) get a sampled "
        "overview: computed levels take every n-th source voxel, so the coarsest levels read a few planes, not "
        "the whole volume (`--overview exact` would read it all: the first view then took 9-10 s for TIFF).",
    ]
    measured = [r for r in ratios if r == r]
    worst = min(measured) if measured else None
    part.goals.append(Goal("first view sooner than conversion (worst format)", worst, f"≥ {GOAL:.0f}×",
                           None if worst is None else worst >= GOAL))
    return part
