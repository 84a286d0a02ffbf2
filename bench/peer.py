"""Part 7 — a peer on the same data: chunkmirage (PyPI) serving the same Imaris file as zarr v2.

chunkmirage ("spoof chunked array formats over HTTP", JaneliaSciComp) reads HDF5 datasets with
h5py; it is started with its own CLI, its defaults, 64³ chunks like the service, on the level-0
``Data`` dataset of the benchmark's ``.ims`` file (it serves that one level; it computes no pyramid
for a single-level source). Same requests on both: the sampled level-0 chunks cold on a fresh
server, one at a time, then the same chunks warm under wrk. Decoded bytes are checked equal.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numcodecs
import numpy as np

from bench.common import Context, Goal, Part, ZarrView, pct, peak_rss, serve, table, timed_get
from bench.loadgen import failed, missing_tools, wrk
from bench.overhead import level0_keys
from transformer.testing import free_port, stop_process

FORMAT = "imaris"
DATASET = "/DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data"


@contextlib.contextmanager
def chunkmirage(ims: Path, workdir: Path) -> Iterator[tuple[str, int]]:
    """``chunkmirage serve FILE::DATASET`` on a free loopback port: (url of its zarr v2 view, pid)."""
    port = free_port()
    ready = workdir / f"chunkmirage-{port}.json"
    log = open(workdir / f"chunkmirage-{port}.log", "w")  # noqa: SIM115
    cmd = [sys.executable, "-m", "chunkmirage.cli", "serve", f"{ims}::{DATASET}", "--name", "brain", "--no-raw",
           "--chunk", "64,64,64", "--host", "127.0.0.1", "--port", str(port), "--ready-file", str(ready)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chunkmirage did not start: {(workdir / log.name).read_text()[-2000:]}")
            time.sleep(0.1)
        info = json.loads(ready.read_text())
        yield f"http://127.0.0.1:{port}/brain/zarr", info.get("pid", proc.pid)
    finally:
        stop_process(proc)
        log.close()


def available() -> str | None:
    try:
        import chunkmirage  # noqa: F401
    except ImportError:
        return "chunkmirage is not installed (pip install -e '.[bench]')"
    return None


def _decoded(body: bytes, chunk: tuple[int, ...], region: tuple[int, ...]) -> np.ndarray:
    """A zarr chunk's voxels, cropped to the part of it inside the array."""
    arr = np.frombuffer(numcodecs.Blosc().decode(body), dtype="<u2").reshape(chunk)
    return arr[tuple(slice(0, n) for n in region)]


def run(ctx: Context) -> Part:
    part = Part("peer", "7. A peer on the same data (service ÷ chunkmirage, same Imaris file, same chunks)")
    if FORMAT not in ctx.settings.formats:
        part.skipped = "imaris not among --formats"
        return part
    reason = available() or (", ".join(missing_tools()) + " not installed" if missing_tools() else None)
    if reason:
        part.skipped = reason
        return part
    keys = level0_keys(ctx)
    zyx = [k[2:] for k in keys]
    record, db, _ = ctx.register(FORMAT, "peer-ours")
    with serve(db, "--cache-mb", str(ctx.settings.memory_cache_mb)) as srv, httpx.Client(timeout=600) as client:
        view = ZarrView(srv.url, record.id)
        cold_ours, ours_first = [], b""
        for k in keys:
            dt, body = timed_get(client, f"{view.root}/{view.key(0, k)}")
            cold_ours.append(dt)
            ours_first = ours_first or body
        paths = [f"{view.path}/{view.key(0, k)}" for k in keys]
        warm_ours = [wrk(srv.url, paths, c, ctx.settings.duration, ctx.tmp) for c in ctx.settings.concurrency]
        rss_ours = peak_rss(srv.proc.pid)
    with chunkmirage(ctx.source(FORMAT), ctx.tmp) as (url, pid), httpx.Client(timeout=600) as client:
        client.get(f"{url}/.zattrs").raise_for_status()
        cold_peer, peer_first = [], b""
        for z, y, x in zyx:
            dt, body = timed_get(client, f"{url}/s0/{z}/{y}/{x}")
            cold_peer.append(dt)
            peer_first = peer_first or body
        base, prefix = url.rsplit("/brain/zarr", 1)[0], "/brain/zarr/s0"
        warm_peer = [wrk(base, [f"{prefix}/{z}/{y}/{x}" for z, y, x in zyx], c, ctx.settings.duration, ctx.tmp)
                     for c in ctx.settings.concurrency]
        rss_peer = peak_rss(pid)
    chunk = view.levels[0].chunks[2:]
    region = tuple(min(c, n - i * c) for c, n, i in zip(chunk, view.levels[0].shape[2:], zyx[0], strict=True))
    same = np.array_equal(_decoded(ours_first, chunk, region), _decoded(peer_first, (64, 64, 64), region))
    rows = [("cold p50 ms (fresh server)", pct(cold_ours, 50) * 1e3, pct(cold_peer, 50) * 1e3,
             pct(cold_peer, 50) / pct(cold_ours, 50)),
            ("cold p95 ms", pct(cold_ours, 95) * 1e3, pct(cold_peer, 95) * 1e3,
             pct(cold_peer, 95) / pct(cold_ours, 95))]
    speedups = [pct(cold_peer, 50) / pct(cold_ours, 50)]
    for a, b in zip(warm_ours, warm_peer, strict=True):
        rows.append((f"warm req/s, {a.concurrency} connections", a.rps, b.rps, a.rps / b.rps))
        rows.append((f"warm p99 ms, {a.concurrency} connections", a.p99_ms, b.p99_ms, b.p99_ms / a.p99_ms))
        speedups.append(a.rps / b.rps)
    rows.append(("peak RSS MB", rss_ours / 2**20, rss_peer / 2**20, rss_peer / rss_ours))
    part.tables.append(table(["measure", "service", "chunkmirage", "service advantage ×"], rows))
    part.notes += [
        f"{len(keys)} level-0 chunks (the part-1 sample), {FORMAT} source (gzip HDF5, 32×128×128 chunks).",
        "chunkmirage 0.1.0a5 run by its CLI: `chunkmirage serve 'brain.ims::" + DATASET + "' --no-raw --chunk "
        "64,64,64` with its defaults (blosc-zstd like the service, 2 GB cache, uvicorn with access logging on); "
        f"the service with --cache-mb {ctx.settings.memory_cache_mb}.",
        f"First chunk decoded from both servers identical: {'yes' if same else 'NO'}.",
        "`service advantage` > 1 means the service is better (faster, more req/s, smaller p99 or RSS).",
    ]
    # a comparison holds only between servers that answer the same voxels without failures
    errors = failed(warm_ours + warm_peer)
    part.goals.append(Goal("vs peer (worst of cold p50 and warm req/s, service ÷ peer)", min(speedups),
                           f"≥ 1×, first chunk identical ({'yes' if same else 'NO'}), 0 failed requests ({errors})",
                           min(speedups) >= 1.0 and same and not errors))
    return part
