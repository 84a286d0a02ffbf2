"""Objects for the demo brain: a few SWC neurons traced through it and a table of its detected cells, so the
first Neuroglancer link a new user opens shows the overlay (issue 19).

The neurons are random branching walks from a soma inside the brain, in µm of the image's physical frame
(voxel ``(k, j, i)`` is centred at ``(k vz, j vy, i vx)``). The cells are the bright blobs the generator
drew: local maxima of the nuclear-like signal, so the points sit on the cells in the image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NEURONS = 5


def write_objects(folder: Path, brain: np.ndarray, voxel: tuple[float, float, float], seed: int = 11) -> dict:
    """Write ``neurons/*.swc`` and ``cells.csv`` into ``folder``; returns the sidecar keys that attach them."""
    rng = np.random.default_rng(seed)
    (folder / "neurons").mkdir(parents=True, exist_ok=True)
    inside = brain > 700
    for n in range(NEURONS):
        (folder / "neurons" / f"demo_neuron_{n + 1:02d}.swc").write_text(_neuron(rng, inside, voxel, n + 1))
    cells = _cells(brain)
    vz, vy, vx = voxel
    lines = ["id,x,y,z,intensity"]
    lines += [f"{i + 1},{x * vx:.1f},{y * vy:.1f},{z * vz:.1f},{v}" for i, (z, y, x, v) in enumerate(cells)]
    (folder / "cells.csv").write_text("\n".join(lines) + "\n")
    return {"neurons": "neurons/*.swc", "cells": "cells.csv", "cells_units": "um"}


def _neuron(rng: np.random.Generator, inside: np.ndarray, voxel: tuple[float, float, float], number: int) -> str:
    """One neuron: a soma node, 3-5 dendrites (SWC type 3) and an axon (type 2), random walks staying inside."""
    vz, vy, vx = voxel
    scale = np.array([vx, vy, vz])
    nz, ny, nx = inside.shape
    while True:  # a soma well inside the brain
        soma = np.array([rng.uniform(0.3, 0.7) * nx, rng.uniform(0.3, 0.7) * ny, rng.uniform(0.35, 0.65) * nz])
        if inside[int(soma[2]), int(soma[1]), int(soma[0])]:
            break
    soma_um = soma * scale
    nodes = [(1, 1, *soma_um, 6.0, -1)]
    branches = [(2, 160, 3.0)] + [(3, int(rng.integers(30, 60)), 2.0) for _ in range(int(rng.integers(3, 6)))]
    for kind, steps, step_um in branches:
        direction = rng.normal(size=3)
        point, parent = soma_um.copy(), 1
        for _ in range(steps):
            direction = direction / np.linalg.norm(direction) + rng.normal(scale=0.3, size=3)
            candidate = point + step_um * direction / np.linalg.norm(direction)
            i, j, k = (int(round(c)) for c in candidate / scale)
            if not (0 <= k < nz and 0 <= j < ny and 0 <= i < nx and inside[k, j, i]):
                break
            point = candidate
            nodes.append((len(nodes) + 1, kind, *point, 1.0 if kind == 3 else 0.5, parent))
            parent = len(nodes)
    lines = [
        f"# demo neuron {number}, traced on the synthetic brain (brain-transformer demo)",
        "# coordinates in micrometres, in the image's physical frame",
    ]
    lines += [f"{i} {t} {x:.2f} {y:.2f} {z:.2f} {r} {p}" for i, t, x, y, z, r, p in nodes]
    return "\n".join(lines) + "\n"


def _cells(brain: np.ndarray, threshold: float = 3500) -> list[tuple[int, int, int, int]]:
    """(z, y, x, value) of each voxel brighter than ``threshold`` and than its six neighbours."""
    wide = brain.astype(np.int32)  # widened once, not once per neighbour
    core = wide[1:-1, 1:-1, 1:-1]
    peak = core > threshold
    for axis in range(3):
        for shift in (-1, 1):
            neighbour = np.roll(wide, shift, axis=axis)[1:-1, 1:-1, 1:-1]
            peak &= core > neighbour
    z, y, x = np.nonzero(peak)
    return [(int(a) + 1, int(b) + 1, int(c) + 1, int(core[a, b, c])) for a, b, c in zip(z, y, x, strict=True)]


def attach(sidecar: Path, keys: dict) -> None:
    """Add ``keys`` to the JSON sidecar at ``sidecar``."""
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, **keys}, indent=2))
