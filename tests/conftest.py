"""Shared fixtures: generated datasets, a catalog holding them, and the service reading it, both as a
real server (``server``: uvicorn in a subprocess) and in this process (``client``: starlette's TestClient)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from starlette.testclient import TestClient

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server, in_process
from tests.require import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 - $TRANSFORMER_REQUIRE

# Real samples whose tests take seconds each (the largest JPEG2000 images, decoded whole several times
# per test): `make test-fast` leaves them out, `make test` runs them. The smaller real samples stay fast.
HEAVY_REAL_SAMPLES = ("balloon_aware.jp2", "balloon_kdu71.jp2", "nemo.jp2")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        if params and any(str(v).endswith(HEAVY_REAL_SAMPLES) for v in params.params.values()):
            item.add_marker(pytest.mark.slow)


@dataclass
class Generated:
    name: str
    path: Path
    data: np.ndarray  # t, c, z, y, x
    voxel: tuple[float, float, float]
    dataset_id: str = ""


def _smooth(shape, dtype, seed) -> np.ndarray:
    """Structured, non-constant test content (gradients plus blobs), not pure noise."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    base = sum((i + 1) * g for i, g in enumerate(grids)) / len(shape)
    base = base + 0.3 * rng.random(shape)
    if np.issubdtype(dtype, np.integer):
        return (base / base.max() * (np.iinfo(dtype).max * 0.9)).astype(dtype)
    return base.astype(dtype)


def make_datasets(root: Path) -> dict[str, Generated]:
    out: dict[str, Generated] = {}

    # 1. folder of 2-D slices, odd sizes, anisotropic voxels given by a sidecar, tiled pages
    vol = _smooth((37, 101, 133), np.uint16, 1)
    folder = root / "odd_slices"
    folder.mkdir()
    for z, plane in enumerate(vol):
        tifffile.imwrite(folder / f"s_{z}.tif", plane, tile=(32, 32), compression="zlib")
    (folder / "dataset.json").write_text(json.dumps({
        "title": "Odd anisotropic stack", "description": "hippocampus light-sheet test stack",
        "species": "Mus musculus", "technique": "light-sheet", "voxel_size": [3.0, 0.5, 0.5],
        "contributors": ["Ada Lovelace", "Santiago Ramon y Cajal"], "license": "CC-BY-4.0",
    }))
    out["slices"] = Generated("slices", folder, vol[None, None], (3.0, 0.5, 0.5))

    # 2. OME-TIFF with time points and channels, uint8
    tc = _smooth((2, 3, 19, 70, 90), np.uint8, 2)
    path = root / "tc.ome.tif"
    tifffile.imwrite(path, tc, ome=True, metadata={
        "axes": "TCZYX", "PhysicalSizeX": 0.8, "PhysicalSizeY": 0.8, "PhysicalSizeZ": 1.6,
        "Channel": {"Name": ["dapi", "gfp", "tdtomato"]}})
    (root / "tc.ome.tif.json").write_text(json.dumps({"title": "Cortex time series", "species": "Danio rerio",
                                                       "technique": "confocal"}))
    out["tc"] = Generated("tc", path, tc, (1.6, 0.8, 0.8))

    # 3. float32 multipage, striped
    fl = _smooth((21, 150, 140), np.float32, 3)
    path = root / "float.tif"
    tifffile.imwrite(path, fl, metadata={"axes": "ZYX"}, rowsperstrip=16)
    out["float"] = Generated("float", path, fl[None, None], (1.0, 1.0, 1.0))

    # 4. larger isotropic uint16, several computed levels, sizes not multiples of 2 or of the chunk
    big = _smooth((70, 300, 261), np.uint16, 4)
    path = root / "big.tif"
    tifffile.imwrite(path, big, metadata={"axes": "ZYX"}, tile=(64, 64), compression="zstd")
    out["big"] = Generated("big", path, big[None, None], (1.0, 1.0, 1.0))
    return out


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, Generated]:
    root = tmp_path_factory.mktemp("data")
    datasets = make_datasets(root)
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(root, catalog)
    assert not report.refused, report.refused
    by_source = {r.source: r.id for r in catalog.all()}
    for g in datasets.values():
        g.dataset_id = by_source[str(g.path.resolve())]
    catalog.close()
    datasets["_catalog"] = db  # type: ignore[assignment]
    return datasets


@pytest.fixture(scope="session")
def server(generated):
    srv = Server(generated["_catalog"], "--cache-mb", "64")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def client(generated) -> Iterator[TestClient]:
    """The app ``server`` runs, on the same catalog and cache size, called in process (no socket)."""
    with in_process(generated["_catalog"], cache_mb=64) as c:
        yield c
