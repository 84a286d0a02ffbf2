"""The built-in demo catalog: a synthetic brain-like volume written in each source format.

Not random noise: an ellipsoidal "brain" with two hemispheres, a layered cortex, ventricles, branching
vessels and thousands of cell bodies, so every pyramid level shows structure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GENERATOR_VERSION = "3"  # 3: neurons and cells beside the TIFF slices
DEMO_SHAPE = (96, 320, 384)  # z, y, x
DEMO_VOXEL = (4.0, 2.0, 2.0)  # µm: anisotropic, like most light-sheet data


def synthetic_brain(shape: tuple[int, int, int] = DEMO_SHAPE, seed: int = 7) -> np.ndarray:
    """A uint16 (z, y, x) volume with structure at every scale."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    z, y, x = np.meshgrid(
        np.linspace(-1, 1, nz, dtype=np.float32),
        np.linspace(-1, 1, ny, dtype=np.float32),
        np.linspace(-1, 1, nx, dtype=np.float32),
        indexing="ij",
    )
    r = np.sqrt((x / 0.9) ** 2 + (y / 0.8) ** 2 + (z / 0.85) ** 2)
    inside = r < 1.0
    vol = np.where(inside, 900.0, 120.0).astype(np.float32)
    # layered cortex: bands just inside the surface
    cortex = inside & (r > 0.72)
    vol += np.where(cortex, 1400.0 * (0.6 + 0.4 * np.cos((r - 0.72) * 70.0)), 0.0)
    # dark midline between the hemispheres and two ventricles
    vol *= np.where(inside & (np.abs(x) < 0.025), 0.35, 1.0)
    for sx in (-0.22, 0.22):
        ventricle = ((x - sx) / 0.1) ** 2 + ((y + 0.05) / 0.28) ** 2 + (z / 0.2) ** 2 < 1
        vol[ventricle] = 200.0
    # slow illumination gradient, as light-sheet data has
    vol *= 1.0 + 0.25 * x
    _vessels(vol, inside, rng)
    _cells(vol, inside, rng)
    vol += rng.normal(0, 40, size=shape).astype(np.float32)
    return np.clip(vol, 0, 65535).astype(np.uint16)


def _vessels(vol: np.ndarray, inside: np.ndarray, rng: np.random.Generator, n: int = 40) -> None:
    nz, ny, nx = vol.shape
    for _ in range(n):
        p = np.array([rng.uniform(0, nz), rng.uniform(0, ny), rng.uniform(0, nx)])
        d = rng.normal(size=3)
        for _ in range(int(rng.integers(60, 220))):
            d = d / np.linalg.norm(d) + rng.normal(scale=0.25, size=3)
            p = p + d / np.linalg.norm(d)
            iz, iy, ix = (int(round(v)) for v in p)
            if not (1 <= iz < nz - 1 and 1 <= iy < ny - 1 and 1 <= ix < nx - 1):
                break
            if inside[iz, iy, ix]:
                vol[iz - 1 : iz + 2, iy - 1 : iy + 2, ix - 1 : ix + 2] += 2500.0


def _cells(vol: np.ndarray, inside: np.ndarray, rng: np.random.Generator, n: int = 6000) -> None:
    nz, ny, nx = vol.shape
    pts = np.stack([rng.integers(1, s - 1, size=n) for s in (nz, ny, nx)], axis=1)
    pts = pts[inside[pts[:, 0], pts[:, 1], pts[:, 2]]]
    bright = rng.uniform(2000, 9000, size=len(pts)).astype(np.float32)
    for dz, dy, dx, w in ((0, 0, 0, 1.0), (1, 0, 0, 0.4), (-1, 0, 0, 0.4), (0, 1, 0, 0.5), (0, -1, 0, 0.5),
                          (0, 0, 1, 0.5), (0, 0, -1, 0.5)):
        np.add.at(vol, (pts[:, 0] + dz, pts[:, 1] + dy, pts[:, 2] + dx), bright * w)


