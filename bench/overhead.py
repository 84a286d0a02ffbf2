"""Part 1 — cold chunk overhead: a chunk through HTTP on a fresh server ÷ the in-process floor.

For every source format: a fresh server (empty caches; the dataset opened by a metadata request
first, so the figures are chunk work) serves ``samples`` random level-0 chunks one after another;
the floor reads and encodes the same regions in-process in the same order. The coarsest level's
first chunk is timed on another fresh server (n = 1: a second one would no longer be cold), its
floor being the native region it derives from, reduced and encoded (see bench/floor.py).
"""

from __future__ import annotations

import math

import httpx
import numpy as np

from bench.common import Context, Goal, Part, ZarrView, pct, serve, table, timed_get
from bench.floor import Floor
from transformer.config import AUTO_TARGET

GOAL = 1.5


def _server_level0(ctx: Context, fmt: str, keys: list[tuple[int, ...]]) -> list[float]:
    record, db, _ = ctx.register(fmt, f"overhead-{fmt}-l0")
    with serve(db) as srv, httpx.Client(timeout=ctx.settings.cap_s) as client:
        view = ZarrView(srv.url, record.id)
        return [timed_get(client, f"{view.root}/{view.key(0, k)}")[0] for k in keys]


def _server_coarsest(ctx: Context, fmt: str) -> tuple[int, float, bool]:
    """(coarsest level, seconds, finished within the cap)."""
    record, db, _ = ctx.register(fmt, f"overhead-{fmt}-top")
    with serve(db) as srv, httpx.Client(timeout=ctx.settings.cap_s) as client:
        view = ZarrView(srv.url, record.id)
        top = len(view.levels) - 1
        try:
            return top, timed_get(client, f"{view.root}/{view.key(top, (0,) * 5)}")[0], True
        except httpx.TimeoutException:
            return top, ctx.settings.cap_s, False


def level0_keys(ctx: Context, grid: tuple[int, ...] | None = None) -> list[tuple[int, ...]]:
    """Sampled level-0 chunks (t, c, z, y, x) of ``grid`` (default: 64³ chunks), seeded: the same for every
    format that shares a layout and for every part."""
    if grid is None:
        grid = (1, 1, *(-(-n // c) for n, c in zip(ctx.settings.shape, AUTO_TARGET, strict=True)))
    every = [tuple(int(v) for v in idx) for idx in np.ndindex(*grid)]
    pick = np.random.default_rng(ctx.settings.seed).choice(len(every), min(ctx.settings.samples, len(every)),
                                                             replace=False)
    return [every[i] for i in pick]


def run(ctx: Context) -> Part:
    part = Part("overhead", "1. Cold chunk overhead (HTTP on a fresh server ÷ in-process read + encode)")
    rows, worst = [], 0.0
    for fmt in ctx.settings.formats:
        path = ctx.source(fmt)
        with Floor(path) as floor:  # the served layout: flat chunks for slice stacks (--chunks auto)
            keys = level0_keys(ctx, floor.pyramid.levels[0].spec.grid)
        served = _server_level0(ctx, fmt, keys)
        top, served_top, finished = _server_coarsest(ctx, fmt)
        with Floor(path) as floor:
            bare = [floor.chunk_seconds(0, k) for k in keys]
        with Floor(path) as floor:  # a fresh open, as the server's
            bare_top = floor.chunk_seconds(top, (0,) * 5)
            native = len(floor.volume.levels)
        r50, r95 = pct(served, 50) / pct(bare, 50), pct(served, 95) / pct(bare, 95)
        r_top = served_top / bare_top
        worst = max(worst, r50, r95, r_top)
        over = "" if finished else "> "
        rows.append((fmt, native, len(keys), pct(served, 50) * 1e3, pct(bare, 50) * 1e3, r50,
                     pct(served, 95) * 1e3, pct(bare, 95) * 1e3, r95, f"{top}", f"{over}{served_top * 1e3:.0f}",
                     bare_top * 1e3, f"{over}{r_top:.3g}"))
        ctx.extra[f"overhead:{fmt}"] = {"p50": r50, "p95": r95, "top": r_top}
    part.tables.append(table(
        ["format", "native levels", "n L0", "L0 p50 ms", "floor p50 ms", "×", "L0 p95 ms", "floor p95 ms", "×",
         "coarsest level", "coarsest ms (n=1)", "floor ms", "×"], rows))
    part.notes += [
        f"{len(keys)} random level-0 chunks of the served layout (--chunks auto: 64³, flat for slice stacks; "
        "seeded), requested one at a time on a keep-alive connection.",
        "Floor: the same reader opened in-process, the region read through the pyramid's source path (a slice "
        "stack's planes split into slabs on a pool of the server's leaf-pool size, as the server splits them) + "
        "blosc-zstd encode; for a computed "
        "coarsest level, the finer native region read in z-slabs and reduced with "
        "`transformer.engine.downsample.mean`, "
        "or, where the server samples the overview (sources over --exact-limit-mb), one `Level.read_sampled`.",
        "Both sides have the same parallelism: before issue 22 the floor read on one thread while the server "
        "split its reads across its pool, so the server could beat its own floor (× < 1).",
        f"A coarsest chunk still computing after {ctx.settings.cap_s:.0f} s is reported as '> cap' (a lower bound).",
        "Both sides read from the OS page cache (the files were just written or read): this measures the software, "
        "not the disk.",
    ]
    part.goals.append(Goal("cold chunk overhead (worst of p50, p95, coarsest)", worst, f"≤ {GOAL}×",
                           None if math.isnan(worst) else worst <= GOAL))
    return part
