"""Default display windows for channels whose source states none.

Viewers open with the full dtype range otherwise (0..65535 for 16-bit), which shows most microscopy
as black. A cheap sample — the middle plane of the coarsest native level, at most 1024² voxels — gives
robust percentiles without reading the volume.
"""

from __future__ import annotations

import numpy as np

from readers.base import Volume

SAMPLE = 1024
PERCENTILES = (0.5, 99.8)


def estimate_windows(volume: Volume) -> list[tuple[float, float] | None]:
    """Per channel, (start, end) from a sample, or None when the sample cannot say (flat, unreadable)."""
    level = volume.levels[-1]
    _, nc, nz, ny, nx = level.shape
    y0, x0 = max(0, (ny - SAMPLE) // 2), max(0, (nx - SAMPLE) // 2)
    region = (slice(nz // 2, nz // 2 + 1), slice(y0, min(ny, y0 + SAMPLE)), slice(x0, min(nx, x0 + SAMPLE)))
    out: list[tuple[float, float] | None] = []
    for c in range(nc):
        try:
            sample = level.read(0, c, *region)
        except Exception:  # noqa: BLE001 - a damaged sample only costs the default window
            out.append(None)
            continue
        lo, hi = (float(v) for v in np.percentile(sample, PERCENTILES))
        out.append((lo, hi) if hi > lo else None)
    return out