def write_demo(root: Path) -> Path:
    """Write the demo sources under ``root`` once (regenerated when the generator changes)."""
    import tifffile

    marker = root / ".generated"
    if marker.is_file() and marker.read_text() == GENERATOR_VERSION:
        return root
    root.mkdir(parents=True, exist_ok=True)
    brain = synthetic_brain()
    vz, vy, vx = DEMO_VOXEL

    slices = root / "brain-slices"
    slices.mkdir(exist_ok=True)
    for z, plane in enumerate(brain):
        tifffile.imwrite(slices / f"brain_z{z}.tif", plane, compression="zlib", tile=(128, 128))
    _sidecar(slices / "dataset.json", "Synthetic mouse brain, TIFF slices",
             "Demo: a folder of 2-D TIFF slices (deflate, tiled 128x128), one per z plane, with neurons traced "
             "through it and its detected cells.", DEMO_VOXEL)
    from transformer.demo.objects import attach, write_objects

    attach(slices / "dataset.json", write_objects(slices, brain, DEMO_VOXEL))

    # a second channel: a nuclear-stain-like signal concentrated on the cells
    second = np.clip(brain.astype(np.int32) - 1800, 0, 65535).astype(np.uint16)
    small = np.stack([brain, second])[:, ::2, ::2, ::2]
    tifffile.imwrite(
        root / "brain-2ch.ome.tif", small, ome=True, tile=(64, 64), compression="zstd",
        metadata={"axes": "CZYX", "PhysicalSizeZ": vz * 2, "PhysicalSizeY": vy * 2, "PhysicalSizeX": vx * 2,
                  "PhysicalSizeZUnit": "µm", "PhysicalSizeYUnit": "µm", "PhysicalSizeXUnit": "µm",
                  "Channel": {"Name": ["autofluorescence", "nuclei"]}},
    )
    _sidecar(root / "brain-2ch.ome.tif.json", "Synthetic mouse brain, two channels, OME-TIFF",
             "Demo: a multichannel OME-TIFF (zstd, tiled 64x64) at half resolution.", None)

    # the same brain as JPEG2000 slices (lossless, tiled, 5 wavelet levels) and as an Imaris file
    write_jp2_slices(root / "brain-jp2", brain)
    _sidecar(root / "brain-jp2" / "dataset.json", "Synthetic mouse brain, JPEG2000 slices",
             "Demo: lossless JPEG2000 slices (128x128 tiles, 5 wavelet levels) of the same brain.", DEMO_VOXEL)
    from transformer.demo.imaris_writer import write_ims

    write_ims(root / "brain.ims", np.stack([brain, second])[None], DEMO_VOXEL, chunks=(16, 128, 128),
              channel_names=["autofluorescence", "nuclei"], colors=["FFFFFF", "FF00FF"], levels=3)
    _sidecar(root / "brain.ims.json", "Synthetic mouse brain, two channels, Imaris",
             "Demo: an Imaris 5.5 file with 3 native resolution levels of the same brain.", None)
    marker.write_text(GENERATOR_VERSION)
    return root


def write_jp2_slices(folder: Path, volume: np.ndarray, tile: int = 128, resolutions: int = 6) -> None:
    """One lossless JPEG2000 codestream per z plane, tiled so region reads decode little.

    glymur (system OpenJPEG) writes tiles; without it imagecodecs writes untiled codestreams.
    """
    import warnings

    folder.mkdir(parents=True, exist_ok=True)
    try:
        import glymur

        if glymur.lib.openjp2.OPENJP2 is None:
            raise ImportError("no system OpenJPEG")
    except ImportError:
        glymur = None
    for z, plane in enumerate(volume):
        path = folder / f"brain_z{z}.j2k"
        if glymur is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                glymur.Jp2k(path, data=plane, tilesize=(tile, tile), numres=resolutions)
        else:
            import imagecodecs

            path.write_bytes(imagecodecs.jpeg2k_encode(plane, level=0, reversible=True, resolutions=resolutions,
                                                       codecformat="j2k"))


def _sidecar(path: Path, title: str, description: str, voxel: tuple | None) -> None:
    meta = {
        "title": title,
        "description": description,
        "species": "Mus musculus",
        "technique": "light-sheet microscopy",
        "license": "CC0-1.0",
        "citation": "Synthetic demo data generated by brain-transformer",
        "contributors": ["brain-transformer demo generator"],
    }
    if voxel:
        meta["voxel_size"] = list(voxel)
    path.write_text(json.dumps(meta, indent=2))
