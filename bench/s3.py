"""Part 15 — the S3 facade (issue 21): listing pages and copying a dataset with an S3 client.

- listing: ``ListObjectsV2`` pages of 1,000 keys of one dataset on a warm server (the dataset open, nothing
  computed: listings come from the geometry), the first page and the deepest page that still holds 1,000 keys
  (its continuation token), one request at a time over one keep-alive connection. The server runs with 32³ chunks so
  the dataset has well over 1,000 keys at the run's shape.
- copy: ``rclone copy --fast-list`` of the whole zarr v2 dataset from /s3/ (4 transfers, rclone's default), once to make
  every chunk (cold), then again on the warm server; the baseline is the same rclone copying the same bytes (the
  first copy's folder) from nginx serving that folder (rclone's http backend over nginx's autoindex), so both
  sides are one client with the same parallelism and only the server differs.
"""

from __future__ import annotations

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


def _tree_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run(ctx: Context) -> Part:
    part = Part("s3", "15. S3 facade (ListObjectsV2 pages of 1,000 keys; rclone copy from /s3/ ÷ from nginx)")
    record, db, _ = ctx.register(ctx.settings.formats[0], "s3")
    prefix = f"{record.id}.ome.zarr/"
    with serve(db, "--chunks", "32,32,32") as srv, httpx.Client(timeout=60) as client:
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
        remote = f":s3,provider=Other,endpoint='{srv.url}/s3',force_path_style=true,env_auth=false:zarr/{prefix}"
        cold_dir = copies / "cold"
        cold = _rclone(remote, cold_dir, "--fast-list")
        warm = statistics.median(_rclone(remote, copies / f"warm{i}", "--fast-list") for i in range(ROUNDS))
    warm_dir = copies / "warm0"
    cold_dir.chmod(0o755)
    for p in cold_dir.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # nginx's workers may run as another user
    with nginx(cold_dir, ctx.tmp / "nginx-s3", location="autoindex on;") as url:
        baseline = statistics.median(_rclone(f":http,url='{url}/':", copies / f"nginx{i}") for i in range(ROUNDS))
    nginx_dir = copies / "nginx0"
    files, size = _tree_bytes(cold_dir)
    assert _tree_bytes(warm_dir) == (files, size)
    # nginx's autoindex hides dot files: its copy lacks zarr v2's small documents (.zattrs, .zarray, ...)
    nginx_files, nginx_size = _tree_bytes(nginx_dir)
    mb, nginx_mb = size / 1e6, nginx_size / 1e6
    part.tables.append(table(["rclone copy", "objects", "MB", "seconds", "MB/s"], [
        ("/s3/ cold (every chunk made)", files, mb, cold, mb / cold),
        (f"/s3/ warm (median of {ROUNDS})", files, mb, warm, mb / warm),
        (f"nginx, the same files (median of {ROUNDS})", nginx_files, nginx_mb, baseline, nginx_mb / baseline)]))
    ratio = (mb / warm) / (nginx_mb / baseline)
    part.goals.append(Goal("rclone copy from /s3/ (warm) ÷ from nginx (throughput)", ratio, f">= {COPY_GOAL}",
                           ratio >= COPY_GOAL))
    part.notes += [
        f"The {record.format} dataset as zarr v2 under /s3/zarr/: {files:,} objects, {mb:.1f} MB (chunks are "
        "served uncompressed under /s3/ so every listed size is known from the geometry).",
        "Both copies are `rclone copy` with its defaults (4 transfers, 8 checkers), from /s3/ with `--fast-list` "
        "(one recursive listing instead of one per folder: what rclone advises for S3; a zarr tree has a folder "
        "per chunk row, and walking them one listing each took twice as long); the server, rclone and nginx "
        "share this machine's cores. nginx's autoindex does not list dot files, so its copy lacks the zarr v2 "
        "documents (a few KB): the ratio compares MB/s.",
    ]
    return part
