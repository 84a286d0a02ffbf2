"""Part 8 — data for analysis: cutouts, their memory while streaming, and exports (issue 13).

- A 512³ box (or the level, if smaller) at level 0 and level 2 of each source format, cold: one .npy cutout
  from a fresh server ÷ the same box read in process through a fresh pyramid with the server's parallelism
  (goal ≤ 1.3×), and
  zarr-python reading the same box from the zarr view of another fresh server ÷ the cutout (goal ≥ 1×: one
  request should beat many). On shared cores one pair swings by ±30 %: pairs are repeated (the first of
  each pair alternating) while they are quick, and the medians compared.
- Peak anonymous RSS of a server streaming the whole of level 0 as one cutout (goal ≤ --cache-mb + 300 MB).
- ``transformer export`` of level 0 to OME-Zarr with dask's threads and with a 2-worker LocalCluster, against
  ome-zarr-py writing the same voxels (tifffile reads the slices, ``write_image`` without a pyramid).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import zarr

from bench.common import Context, Goal, MemoryWatch, Part, serve, table
from bench.floor import Floor
from readers.resources import ReaderResources
from transformer.config import Config
from transformer.engine.resources import split

BOX = 512
MiB = 1 << 20
PAIRS = 3  # cutout / zarr-python pairs per row at most …
PAIRS_S = 20.0  # … while the pairs so far took less than this many seconds


def _box(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """A centred box of up to BOX voxels per axis of a (t, c, z, y, x) level."""
    out = [slice(0, 1), slice(0, 1)]
    for n in shape[2:]:
        size = min(BOX, n)
        start = (n - size) // 2
        out.append(slice(start, start + size))
    return tuple(out)


def _query(box: tuple[slice, ...]) -> str:
    return "&".join(f"{a}={s.start}:{s.stop}" for a, s in zip("tczyx", box, strict=True))


def _parts(chunks: tuple[int, ...], z: slice, y: slice) -> list[tuple[slice, slice]]:
    """(z, y) parts of a box read from the source, one task each: its chunk planes, or for one plane its bands of
    chunk rows (where the level's reads are aligned)."""
    def cut(s: slice, step: int) -> list[slice]:
        edges = [s.start, *range((s.start // step + 1) * step, s.stop, step), s.stop]
        return [slice(a, b) for a, b in zip(edges, edges[1:], strict=False)]

    _, _, cz, cy, _ = chunks
    return [(part, y) for part in cut(z, cz)] if z.stop - z.start > 1 else [(z, part) for part in cut(y, cy)]


def _in_process(ctx: Context, fmt: str, level: int, box: tuple[slice, ...]) -> float:
    """Seconds to read ``box`` through a fresh pyramid in process, with the server's parallelism: the box's parts
    (a level the source holds or samples: its chunk planes; a computed level: the chunks it touches) on as many
    threads as a cutout has (half the server's chunk threads, plus the request's own), slice-stack reads split
    on a pool of the server's leaf-pool size (bench.floor). Its caches are sized as a server's and start empty
    (the library's shared reader caches would keep decoded tiles from one call to the next)."""
    config = Config()
    sizes = split(config.cache_bytes, config.max_open_files)
    resources = ReaderResources.create(tiles=sizes["tiles"], regions=sizes["regions"], planes=sizes["planes"],
                                       hdf5_chunk_cache=sizes["hdf"] // config.max_open_files,
                                       max_open_files=config.max_open_files)
    workers = max(1, config.threads // 2) + 1  # the server's cutout executor (resources.py) and the request
    with Floor(ctx.source(fmt), resources=resources, blocks_bytes=sizes["blocks"]) as floor, \
            ThreadPoolExecutor(workers) as pool:
        pyramid, (t, c, z, y, x) = floor.pyramid, box
        plan = pyramid.levels[level]
        start = time.perf_counter()
        for ti, ci in itertools.product(range(t.start, t.stop), range(c.start, c.stop)):
            if plan.native is not None or plan.sampling is not None:
                tasks = [functools.partial(pyramid.source_region, level, ti, ci, zp, yp, x)
                         for zp, yp in _parts(plan.spec.chunks, z, y)]
            else:
                tasks = [functools.partial(pyramid.chunk, level, index)
                         for index in pyramid.region_chunks(level, ti, ci, z, y, x)]
            for future in [pool.submit(task) for task in tasks]:
                future.result()
            if plan.native is None and plan.sampling is None:
                pyramid.region(level, ti, ci, z, y, x)  # assembled from the chunks just computed
        seconds = time.perf_counter() - start
    resources.close()
    return seconds


def _cutout(ctx: Context, fmt: str, level: int) -> tuple[float, bytes, int, tuple[slice, ...]]:
    """(seconds, body, level, box): ``level`` is clipped to the served levels, the box centred in it."""
    record, db, _ = ctx.register(fmt, f"cutout-{fmt}-{level}")
    with serve(db) as srv, httpx.Client(timeout=ctx.settings.cap_s) as client:
        levels = client.get(f"{srv.url}/api/datasets/{record.id}").json()["levels"]
        level = min(level, len(levels) - 1)
        box = _box(tuple(levels[level]["shape"]))
        # the body is streamed into one buffer as it arrives, as a download is: httpx's ``.content`` decodes
        # and joins 64 KiB pieces, which alone took 0.08 s of a 128 MiB box (0.23 s against 0.15 s; curl 0.12 s)
        start = time.perf_counter()
        with client.stream("GET", f"{srv.url}/api/datasets/{record.id}/cutout?level={level}&{_query(box)}") as r:
            if r.status_code != 200:
                raise RuntimeError(f"{fmt} level {level}: cutout answered {r.status_code} {r.read().decode()}")
            body = bytearray(int(r.headers["content-length"]))
            view, filled = memoryview(body), 0
            for piece in r.iter_raw(1 << 20):
                view[filled:filled + len(piece)] = piece
                filled += len(piece)
        seconds = time.perf_counter() - start
        if filled != len(body):
            raise RuntimeError(f"{fmt} level {level}: {filled} of {len(body)} bytes arrived")
        return seconds, bytes(body), level, box


def _zarr_python(ctx: Context, fmt: str, level: int, box: tuple[slice, ...]) -> tuple[float, np.ndarray]:
    record, db, _ = ctx.register(fmt, f"zarr-{fmt}-{level}")
    with serve(db) as srv:
        # the dataset is opened before the clock starts, as for the cutout (which asks its levels first)
        httpx.get(f"{srv.url}/api/datasets/{record.id}", timeout=ctx.settings.cap_s).raise_for_status()
        start = time.perf_counter()
        array = zarr.open_group(f"{srv.url}/zarr/{record.id}.ome.zarr", mode="r", zarr_format=2)[str(level)]
        data = array[box]
        return time.perf_counter() - start, data


def _pairs(ctx: Context, fmt: str, level: int) -> tuple[float, float, int, tuple[slice, ...]]:
    """Median seconds of (cutout, zarr-python) over up to PAIRS cold pairs, the first checked voxel for voxel;
    the first of each later pair alternates, so neither always meets the other's leftovers in the OS."""
    seconds, body, level, box = _cutout(ctx, fmt, level)
    z_seconds, data = _zarr_python(ctx, fmt, level, box)
    if not np.array_equal(np.load(io.BytesIO(body)), data):
        raise RuntimeError(f"{fmt} level {level}: the cutout differs from the zarr view")
    served, via_zarr = [seconds], [z_seconds]
    while len(served) < PAIRS and sum(served) + sum(via_zarr) < PAIRS_S:
        if len(served) % 2:
            via_zarr.append(_zarr_python(ctx, fmt, level, box)[0])
            served.append(_cutout(ctx, fmt, level)[0])
        else:
            served.append(_cutout(ctx, fmt, level)[0])
            via_zarr.append(_zarr_python(ctx, fmt, level, box)[0])
    return statistics.median(served), statistics.median(via_zarr), level, box


def _memory(ctx: Context, fmt: str) -> tuple[int, float]:
    """(bytes streamed, peak anonymous MiB) for the whole of level 0 in one cutout."""
    record, db, _ = ctx.register(fmt, f"cutout-memory-{fmt}")
    budget = ctx.settings.memory_cache_mb
    with serve(db, "--cache-mb", str(budget), "--cutout-max-mb", str(1 << 20)) as srv:
        watch = MemoryWatch(srv.proc.pid, budget)
        total = 0
        with httpx.stream("GET", f"{srv.url}/api/datasets/{record.id}/cutout", timeout=None) as r:
            r.raise_for_status()
            for piece in r.iter_bytes(1 << 20):
                total += len(piece)
        peak = watch.peak()
    return total, peak.anon / MiB


def _export(ctx: Context, fmt: str) -> dict[str, float]:
    import distributed
    import tifffile
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    from transformer.export import export

    record, db, _ = ctx.register(fmt, f"export-{fmt}")
    out: dict[str, float] = {}
    start = time.perf_counter()
    export(db, record.id, ctx.tmp / "threads.ome.zarr", progress=False)
    out["threads"] = time.perf_counter() - start
    with distributed.LocalCluster(n_workers=2, threads_per_worker=max(1, ctx.settings.fetch_concurrency // 4),
                                  processes=True, dashboard_address=None) as cluster:
        start = time.perf_counter()
        export(db, record.id, ctx.tmp / "cluster.ome.zarr", scheduler=cluster.scheduler_address, progress=False)
        out["cluster"] = time.perf_counter() - start
    start = time.perf_counter()
    files = sorted(ctx.source(fmt).glob("*.tif"))
    volume = tifffile.imread(files) if len(files) > 1 else tifffile.imread(ctx.source(fmt))
    store = parse_url(str(ctx.tmp / "ome-zarr-py.ome.zarr"), mode="w").store
    write_image(volume, zarr.group(store=store), axes="zyx", scaler=None)
    out["ome_zarr_py"] = time.perf_counter() - start
    ours = zarr.open_group(str(ctx.tmp / "threads.ome.zarr"), mode="r")["0"][0, 0]
    out["equal"] = float(np.array_equal(ours, volume))
    return out


def run(ctx: Context) -> Part:
    part = Part("cutout", "8. Data for analysis (cutouts, streaming memory, exports)")
    rows, worst_inproc, worst_zarr = [], 0.0, math.inf
    for fmt in ctx.settings.formats:
        for level in (0, 2):
            served, via_zarr, level, box = _pairs(ctx, fmt, level)
            inproc = _in_process(ctx, fmt, level, box)
            shape = "×".join(str(s.stop - s.start) for s in box[2:])
            rows.append((fmt, level, shape, inproc, served, via_zarr, served / inproc, via_zarr / served))
            worst_inproc = max(worst_inproc, served / inproc)
            worst_zarr = min(worst_zarr, via_zarr / served)
    part.tables.append(table(["format", "level", "box z×y×x", "in process s", "cutout s", "zarr-python s",
                              "cutout ÷ in process", "zarr-python ÷ cutout"], rows))
    part.goals.append(Goal("cutout ÷ in-process read (worst)", worst_inproc, "≤ 1.3", worst_inproc <= 1.3))
    part.goals.append(Goal("zarr-python ÷ cutout (worst)", worst_zarr, "≥ 1", worst_zarr >= 1))

    fmt = "tiff-raw" if "tiff-raw" in ctx.settings.formats else ctx.settings.formats[0]
    streamed, anon_mib = _memory(ctx, fmt)
    limit = ctx.settings.memory_cache_mb + 300 * 1e6 / MiB
    part.tables.append(table(["format", "streamed MiB", "--cache-mb", "peak anonymous MiB"],
                             [(fmt, streamed / MiB, ctx.settings.memory_cache_mb, anon_mib)]))
    part.goals.append(Goal("peak RSS streaming level 0 (MiB)", anon_mib, f"≤ {limit:.0f}", anon_mib <= limit))

    tiffs = [f for f in ("tiff-zstd", "tiff-raw") if f in ctx.settings.formats]
    if tiffs:
        e = _export(ctx, tiffs[0])
        part.tables.append(table(["source", "export, dask threads s", "export, LocalCluster ×2 s",
                                  "ome-zarr-py s", "ome-zarr-py ÷ threads", "same voxels"],
                                 [(tiffs[0], e["threads"], e["cluster"], e["ome_zarr_py"],
                                   e["ome_zarr_py"] / e["threads"], bool(e["equal"]))]))
        # a faster export of other voxels is no export: equality is part of the goal
        part.goals.append(Goal("ome-zarr-py ÷ export (threads)", e["ome_zarr_py"] / e["threads"],
                               f"≥ 2, same voxels ({'yes' if e['equal'] else 'NO'})",
                               e["ome_zarr_py"] / e["threads"] >= 2 and bool(e["equal"])))
    part.notes.append("cold: every figure is from a fresh server (or a fresh in-process pyramid) on sources in "
                      "the OS page cache; the in-process read has the server's parallelism (its cutout threads and "
                      "leaf pool); "
                      f"cutout and zarr-python seconds are medians of up to {PAIRS} pairs (while under "
                      f"{PAIRS_S:.0f} s)")
    return part
