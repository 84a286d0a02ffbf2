"""Part 15 — the S3 facade (issue 21): listing pages and copying a dataset with an S3 client.

- listing: ``ListObjectsV2`` pages of 1,000 keys of one dataset on a warm server (the dataset open, nothing
  computed: listings come from the geometry), the first page and the deepest page that still holds 1,000 keys
  (its continuation token), one request at a time over one keep-alive connection. The server runs with cubic
  chunks (32³ at the default shapes, smaller at tiny ones) so the dataset has well over 1,000 keys.
- copy: ``rclone copy --fast-list`` of the whole zarr v2 dataset from /s3/ (4 transfers, rclone's default), once to make
  every chunk (cold), then again on the warm server; the baseline is the same rclone S3 backend copying the same
  bytes (the first copy's files) from nginx serving them at the same keys (the one listing request passed to the
  service), so both sides are one client doing the same work and only the server differs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from bench.common import Context, Goal, Part, pct, serve, table
from bench.loadgen import nginx

LIST_GOAL_MS = 20.0
COPY_GOAL = 0.8
REQUESTS = 60
ROUNDS = 3  #: copies per side; the median is reported (one copy of a small dataset is noise on a busy machine)


def listing_chunks(shape: tuple[int, ...], keys: int = 2500) -> str:
    """Cubic chunks, the largest power of two up to 32, that give level 0 at least ``keys`` chunks (a listing
    then has full pages past the first at any shape the bench runs, the smoke test's tiny one included)."""
    edge = 32
    while edge > 1 and math.prod(-(-n // edge) for n in shape) < keys:
        edge //= 2
    return f"{edge},{edge},{edge}"


def _latencies(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200 and r.content.count(b"<Contents>") == 1000, (url, r.status_code)
    return out


def _deepest_full_page(client: httpx.Client, first: str) -> str:
    """The continuation token of the last page that still holds 1,000 keys (the listing walked page by page)."""
    tokens, url = [], first
    while True:
        text = client.get(url).text
        found = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", text)
        if found is None:
            break
        tokens.append(found.group(1))
        url = f"{first}&continuation-token={found.group(1)}"
    assert len(tokens) >= 2, "fewer than 2,000 keys: give the bench a larger --shape"
    return tokens[-2]


def _rclone(source: str, dest: Path, *options: str) -> float:
    """Seconds ``rclone copy`` takes (AWS_CA_BUNDLE unset: rclone refuses it on a plain-http transport)."""
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    start = time.perf_counter()
    subprocess.run(["rclone", "copy", "--config", "/dev/null", *options, source, str(dest)], env=env, check=True,
                   capture_output=True, timeout=3600)
    return time.perf_counter() - start


def _s3_remote(endpoint: str, prefix: str, bucket: str = "zarr") -> str:
    return f":s3,provider=Other,endpoint='{endpoint}/s3',force_path_style=true,env_auth=false:{bucket}/{prefix}"


def _tree_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run(ctx: Context) -> Part:
    part = Part("s3", "15. S3 facade (ListObjectsV2 pages of 1,000 keys; rclone copy from /s3/ ÷ from nginx)")
    record, db, _ = ctx.register(ctx.settings.formats[0], "s3")
    prefix = f"{record.id}.ome.zarr/"
    with serve(db, "--chunks", listing_chunks(ctx.settings.shape)) as srv, httpx.Client(timeout=60) as client:
        first = f"{srv.url}/s3/zarr?list-type=2&prefix={prefix}&max-keys=1000"
        deep = _deepest_full_page(client, first)  # also opens the dataset: every later page is warm
        pages = {"first page": first, "deepest full page (continuation-token)": f"{first}&continuation-token={deep}"}
        measured = {name: _latencies(client, url, REQUESTS) for name, url in pages.items()}
    rows = [(name, len(v), pct(v, 50), pct(v, 99), max(v)) for name, v in measured.items()]
    part.tables.append(table(["ListObjectsV2, 1,000 keys", "requests", "p50 ms", "p99 ms", "max ms"], rows))
    worst = max(pct(v, 50) for v in measured.values())
    part.goals.append(Goal("listing of 1,000 keys, warm, p50 (ms)", worst, f"<= {LIST_GOAL_MS:.0f}",
                           worst <= LIST_GOAL_MS))
    if shutil.which("rclone") is None or shutil.which("nginx") is None:
        part.notes.append("copy not measured: rclone or nginx is missing (scripts/system-deps.sh --all)")
        part.goals.append(Goal("rclone copy from /s3/ ÷ from nginx", None, f">= {COPY_GOAL}", None))
        return part
    copies = ctx.tmp / "s3-copy"
    with serve(db) as srv:
        cold_dir = copies / "cold"
        cold = _rclone(_s3_remote(srv.url, prefix), cold_dir, "--fast-list")
        files, size = _tree_bytes(cold_dir)
        # the baseline: nginx serving the copy's files at the same keys; it cannot list, so the one listing
        # request goes to the service (rclone --fast-list makes one per 1,000 keys)
        root = copies / "nginx-root"
        (root / "s3" / "zarr").mkdir(parents=True)
        cold_dir.rename(root / "s3" / "zarr" / prefix.rstrip("/"))
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)  # nginx's workers may run as another user
        listing = f"location = /s3/zarr {{ proxy_pass {srv.url}; }}"
        with nginx(root, ctx.tmp / "nginx-s3", location="autoindex on;", extra=listing) as url:
            sharded = _s3_remote(srv.url, prefix, "zarr3-sharded")
            _rclone(sharded, copies / "sharded-first", "--fast-list")
            times: dict[str, list[float]] = {"s3": [], "nginx": [], "http": [], "sharded": []}
            for i in range(ROUNDS):  # interleaved, so a change in the machine's load falls on both sides
                times["s3"].append(_rclone(_s3_remote(srv.url, prefix), copies / f"s3-{i}", "--fast-list"))
                times["nginx"].append(_rclone(_s3_remote(url, prefix), copies / f"nginx-{i}", "--fast-list"))
                times["http"].append(_rclone(f":http,url='{url}/s3/zarr/{prefix}':", copies / f"http-{i}"))
                times["sharded"].append(_rclone(sharded, copies / f"sharded-{i}", "--fast-list"))
    for name in ("s3", "nginx"):
        assert _tree_bytes(copies / f"{name}-0") == (files, size), name
    # nginx's autoindex hides dot files: the http backend's copy lacks zarr v2's small documents (.zattrs, ...)
    http_files, http_size = _tree_bytes(copies / "http-0")
    warm, baseline, http, shards = (statistics.median(times[k]) for k in ("s3", "nginx", "http", "sharded"))
    mb, http_mb = size / 1e6, http_size / 1e6
    shard_files, shard_size = _tree_bytes(copies / "sharded-0")
    shard_mb = shard_size / 1e6
    part.tables.append(table(["rclone copy", "objects", "MB", "seconds", "MB/s", "ratio to nginx"], [
        ("/s3/ cold (every chunk made)", files, mb, cold, mb / cold, baseline / cold),
        (f"/s3/ warm (median of {ROUNDS})", files, mb, warm, mb / warm, baseline / warm),
        (f"nginx, the same files as S3 objects (median of {ROUNDS})", files, mb, baseline, mb / baseline, 1.0),
        (f"nginx, the same files over rclone's http backend (median of {ROUNDS})", http_files, http_mb, http,
         http_mb / http, (http_mb / http) / (mb / baseline)),
        (f"/s3/ zarr3-sharded warm, the same voxels in shards (median of {ROUNDS})", shard_files, shard_mb, shards,
         shard_mb / shards, (shard_mb / shards) / (mb / baseline))]))
    ratio = baseline / warm
    part.goals.append(Goal("rclone copy from /s3/ (warm) ÷ the same rclone from nginx (throughput)", ratio,
                           f">= {COPY_GOAL}", ratio >= COPY_GOAL))
    part.notes += [
        f"The {record.format} dataset as zarr v2 under /s3/zarr/: {files:,} objects, {mb:.1f} MB (chunks are "
        "served uncompressed under /s3/ so every listed size is known from the geometry).",
        "Each copy is `rclone copy --fast-list` with rclone's S3 backend and its defaults (4 transfers, 8 "
        "checkers), so both sides are the same client doing the same work (its S3 SDK, an MD5 of every object "
        "it writes); only the server differs. nginx serves the cold copy's files at the same keys with "
        "sendfile and passes the one listing request to the service. The copies alternate, and the server, "
        "rclone and nginx share this machine's cores.",
        "The sharded row copies the zarr3-sharded view of the same dataset (fewer, larger objects: each shard "
        "sent part by part); its ratio compares MB/s with the nginx row.",
        "The http-backend row is context, not the baseline: rclone's http backend reading nginx's autoindex does less "
        "client work per object (no S3 SDK, no MD5: about a third of the S3 backend's user CPU here) and skips "
        "the dot files, so it compares clients, not servers.",
    ]
    return part
