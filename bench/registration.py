"""Registering and opening a JPEG2000 slice stack of 10,000 slices (issue 10: ≤ 2 s in total).

The stack is generated cheaply: a few real tiled slices, each hard-linked many times (the scan and the
open read headers and stat files, so the bytes behind the links do not matter). Measured: ``scan`` of
the folder into a fresh catalog (in process: the catalog's and the reader's work, not the interpreter's
start), then a fresh server's first ``.zmetadata`` of it (opening the dataset: listing and sorting the
slices, parsing a few headers, stamping every file, building the pyramid's geometry).

Run by hand: ``python -m bench.registration [--slices 10000] [--size 4096] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import numpy as np

from bench.common import serve, timed_scan

SLICES = 10_000
GOAL_S = 2.0
MASTERS = 4  # distinct slices behind the links


def slice_stack(folder: Path, slices: int = SLICES, size: int = 4096, tile: int = 512) -> Path:
    """``folder/stack``: ``slices`` JPEG2000 files of ``size``² uint16 tiled ``tile``, hard links of a few
    real ones (written once, reused by later runs)."""
    import glymur

    stack, masters = folder / "stack", folder / "masters"
    stack.mkdir(parents=True, exist_ok=True)
    masters.mkdir(exist_ok=True)
    tile = min(tile, size)
    rng = np.random.default_rng(11)
    sources = []
    for i in range(MASTERS):
        path = masters / f"m{i}_{size}_{tile}.jp2"
        if not path.exists():
            plane = rng.integers(0, 4096, (size, size), dtype=np.uint16)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                glymur.Jp2k(str(path), data=plane, tilesize=(tile, tile), numres=min(6, tile.bit_length()))
        sources.append(path)
    return link_slices(stack, sources, slices)


def raw_tiff_stack(folder: Path, slices: int = 4000, size: int = 8192) -> Path:
    """``folder/stack``: ``slices`` uncompressed uint16 TIFFs of ``size``² (tifffile's default strips),
    hard links of a few real ones (written once, reused by later runs)."""
    import tifffile

    stack, masters = folder / "stack", folder / "masters"
    stack.mkdir(parents=True, exist_ok=True)
    masters.mkdir(exist_ok=True)
    rng = np.random.default_rng(11)
    sources = []
    for i in range(MASTERS):
        path = masters / f"m{i}_{size}.tif"
        if not path.exists():
            tifffile.imwrite(path, rng.integers(0, 4096, (size, size), dtype=np.uint16))
        sources.append(path)
    return link_slices(stack, sources, slices)


def link_slices(stack: Path, sources: list[Path], slices: int) -> Path:
    """``stack/slice_{z:05d}{suffix}`` for z < ``slices``, hard links to ``sources`` in turn; other
    files in ``stack`` are removed (a smaller run after a bigger one)."""
    suffix = sources[0].suffix
    wanted = {f"slice_{z:05d}{suffix}" for z in range(slices)}
    for name in set(os.listdir(stack)) - wanted:
        (stack / name).unlink()
    for z in range(slices):
        link = stack / f"slice_{z:05d}{suffix}"
        if not link.exists():
            os.link(sources[z % len(sources)], link)
    return stack


def measure(stack: Path, work: Path) -> dict[str, float]:
    """Seconds to scan ``stack`` into a fresh catalog and for a fresh server's first ``.zmetadata``."""
    db = work / "registration.sqlite"
    scan_s, report = timed_scan(stack, db)
    if len(report.added) != 1:
        raise RuntimeError(f"the stack did not register as one dataset: {report.refused or report.layout}")
    with serve(db) as srv:
        start = time.perf_counter()
        r = httpx.get(f"{srv.url}/zarr/{report.added[0]}.ome.zarr/.zmetadata", timeout=300)
        open_s = time.perf_counter() - start
    r.raise_for_status()
    return {"scan": scan_s, "open": open_s, "total": scan_s + open_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=SLICES)
    parser.add_argument("--size", type=int, default=4096, help="slice width and height")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "transformer-bench" / "registration")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    stack = slice_stack(args.data, args.slices, args.size)
    for run in range(args.runs):
        r = measure(stack, args.data)
        print(f"run {run + 1}: {args.slices} slices of {args.size}²: scan {r['scan']:.2f} s + first .zmetadata "
              f"{r['open']:.2f} s = {r['total']:.2f} s (goal ≤ {GOAL_S} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
