"""Part 2 — pyramid cost: every chunk of every level, cold ÷ every chunk of level 0, cold.

Two fresh servers on the format with no native levels (the pyramid is all computed): one serves
level 0 only, the other every level, finest first, both with the same bounded concurrency. The
geometric limit is the voxel count of all levels ÷ that of level 0 (~1.14 for 2×2×2 halving).
The cache budget holds the decoded pyramid, so nothing is evicted before its coarser level reads
it; the server's /metrics then tell whether any block was computed twice (a re-read of level 0).
"""

from __future__ import annotations

import math

from bench.common import Context, Goal, Part, ZarrView, fetch_all, metrics, serve, table
from bench.floor import Floor
from transformer.engine.resources import SHARES

GOAL = 1.2
MiB = 1 << 20


def budget_mb(ctx: Context, fmt: str) -> int:
    """A --cache-mb whose blocks share holds every level of the pyramid with room to spare."""
    with Floor(ctx.source(fmt), overview="exact") as floor:
        itemsize = floor.pyramid.dtype.itemsize
        decoded = sum(math.prod(lv.spec.shape) * itemsize for lv in floor.pyramid.levels)
    return int(1.15 * decoded / SHARES["blocks"] / MiB) + 128


def _source_reads(m: dict[str, float]) -> int:
    """Native-level chunk reads the server made (its /metrics counter; older servers: block-cache misses)."""
    if "transformer_source_reads_total" in m:
        return int(m["transformer_source_reads_total"])
    return int(m.get('transformer_cache_misses{cache="blocks"}', 0))


def _cold(ctx: Context, fmt: str, label: str, levels: list[int] | None, cache_mb: int | None,
          overview: str = "exact") -> dict:
    record, db, _ = ctx.register(fmt, label)
    args = (("--cache-mb", str(cache_mb)) if cache_mb else ()) + ("--overview", overview)
    with serve(db, *args) as srv:
        view = ZarrView(srv.url, record.id)
        wanted = list(range(len(view.levels))) if levels is None else levels
        per_level: dict[int, float] = {}
        chunks = nbytes = 0
        for level in wanted:  # level by level: no request waits on a block another level is computing
            keys = view.all_keys([level])
            got = fetch_all(view.root, keys, ctx.settings.fetch_concurrency, timeout=ctx.settings.cap_s)
            if got.statuses != {200: len(keys)}:
                raise RuntimeError(f"{label}: level {level}: unexpected statuses {got.statuses}")
            per_level[level] = got.seconds
            chunks += len(keys)
            nbytes += got.nbytes
        m = metrics(srv.url)
    native = sum(math.prod(view.levels[lv].grid) for lv in wanted if lv < record.native_levels)
    return {"view": view, "seconds": sum(per_level.values()), "chunks": chunks, "bytes": nbytes,
            "per_level": per_level, "reads": _source_reads(m), "native_chunks": native, "levels": wanted,
            "sampled": int(m.get("transformer_sampled_reads_total", 0))}


def run(ctx: Context) -> Part:
    part = Part("pyramid", "2. Pyramid cost (all levels cold ÷ level 0 cold)")
    fmt = "tiff-raw" if "tiff-raw" in ctx.settings.formats else ctx.settings.formats[0]
    budget = budget_mb(ctx, fmt)
    l0 = _cold(ctx, fmt, "pyramid-l0", [0], budget)
    full = _cold(ctx, fmt, "pyramid-all", None, budget)
    default = _cold(ctx, fmt, "pyramid-default", [0, 1], None)  # levels 0-1 show it; all of them take 4×
    sampled = _cold(ctx, fmt, "pyramid-sampled", None, budget, "sampled")
    view: ZarrView = full["view"]
    vox = [math.prod(lv.shape) for lv in view.levels]
    limit = sum(vox) / vox[0]
    ratio = full["seconds"] / l0["seconds"]
    rows = []
    for name, r, mb in (("level 0 only", l0, budget), ("all levels", full, budget),
                        ("levels 0-1, default --cache-mb", default, 1024),
                        ("all levels, --overview sampled", sampled, budget)):
        rows.append((name, mb, len(r["levels"]), r["chunks"], r["seconds"], r["seconds"] / l0["seconds"],
                     r["reads"], f"{r['reads'] / r['native_chunks']:.2f}", r["sampled"]))
    part.tables.append(table(["run (fresh server)", "--cache-mb", "levels", "chunks", "seconds", "÷ level 0",
                              "source reads", "reads ÷ level-0 chunks", "sampled reads"], rows))
    per_level = [(lv, "×".join(map(str, view.levels[lv].shape[2:])), math.prod(view.levels[lv].grid),
                  f"{vox[lv] / vox[0]:.4f}", s, s / l0["seconds"]) for lv, s in full["per_level"].items()]
    part.tables.append(table(["level", "z×y×x", "chunks", "voxels ÷ level 0", "seconds", "÷ level 0 run"],
                             per_level))
    part.notes += [
        f"Format {fmt} (no native levels: every coarser level is computed). Requests issued level by level, finest "
        f"first, by {ctx.settings.fetch_concurrency} concurrent keep-alive connections, the same for every run.",
        f"Geometric limit (voxels of all levels ÷ level 0): {limit:.3f}.",
        "`source reads` is the server's /metrics counter of native-level chunk reads "
        "(`transformer_source_reads_total`): equal to the number of level-0 chunks means every level-0 region was "
        "read once, no level re-read level 0.",
        "The default-budget run (levels 0 and 1 only, to keep the run short) is informative: when the decoded "
        "level 0 does not fit in the cache, a finer-first traversal re-reads evicted level-0 "
        "blocks (reads ÷ level-0 chunks > 1).",
        "The goals are about the exact pyramid (`--overview exact`: every level a block mean of the one above). "
        "The last run is the overview a source this large gets by default (`auto`): each computed chunk is one "
        "strided read of level 0 ('sampled reads'), touching 1/8 of the voxels of the level above.",
    ]
    reread = full["reads"] > full["native_chunks"]
    part.goals.append(Goal("pyramid cost (all levels ÷ level 0)", ratio, f"≤ {GOAL}× (limit {limit:.2f})",
                           ratio <= GOAL))
    part.goals.append(Goal("no level re-reads level 0 (source reads ÷ level-0 chunks)",
                           full["reads"] / full["native_chunks"], "= 1.00", not reread))
    return part
