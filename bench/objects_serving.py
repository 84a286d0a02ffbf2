"""Neurons and cells served beside their image (issue 19): what registering and serving them costs.

1. Scan: a brain with 1,000 neurons of 100,000 nodes (one real SWC of ~5 MB hard-linked 1,000 times: the scan
   reads headers and stamps, so the bytes behind the links do not matter) against the same brain without
   them. Goal: ≤ 2 s added.
2. First skeleton of one neuron over HTTP (fresh server: parse, encode, send) ÷ parsing its SWC in process
   (``parse_swc``). Goal: ≤ 5×.
3. Warm throughput: one skeleton URL against one image chunk URL of the same server, both from the warm path,
   with the same client (threads of keep-alive httpx clients, no gzip). Goal: ≥ 0.9× in bytes per second (a
   100,000-node skeleton is 2.8 MB, an image chunk a few hundred KB: requests per second are reported too).
4. 2,000,000 cells: a fresh server's annotation ``info`` plus the coarsest spatial level (``spatial0/0_0_0``),
   cold, and the server's peak anonymous RSS against ``--cache-mb`` + 300 MB.

Run by hand: ``python -m bench.objects_serving [--data DIR] [--cells 2000000] [--neurons 1000]``; as a part of
``python -m bench`` it is ``--only objects_serving``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from bench.common import Context, Goal, MemoryWatch, Part, Settings, serve, table, timed_scan
from bench.pyramid_cost import cpu_seconds
from catalog.store import Catalog
from readers.objects.swc import parse_swc

NODES = 100_000
NEURONS = 1_000
CELLS = 2_000_000
CACHE_MB = 512
IMAGE = (64, 512, 512)  # z, y, x of the brain the objects sit beside
VOXEL = (2.0, 1.0, 1.0)


def big_swc(path: Path, nodes: int = NODES, seed: int = 3) -> Path:
    """A tree of ``nodes`` nodes: random walks branching every few hundred nodes (written once)."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=1.5, size=(nodes, 3))
    parent = np.arange(-1, nodes - 1)
    branch = rng.random(nodes) < 0.004  # a new branch starts at a random earlier node
    parent[branch] = (rng.random(branch.sum()) * np.flatnonzero(branch)).astype(int)
    parent[0] = -1
    xyz = np.zeros((nodes, 3))
    for i in range(1, nodes):  # positions follow parents (cumulative walk)
        xyz[i] = xyz[parent[i]] + steps[i]
    xyz += [256, 256, 64]
    types = np.where(np.arange(nodes) == 0, 1, np.where(np.arange(nodes) % 2, 3, 2))
    lines = ["# synthetic neuron for the benchmark"]
    lines += [
        f"{i + 1} {t} {x:.3f} {y:.3f} {z:.3f} 1.0 {p + 1 if p >= 0 else -1}"
        for i, (t, (x, y, z), p) in enumerate(zip(types, xyz, parent, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def cell_table(path: Path, n: int = CELLS, seed: int = 5) -> Path:
    """``n`` cells (x, y, z µm inside the brain, an intensity), written once."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1, size=(n, 3)) * [IMAGE[2] * VOXEL[2], IMAGE[1] * VOXEL[1], IMAGE[0] * VOXEL[0]]
    data = np.column_stack([pts, rng.integers(100, 60000, n)])
    np.savetxt(path, data, fmt=["%.2f", "%.2f", "%.2f", "%d"], delimiter=",", header="x,y,z,intensity", comments="")
    return path


def brain(folder: Path, sidecar: dict) -> Path:
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "brain.ome.tif"
    if not image.exists():
        volume = np.random.default_rng(1).integers(0, 4000, IMAGE, dtype=np.uint16)
        tifffile.imwrite(image, volume, ome=True, tile=(128, 128), metadata={"axes": "ZYX"})
    (folder / "brain.ome.tif.json").write_text(json.dumps({"voxel_size": list(VOXEL), **sidecar}))
    return image


def scan_seconds(root: Path, db: Path) -> float:
    seconds, report = timed_scan(root, db)
    assert len(report.added) == 1, report.refused
    return seconds


def linked_neurons(folder: Path, source: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        link = folder / f"n{i:04d}.swc"
        if not link.exists():
            os.link(source, link)


def rate(url: str, seconds: float, threads: int = 4) -> tuple[float, float]:
    """(requests/s, MB/s) of GETs of ``url`` from ``threads`` keep-alive clients for ``seconds``."""
    counts, sizes = [0] * threads, [0] * threads
    stop = time.monotonic() + seconds

    def loop(k: int) -> None:
        with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
            while time.monotonic() < stop:
                r = client.get(url)
                assert r.status_code == 200, r.status_code
                counts[k] += 1
                sizes[k] += len(r.content)

    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / seconds, sum(sizes) / seconds / 1e6


def measure(
    data: Path, tmp: Path, neurons: int = NEURONS, cells: int = CELLS, seconds: float = 5.0, only_cells: bool = False
) -> Part:
    began = time.perf_counter()
    part = Part("objects_serving", "Neurons and cells beside an image (issue 19)")
    data.mkdir(parents=True, exist_ok=True)
    table_path = cell_table(data / f"cells_{cells}.csv", cells)
    if only_cells:
        return _cells_part(part, table_path, tmp, cells, began)
    swc = big_swc(data / f"neuron_{NODES}.swc")

    # 1. scan cost of the neurons
    plain, with_neurons = tmp / "plain", tmp / "with"
    brain(plain, {})
    brain(with_neurons, {"neurons": "swc/*.swc"})
    linked_neurons(with_neurons / "swc", swc, neurons)
    base_s = min(scan_seconds(plain, tmp / "plain.sqlite") for _ in range(3))
    with_s = min(scan_seconds(with_neurons, tmp / "with.sqlite") for _ in range(3))
    added = with_s - base_s

    # 2. first skeleton over HTTP vs parsing in process
    body = swc.read_bytes()
    parse_s = min(_timed(lambda: parse_swc(body)) for _ in range(3))
    record = Catalog(tmp / "with.sqlite").all()[0]
    nid = record.attached[0]["id"]
    with serve(tmp / "with.sqlite", "--cache-mb", str(CACHE_MB)) as srv, httpx.Client(timeout=120) as client:
        client.get(f"{srv.url}/api/datasets/{record.id}")  # the dataset opened: the image's cost is not the neuron's
        first_s = _timed(lambda: client.get(f"{srv.url}/objects/{record.id}/skeletons/{nid}").raise_for_status())
        skeleton_url = f"{srv.url}/objects/{record.id}/skeletons/{nid}"
        chunk_url = f"{srv.url}/zarr/{record.id}.ome.zarr/0/0/0/0/0/0"
        for url in (skeleton_url, chunk_url):
            client.get(url).raise_for_status()  # warm
        skel_rps, skel_mbs = rate(skeleton_url, seconds)
        chunk_rps, chunk_mbs = rate(chunk_url, seconds)

    part.tables.append(
        table(
            ["measure", "value"],
            [
                ("scan, brain alone (s)", f"{base_s:.3f}"),
                (f"scan, brain + {neurons} neurons of {NODES:,} nodes (s)", f"{with_s:.3f}"),
                ("added by the neurons (s)", f"{added:.3f}"),
                (f"parse_swc of {NODES:,} nodes in process (s)", f"{parse_s:.3f}"),
                ("first skeleton over HTTP, fresh server (s)", f"{first_s:.3f}"),
                ("warm skeleton req/s (MB/s)", f"{skel_rps:.0f} ({skel_mbs:.0f})"),
                ("warm image chunk req/s (MB/s)", f"{chunk_rps:.0f} ({chunk_mbs:.0f})"),
            ],
        )
    )
    part.notes += [
        f"Skeleton of {NODES:,} nodes: {len(body) / 1e6:.1f} MB of SWC, served as "
        f"{8 + 12 * NODES + 8 * (NODES - 1) + 8 * NODES:,} bytes; the image chunk is the first uint16 zarr chunk "
        "of the same server. Throughput: 4 threads of keep-alive httpx clients, identity encoding, "
        f"{seconds:.0f} s each.",
        "The neurons' node counts are not read at scan time (headers and stamps only): the server fills them in "
        "the catalog the first time it parses each neuron.",
    ]
    part.goals += [
        Goal("scan: added by 1,000 neurons of 100k nodes (s)", added, "≤ 2 s", added <= 2.0),
        Goal("first skeleton over HTTP ÷ in-process parse", first_s / parse_s, "≤ 5×", first_s / parse_s <= 5),
        Goal("warm skeleton ÷ image chunk (MB/s)", skel_mbs / chunk_mbs, "≥ 0.9×", skel_mbs / chunk_mbs >= 0.9),
    ]
    return _cells_part(part, table_path, tmp, cells, began)


def _cells_part(part: Part, table_path: Path, tmp: Path, cells: int, began: float) -> Part:
    """4. ``cells`` cells, cold, and the peak memory."""
    cells_root = tmp / "cells"
    brain(cells_root, {"cells": "cells.csv"})
    (cells_root / "cells.csv").unlink(missing_ok=True)
    os.link(table_path, cells_root / "cells.csv")
    scan_seconds(cells_root, tmp / "cells.sqlite")
    record = Catalog(tmp / "cells.sqlite").all()[0]
    tid = record.attached[0]["id"]
    with serve(tmp / "cells.sqlite", "--cache-mb", str(CACHE_MB)) as srv, httpx.Client(timeout=300) as client:
        client.get(f"{srv.url}/api/datasets/{record.id}").raise_for_status()
        watch = MemoryWatch(srv.proc.pid, CACHE_MB)
        # the server's CPU seconds: the cold path's cost apart from the machine's load, which stretches wall time
        cpu_before = cpu_seconds(srv.proc.pid)
        start = time.perf_counter()
        info = client.get(f"{srv.url}/objects/{record.id}/cells/{tid}/info").raise_for_status().json()
        coarse = client.get(f"{srv.url}/objects/{record.id}/cells/{tid}/spatial0/0_0_0").raise_for_status()
        cold_s = time.perf_counter() - start
        cold_cpu = cpu_seconds(srv.proc.pid) - cpu_before
        peak = watch.peak()
    levels = len(info["spatial"])
    count = int(np.frombuffer(coarse.content[:8], "<u8")[0])
    part.tables.append(
        table(
            ["measure", "value"],
            [
                (f"{cells:,} cells: info + spatial0 cold (s)", f"{cold_s:.2f}"),
                ("server CPU time of those two requests (s, all threads)", f"{cold_cpu:.2f}"),
                ("spatial levels; cells in spatial0", f"{levels}; {count:,}"),
                (f"peak RSS anon (MB), --cache-mb {CACHE_MB}", f"{peak.anon / 2**20:.0f}"),
            ],
        )
    )
    part.notes.append(
        "Cold: a fresh server whose dataset is open, then GET info and spatial0/0_0_0 of the table: reading the "
        f"CSV ({table_path.stat().st_size / 1e6:.0f} MB), the spatial index and the first cell's bytes. The load "
        "average of the machine at the end of the run: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()) + "."
    )
    part.goals += [
        Goal("2M cells: info + coarsest level cold (s)", cold_s, "≤ 3 s", cold_s <= 3.0),
        Goal(
            "2M cells: peak RSS anon ≤ --cache-mb + 300 MB",
            peak.anon / 2**20,
            f"≤ {CACHE_MB + 300} MB",
            peak.anon / 2**20 <= CACHE_MB + 300,
        ),
    ]
    part.seconds = time.perf_counter() - began
    return part


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(ctx: Context) -> Part:
    return measure(ctx.settings.data / "objects", ctx.tmp / "objects")


def main() -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.objects_serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default=str(Settings.data / "objects"), help="where generated inputs are kept")
    p.add_argument("--neurons", type=int, default=NEURONS)
    p.add_argument("--cells", type=int, default=CELLS)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per throughput run")
    p.add_argument("--only-cells", action="store_true", help="only the cell table's cold path and memory (4.)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-objects-") as tmp:
        part = measure(Path(args.data), Path(tmp), args.neurons, args.cells, args.seconds, args.only_cells)
    print(part.markdown())
    for goal in part.goals:
        print(f"{goal.name}: {goal.value:.3f} ({goal.target}) {goal.verdict()}")


if __name__ == "__main__":
    main()
