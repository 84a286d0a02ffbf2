"""Benchmark sources: one synthetic brain written in every source format the service reads."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import tifffile

from transformer.demo import synthetic_brain

FORMATS = ("tiff-raw", "tiff-zstd", "jpeg2000", "imaris")


def brain(shape: tuple[int, int, int], seed: int = 3) -> np.ndarray:
    """A brain-like uint16 volume of ``shape``: the demo brain at 1/4 size, upsampled, plus fresh noise.

    Generating the full-size brain directly would need several times its size in float32 temporaries.
    """
    small = synthetic_brain(tuple(max(8, -(-n // 4)) for n in shape), seed=seed)
    big = small.repeat(4, 0).repeat(4, 1).repeat(4, 2)[: shape[0], : shape[1], : shape[2]]
    rng = np.random.default_rng(seed)
    out = np.empty(shape, np.uint16)
    for z in range(shape[0]):  # slice by slice keeps the temporaries small
        out[z] = np.clip(big[z].astype(np.int32) + rng.integers(-60, 60, big[z].shape), 0, 65535)
    return out


def write(fmt: str, volume: np.ndarray, root: Path) -> Path:
    """Write ``volume`` as ``fmt`` under ``root``; returns the dataset path (folder or file)."""
    if fmt.startswith("tiff"):
        folder = root / fmt
        folder.mkdir(parents=True, exist_ok=True)
        compression = None if fmt == "tiff-raw" else "zstd"
        for z, plane in enumerate(volume):
            tifffile.imwrite(folder / f"z{z:05d}.tif", plane, compression=compression,
                             tile=None if compression is None else (256, 256))
        return folder
    if fmt == "jpeg2000":
        import glymur

        folder = root / fmt
        folder.mkdir(parents=True, exist_ok=True)
        tile = tuple(min(256, n) for n in volume.shape[1:])
        numres = min(6, min(tile).bit_length())  # OpenJPEG wants every reduction at least one pixel per tile
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for z, plane in enumerate(volume):
                glymur.Jp2k(folder / f"z{z:05d}.j2k", data=plane, tilesize=tile, numres=numres)
        return folder
    if fmt == "imaris":
        from transformer.demo.imaris_writer import write_ims

        path = root / "brain.ims"
        write_ims(path, volume[None, None], (1.0, 1.0, 1.0), chunks=(32, 128, 128))
        return path
    raise ValueError(fmt)


def ensure(fmt: str, shape: tuple[int, int, int], root: Path, volume: np.ndarray | None = None) -> Path:
    """The dataset for ``fmt`` at ``shape``, written once under ``root/{z}x{y}x{x}/`` and reused by later runs."""
    folder = root / "x".join(map(str, shape))
    marker = folder / f".{fmt}.done"
    target = folder / ("brain.ims" if fmt == "imaris" else fmt)
    if marker.exists() and target.exists():
        return target
    start = time.perf_counter()
    volume = brain(shape) if volume is None else volume
    folder.mkdir(parents=True, exist_ok=True)
    path = write(fmt, volume, folder)
    marker.write_text(f"{time.perf_counter() - start:.1f} s")
    return path


def written(fmt: str, shape: tuple[int, int, int], root: Path) -> bool:
    return (root / "x".join(map(str, shape)) / f".{fmt}.done").exists()
