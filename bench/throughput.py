"""Part 3 — warm throughput: cached chunks through the service ÷ nginx serving an on-disk copy.

The copy is written by downloading every chunk and metadata key of the service's zarr v2 view (from a
server whose cache holds the pyramid, level by level), so nginx sends exactly the same bytes. Both are
loaded by wrk with the same URL list (the coarse levels plus random level-0 chunks, sized to sit in the
service's encoded-chunk cache), at each concurrency, nginx with as many worker processes as the service
has (one uvicorn process).
"""

from __future__ import annotations

import numpy as np

from bench.common import Context, Goal, MemoryWatch, Part, ZarrView, fetch_all, metrics, serve, table
from bench.loadgen import Load, failed, nginx, skipped_without_tools, wrk
from bench.pyramid_cost import budget_mb

GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0
FORMAT = "tiff-raw"


def download_copy(ctx: Context, view: ZarrView, fmt: str) -> tuple[object, dict[str, int]]:
    """Every key of ``view`` written under ``ctx.tmp/copy-{fmt}/copy.ome.zarr``; returns (root, sizes)."""
    root = ctx.tmp / f"copy-{fmt}"
    store = root / "copy.ome.zarr"
    sizes: dict[str, int] = {}

    def write(key: str, body: bytes) -> None:
        path = store / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        sizes[key] = len(body)

    batches = [view.metadata_keys(), *(view.all_keys([lv]) for lv in range(len(view.levels)))]
    for keys in batches:  # level by level, finest first: each level computed from the cached one above
        got = fetch_all(view.root, keys, ctx.settings.fetch_concurrency, sink=write, timeout=ctx.settings.cap_s)
        if set(got.statuses) != {200}:
            raise RuntimeError(f"copy download: statuses {got.statuses}")
    return root, sizes


def url_set(view: ZarrView, sizes: dict[str, int], budget_bytes: int, seed: int) -> list[str]:
    """Keys a viewer would keep asking for: coarse levels whole, then random level-0 chunks, within budget."""
    keys: list[str] = []
    used = 0
    for level in reversed(range(1, len(view.levels))):
        level_keys = view.all_keys([level])
        need = sum(sizes[k] for k in level_keys)
        if used + need > budget_bytes * 0.3:
            break
        keys += level_keys
        used += need
    level0 = view.all_keys([0])
    for i in np.random.default_rng(seed).permutation(len(level0)):
        if used + sizes[level0[i]] > budget_bytes or len(keys) >= 2000:
            break
        keys.append(level0[i])
        used += sizes[level0[i]]
    return keys


def run(ctx: Context) -> Part:
    part = Part("throughput", "3. Warm throughput (service ÷ nginx serving identical bytes from disk)")
    if skipped_without_tools(part):
        return part
    fmt = FORMAT if FORMAT in ctx.settings.formats else ctx.settings.formats[0]
    cache_mb = ctx.settings.memory_cache_mb
    record, db, _ = ctx.register(fmt, "throughput")
    with serve(db, "--cache-mb", str(budget_mb(ctx, fmt))) as srv:  # a budget that holds the decoded pyramid
        root, sizes = download_copy(ctx, ZarrView(srv.url, record.id), fmt)
    ours: list[Load] = []
    with serve(db, "--cache-mb", str(cache_mb)) as srv:
        watch = MemoryWatch(srv.proc.pid, cache_mb)
        view = ZarrView(srv.url, record.id)
        keys = url_set(view, sizes, cache_mb * (1 << 20) // 2 // 2, ctx.settings.seed)
        fetch_all(view.root, keys, 4)  # warm: every key now sits in the encoded-chunk cache
        before = metrics(srv.url)
        for c in ctx.settings.concurrency:
            ours.append(wrk(srv.url, [f"{view.path}/{k}" for k in keys], c, ctx.settings.duration, ctx.tmp))
        after = metrics(srv.url)
        ctx.peaks["3. warm throughput"] = watch.peak()
    computed = after.get("transformer_chunks_computed_total", 0) - before.get("transformer_chunks_computed_total", 0)
    theirs: list[Load] = []
    with nginx(root, ctx.tmp / "nginx") as url:
        for c in ctx.settings.concurrency:
            theirs.append(wrk(url, [f"/copy.ome.zarr/{k}" for k in keys], c, ctx.settings.duration, ctx.tmp))
    rows, ratios = [], []
    for a, b in zip(ours, theirs, strict=True):
        ratios.append(a.rps / b.rps)
        rows.append((a.concurrency, a.rps, a.mbps, a.p50_ms, a.p99_ms, a.errors, b.rps, b.mbps, b.p50_ms, b.p99_ms,
                     a.rps / b.rps))
    part.tables.append(table(["connections", "service req/s", "MB/s", "p50 ms", "p99 ms", "errors", "nginx req/s",
                              "MB/s", "p50 ms", "p99 ms", "req/s ÷ nginx"], rows))
    mean_kb = np.mean([sizes[k] for k in keys]) / 1e3
    part.notes += [
        f"Format {fmt}; {len(keys)} distinct chunk URLs (mean {mean_kb:.0f} kB), cycled by wrk "
        f"({ctx.settings.duration:.0f} s per run, ≤ 2 wrk threads); the service ran with --cache-mb {cache_mb}.",
        f"Chunks the service computed during the wrk runs: {computed:.0f} (0 = every request was a cache hit).",
        f"nginx: 1 worker process (the service is one uvicorn process), sendfile, open_file_cache; the copy is "
        f"{sum(sizes.values()) / 1e6:.0f} MB in {len(sizes)} files.",
        "wrk, the server under test and the OS share the machine's cores, as they do for nginx.",
    ]
    worst_p99 = max(a.p99_ms for a in ours)
    errors = failed(ours + theirs)  # a fast error is not throughput: any one fails both goals
    part.goals.append(Goal("warm req/s ÷ nginx (worst concurrency)", min(ratios),
                           f"≥ {GOAL_RATIO}×, 0 failed requests ({errors})", min(ratios) >= GOAL_RATIO and not errors))
    part.goals.append(Goal("warm p99 latency, ms (worst concurrency)", worst_p99,
                           f"< {GOAL_P99_MS:.0f} ms, 0 failed requests ({errors})",
                           worst_p99 < GOAL_P99_MS and not errors))
    ctx.extra["copy"] = (fmt, root, sizes)
    return part
