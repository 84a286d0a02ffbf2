"""Part 5 — JPEG2000 coarse levels: a coarsest-native-level chunk from the wavelet ÷ from full decodes.

In-process (the reader alone): the first chunk of the coarsest wavelet level read with the glymur
backend (OpenJPEG decodes only the LL band up to that resolution) against the imagecodecs backend
(``TRANSFORMER_JP2_BACKEND=imagecodecs``), which decodes whole slices at full resolution: its region
is the same chunk's full-resolution footprint, block-averaged down with the service's mean, each slice
decoded once — the best any full-decode path can do. Over HTTP: the first overview chunk on a fresh
server of each backend (the imagecodecs server has no native levels and computes its pyramid from
level 0, so its overview needs every slice decoded); it is given ``cap`` seconds.
"""

from __future__ import annotations

import math
import time

import httpx

from bench.common import Context, Goal, Part, ZarrView, serve, table
from readers.registry import open_volume
from readers.resources import ReaderResources
from transformer.engine import downsample

GOAL = 10.0
ENV = "TRANSFORMER_JP2_BACKEND"  # the server's Config.jp2_backend
FORMAT = "jpeg2000"


def in_process(ctx: Context, chunk: tuple[int, int, int]) -> dict:
    path = ctx.source(FORMAT)
    _, vol = open_volume(path, "jpeg2000", ReaderResources.create(jp2_backend="glymur"))
    with vol:
        r = len(vol.levels) - 1
        shape = vol.levels[r].shape[2:]
        region = [slice(0, min(c, n)) for c, n in zip(chunk, shape, strict=True)]
        start = time.perf_counter()
        wavelet = vol.levels[r].read(0, 0, *region)
        t_wavelet = time.perf_counter() - start
    _, vol = open_volume(path, "jpeg2000", ReaderResources.create(jp2_backend="imagecodecs"))
    with vol:
        if len(vol.levels) != 1:
            raise RuntimeError("the imagecodecs backend was expected to give level 0 only")
        f = 1 << r
        full_shape = vol.levels[0].shape[2:]
        z, y, x = region
        start = time.perf_counter()
        block = vol.levels[0].read(0, 0, z, slice(0, min(y.stop * f, full_shape[1])),
                                   slice(0, min(x.stop * f, full_shape[2])))
        reduced = downsample.mean(block, (1, f, f))
        t_full = time.perf_counter() - start
    if reduced.shape != wavelet.shape:
        raise RuntimeError(f"shapes differ: {reduced.shape} vs {wavelet.shape}")
    return {"r": r, "shape": wavelet.shape, "wavelet": t_wavelet, "full": t_full}


def over_http(ctx: Context, name: str, cap: float) -> tuple[int, float, bool]:
    """(level, seconds, finished) for the coarsest served level whose x/y voxel is the wavelet's coarsest."""
    record, db, _ = ctx.register(FORMAT, f"jp2-{name}")
    with serve(db, env={ENV: name}) as srv:
        view = ZarrView(srv.url, record.id)
        target = ctx.extra["jp2_overview_xy"]
        level = next(i for i, lv in enumerate(view.levels) if lv.shape[3] <= target)
        start = time.perf_counter()
        try:
            httpx.get(f"{view.root}/{view.key(level, (0,) * 5)}", timeout=cap).raise_for_status()
            return level, time.perf_counter() - start, True
        except httpx.TimeoutException:
            return level, cap, False


def run(ctx: Context) -> Part:
    part = Part("jp2", "5. JPEG2000 coarse levels (wavelet reduction ÷ full decode)")
    if FORMAT not in ctx.settings.formats:
        part.skipped = "jpeg2000 not among --formats"
        return part
    ip = in_process(ctx, (64, 64, 64))
    ctx.extra["jp2_overview_xy"] = ip["shape"][1]
    ratio = ip["full"] / ip["wavelet"]
    cap = ctx.settings.jp2_cap_s
    g_level, g_s, _ = over_http(ctx, "glymur", cap)
    i_level, i_s, done = over_http(ctx, "imagecodecs", cap)
    http_ratio = f"{i_s / g_s:.0f}" if done else f"> {i_s / g_s:.0f}"
    z, y, x = ip["shape"]
    part.tables.append(table(
        ["path", "what", "wavelet (glymur) s", "full decode (imagecodecs) s", "full ÷ wavelet"],
        [("reader, in-process", f"level {ip['r']} chunk 0, {x}×{y}×{z} (x×y×z)", ip["wavelet"], ip["full"], ratio),
         ("HTTP, fresh server", f"first chunk of the overview level (glymur level {g_level}, imagecodecs level "
          f"{i_level})", g_s, i_s if done else f"> {cap:.0f} (capped)", http_ratio)]))
    part.notes += [
        "Full decode in-process = each of the chunk's slices decoded once whole, then the service's block mean "
        f"(1, {1 << ip['r']}, {1 << ip['r']}): a lower bound for any full-decode path.",
        "Over HTTP the imagecodecs server has no native levels, so its overview chunk is computed from level 0 "
        "(every slice decoded, and re-decoded when its decoded-slice cache is smaller than a chunk's depth).",
    ]
    part.goals.append(Goal("JPEG2000 coarsest native chunk: full decode ÷ wavelet", ratio, f"≥ {GOAL:.0f}×",
                           ratio >= GOAL if not math.isnan(ratio) else None))
    return part
