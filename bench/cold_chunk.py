"""Cold latency of one chunk at level 0 and at the coarsest level, per source format.

    .venv/bin/python -m bench.cold_chunk --shape 256,1024,1024

Each format gets a fresh server (empty caches); the dataset is opened first (metadata request) so
the figures are chunk work only. The coarsest chunk of a computed level needs every finer level
below it: that is the honest cold cost of a first overview, and what native pyramids save.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.sources import FORMATS, brain, ensure, written
from catalog.scan import describe
from catalog.store import Catalog
from transformer.testing import Server


def timed_get(client: httpx.Client, url: str) -> float:
    start = time.perf_counter()
    r = client.get(url)
    r.raise_for_status()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="256,1024,1024", help="z,y,x voxels")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "transformer-bench"))
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    root = Path(args.data)
    root.mkdir(parents=True, exist_ok=True)
    volume = None
    rows = []
    for fmt in args.formats.split(","):
        if not written(fmt, shape, root) and volume is None:
            volume = brain(shape)
        path = ensure(fmt, shape, root, volume)
        db = root / f"{fmt}.sqlite"
        db.unlink(missing_ok=True)
        catalog = Catalog(db)
        record = describe(path, path if path.is_dir() else path.parent, catalog)
        catalog.put(record)
        catalog.close()
        srv = Server(db, "--cache-mb", "2048")
        try:
            with httpx.Client(timeout=600) as client:
                base = f"{srv.url}/zarr/{record.id}.ome.zarr"
                zattrs = client.get(base + "/.zattrs").json()
                levels = zattrs["multiscales"][0]["datasets"]
                top = len(levels) - 1
                grid0 = [-(-s // c) for s, c in zip(*(client.get(f"{base}/0/.zarray").json()[k]
                                                      for k in ("shape", "chunks")), strict=True)]
                mid = [g // 2 for g in grid0]
                first = timed_get(client, f"{base}/0/0/0/{mid[2]}/{mid[3]}/{mid[4]}")
                near = sorted({(min(max(mid[3] + i, 0), grid0[3] - 1), max(mid[4] - 1, 0)) for i in range(-2, 3)}
                              - {(mid[3], mid[4])})  # neighbours, clamped to the grid of a small volume
                others = [timed_get(client, f"{base}/0/0/0/{mid[2]}/{y}/{x}") for y, x in near] or [first]
                coarse = timed_get(client, f"{base}/{top}/0/0/0/0/0")
                native = record.native_levels
                rows.append((fmt, native, top + 1, first * 1e3, statistics.median(others) * 1e3, coarse))
        finally:
            srv.stop()
    print(f"\ncold chunk latency, volume {shape[2]}x{shape[1]}x{shape[0]} (x,y,z) uint16, chunks 64^3\n")
    print(f"{'format':<10} {'native lv':>9} {'levels':>6} {'L0 first ms':>11} {'L0 median ms':>12} "
          f"{'coarsest s':>10}")
    for fmt, native, n, first, med, coarse in rows:
        print(f"{fmt:<10} {native:>9} {n:>6} {first:>11.1f} {med:>12.1f} {coarse:>10.2f}")


if __name__ == "__main__":
    main()
