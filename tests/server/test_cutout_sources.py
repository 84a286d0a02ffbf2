"""Cutouts of levels the source holds (JPEG2000 wavelet levels, Imaris pyramid levels, level 0 of a TIFF
stack) are read straight from the source, not through the chunk cache: in process, every level's cutout in
every format equals the zarr view of that level, for boxes that cross chunk edges."""

from __future__ import annotations

import io
import warnings

import glymur
import h5py
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import in_process
from tests.readers.test_imaris import sample_data
from tests.server.test_cutout import zarr_level
from transformer.demo.imaris_writer import write_ims


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    rng = np.random.default_rng(8)
    folder = root / "jp2"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(6):
            plane = rng.integers(0, 60000, (150, 170), dtype=np.uint16)
            glymur.Jp2k(folder / f"s{z}.jp2", data=plane, tilesize=(64, 64), numres=3)
    tiffs = root / "tiffs"
    tiffs.mkdir()
    for z in range(5):
        tifffile.imwrite(tiffs / f"t{z}.tif", rng.integers(0, 255, (90, 110), dtype=np.uint8))
    write_ims(root / "gen.ims", sample_data(shape=(1, 2, 21, 150, 170)), (2.5, 0.6, 0.6), levels=2,
              chunks=(8, 32, 32), channel_names=["a", "b"])
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    assert not scan(root, catalog).refused
    ids = {r.format: r.id for r in catalog.all()}
    catalog.close()
    with in_process(db, cache_mb=16) as client:
        yield client, ids


def _body(r, fmt: str) -> np.ndarray:
    if fmt == "npy":
        return np.load(io.BytesIO(r.content))
    if fmt == "tiff":
        return tifffile.imread(io.BytesIO(r.content))
    with h5py.File(io.BytesIO(r.content)) as f:
        return f["data"][...]


@pytest.mark.parametrize("source", ["jpeg2000", "imaris", "tiff-slices"])
def test_native_levels_equal_the_zarr_view(served, source):
    client, ids = served
    dataset_id = ids[source]
    levels = client.get(f"/api/datasets/{dataset_id}").json()["levels"]
    for level in range(len(levels)):
        whole = zarr_level(client, dataset_id, level)
        _, nc, nz, ny, nx = whole.shape
        box = (slice(0, 1), slice(nc - 1, nc), slice(nz // 3, nz), slice(3, max(4, ny - 5)), slice(nx // 4, nx))
        query = "&".join(f"{a}={s.start}:{s.stop}" for a, s in zip("tczyx", box, strict=True))
        for fmt in ("npy", "tiff", "h5"):
            r = client.get(f"/api/datasets/{dataset_id}/cutout?level={level}&{query}&format={fmt}")
            assert r.status_code == 200, r.text
            np.testing.assert_array_equal(_body(r, fmt).reshape(whole[box].shape), whole[box])


@pytest.mark.parametrize("layout", [{}, {"compression": "zstd", "tile": (32, 32)}], ids=["raw", "zstd-tiles"])
def test_sampled_levels_equal_the_zarr_view(tmp_path, layout):
    """With ``--overview sampled`` levels past the first computed one are every n-th voxel of the source,
    read straight from it by a cutout (``Pyramid.source_region``) in groups of chunk planes (raw rows), or
    chunk by chunk (tiles, decoded whole)."""
    rng = np.random.default_rng(9)
    tiffs = tmp_path / "tiffs"
    tiffs.mkdir()
    for z in range(13):
        tifffile.imwrite(tiffs / f"t{z:02d}.tif", rng.integers(0, 60000, (290, 270), dtype=np.uint16), **layout)
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    assert not scan(tmp_path, catalog).refused
    (dataset_id,) = [r.id for r in catalog.all()]
    catalog.close()
    # chunks of 2x32x32: the boxes cross chunk edges on every axis, so tiles are read chunk by chunk
    with in_process(db, cache_mb=16, overview="sampled", chunks="2,32,32") as client:
        record = client.get(f"/api/datasets/{dataset_id}").json()
        levels = record["levels"]
        assert len(levels) >= 4
        for level in range(2, len(levels)):
            whole = zarr_level(client, dataset_id, level)
            _, _, nz, ny, nx = whole.shape
            box = (slice(0, 1), slice(0, 1), slice(nz // 3, nz), slice(1, ny - 1), slice(nx // 5, nx))
            query = "&".join(f"{a}={s.start}:{s.stop}" for a, s in zip("tczyx", box, strict=True))
            r = client.get(f"/api/datasets/{dataset_id}/cutout?level={level}&{query}")
            assert r.status_code == 200, r.text
            np.testing.assert_array_equal(_body(r, "npy"), whole[box])
