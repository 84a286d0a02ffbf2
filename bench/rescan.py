"""Part 10 — rescans under load: warm chunks at 64 connections while the dataset is re-registered.

An archive rescans its roots while people browse. Before issue 12 every rescan stamped a new version on
every dataset, and the version keys every cache, so each rescan made all caches cold (12 rescans under
64 clients took p99 from ~30 ms to 28.6 s). Now the version follows content (catalog/scan.py
``register`` keeps an unchanged record's version): a rescan that finds nothing new must cost nothing.

Two wrk runs of the same warm URL list at 64 connections, the second while the dataset is described and
registered again 12 times (what ``transformer scan`` does per dataset); the figures are ratios of the two
runs and the chunks the server computed during each (0 = nothing went cold).
"""

from __future__ import annotations

import threading

from bench.common import Context, Goal, Part, ZarrView, fetch_all, metrics, serve, table
from bench.loadgen import Load, failed, skipped_without_tools, wrk
from catalog.scan import describe, register
from catalog.store import Catalog

FORMAT = "tiff-raw"
RESCANS = 12
CONNECTIONS = 64
GOAL_P99_RATIO = 2.0


def _rescan(db, source, times: int, spread_s: float, stop: threading.Event, done: list[int]) -> None:
    """Describe and register ``source`` ``times`` times, spread over ``spread_s`` seconds."""
    catalog = Catalog(db)
    root = source if source.is_dir() else source.parent
    try:
        for _ in range(times):
            register(catalog, describe(source, root, catalog))
            done.append(1)
            if stop.wait(spread_s / times):
                break
    finally:
        catalog.close()


def run(ctx: Context) -> Part:
    part = Part("rescan", f"10. Rescans under load ({RESCANS} rescans during {CONNECTIONS}-connection warm load)")
    if skipped_without_tools(part):
        return part
    fmt = FORMAT if FORMAT in ctx.settings.formats else ctx.settings.formats[0]
    record, db, _ = ctx.register(fmt, "rescan")
    source = ctx.source(fmt)
    seconds = ctx.settings.duration
    with serve(db, "--cache-mb", str(ctx.settings.memory_cache_mb)) as srv:
        view = ZarrView(srv.url, record.id)
        keys = view.all_keys(range(1, len(view.levels)))[:1500] + view.all_keys([0])[:500]
        fetch_all(view.root, keys, 4)  # warm: every key now sits in the caches
        paths = [f"{view.path}/{k}" for k in keys]
        runs: list[tuple[str, Load, float, int]] = []
        for label, rescans in (("no rescans", 0), (f"{RESCANS} rescans", RESCANS)):
            stop, done = threading.Event(), []
            worker = threading.Thread(target=_rescan, args=(db, source, rescans, seconds * 0.8, stop, done))
            before = metrics(srv.url)
            worker.start()
            load = wrk(srv.url, paths, CONNECTIONS, seconds, ctx.tmp)
            stop.set()
            worker.join()
            after = metrics(srv.url)
            computed = after.get("transformer_chunks_computed_total", 0) - before.get(
                "transformer_chunks_computed_total", 0)
            runs.append((label, load, computed, len(done)))
    (_, calm, _, _), (_, busy, busy_computed, busy_done) = runs
    part.tables.append(table(
        ["run", "rescans done", "req/s", "p50 ms", "p99 ms", "errors", "chunks computed"],
        [(label, n, load.rps, load.p50_ms, load.p99_ms, load.errors, computed) for label, load, computed, n in runs]))
    ratio = busy.p99_ms / calm.p99_ms if calm.p99_ms else float("inf")
    part.notes += [
        f"Format {fmt}; {len(keys)} warm chunk URLs cycled by wrk, {seconds:.0f} s per run, {CONNECTIONS} "
        f"connections; rescans run in the benchmark process on the server's catalog file.",
        f"p99 with rescans ÷ p99 without: {ratio:.2f}; req/s ratio {busy.rps / calm.rps:.2f}. Before issue 12 "
        "(main at 40a26cc) 12 rescans took p99 from ~30 ms to 28.6 s (issue 12's audit).",
    ]
    errors = failed([calm, busy])  # a rescan that makes requests fail fast must not pass as a short p99
    part.goals.append(Goal("rescans under load: p99 with ÷ without", ratio,
                           f"≤ {GOAL_P99_RATIO}×, 0 failed requests ({errors})",
                           ratio <= GOAL_P99_RATIO and not errors))
    part.goals.append(Goal("rescans under load: chunks recomputed", busy_computed, "= 0",
                           busy_computed == 0 and busy_done == RESCANS))
    return part
