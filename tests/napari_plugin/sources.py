"""The demo datasets' voxels read from their source files (independently of the service): title -> one
(z, y, x) array per channel."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import tifffile

SLICES = "Synthetic mouse brain, TIFF slices"
OME_TIFF = "Synthetic mouse brain, two channels, OME-TIFF"
JP2 = "Synthetic mouse brain, JPEG2000 slices"
IMARIS = "Synthetic mouse brain, two channels, Imaris"


def demo_sources(demo: Path) -> dict[str, list[np.ndarray]]:
    slices = sorted((demo / "brain-slices").glob("*.tif"), key=lambda p: int(p.stem.rsplit("z", 1)[1]))
    brain = np.stack([tifffile.imread(p) for p in slices])
    with h5py.File(demo / "brain.ims") as f:
        channels = f["DataSet/ResolutionLevel 0/TimePoint 0"]
        imaris = [channels[f"Channel {c}/Data"][: brain.shape[0], : brain.shape[1], : brain.shape[2]]
                  for c in range(len(channels))]
    return {
        SLICES: [brain],
        JP2: [brain],  # lossless JPEG2000 of the same brain (transformer.demo)
        OME_TIFF: list(tifffile.imread(demo / "brain-2ch.ome.tif")),
        IMARIS: imaris,
    }
