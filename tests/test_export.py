"""transformer export: OME-Zarr 0.4 (validated by ome-zarr-models), OME-TIFF and HDF5 of a box of one level equal
the served level; resumable zarr exports skip written chunks; a 2-worker dask.distributed LocalCluster (worker
processes that open the catalog themselves) writes the same voxels."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from tests.helpers import in_process
from tests.require import module
from transformer.cli import main
from transformer.export import export


@pytest.fixture(scope="module")
def level1(generated):
    """Level 1 of "big" as the service computes it (a cutout of the whole level)."""
    import io

    g = generated["big"]
    with in_process(generated["_catalog"], cache_mb=64) as client:
        return np.load(io.BytesIO(client.get(f"/api/datasets/{g.dataset_id}/cutout?level=1").content))


def test_zarr_export_is_valid_ome_zarr_and_equals_the_level(generated, level1, tmp_path, capsys):
    from ome_zarr_models.v04.image import Image

    g = generated["big"]
    out = tmp_path / "box.ome.zarr"
    assert main(["--catalog", str(generated["_catalog"]), "export", g.dataset_id, "--level", "1",
                 "--region", "3:30,10:140,7:", "--to", str(out)]) == 0
    group = zarr.open_group(str(out), mode="r", zarr_format=2)
    np.testing.assert_array_equal(group["0"][...], level1[:, :, 3:30, 10:140, 7:])
    Image.from_zarr(group)  # raises if it is not OME-Zarr 0.4
    scale, translation = group.attrs["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert scale["scale"] == [1.0, 1.0, 2.0, 2.0, 2.0]
    assert translation["translation"][2:] == pytest.approx([0.5 + 3 * 2, 0.5 + 10 * 2, 0.5 + 7 * 2])


def test_zarr_export_resumes(generated, level1, tmp_path):
    g = generated["big"]
    out = tmp_path / "resume.ome.zarr"
    export(generated["_catalog"], g.dataset_id, out, level=1, progress=False)
    chunk_files = sorted(p for p in (out / "0").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert len(chunk_files) > 2
    missing = chunk_files[1]
    missing.unlink()
    kept = {p: p.stat().st_mtime_ns for p in chunk_files if p != missing}
    export(generated["_catalog"], g.dataset_id, out, level=1, progress=False)
    assert missing.exists()
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # not rewritten
    np.testing.assert_array_equal(zarr.open_array(str(out / "0"), mode="r")[...], level1)


def test_tiff_and_h5_exports(generated, tmp_path):
    g = generated["tc"]
    tif, h5 = tmp_path / "box.ome.tif", tmp_path / "box.h5"
    export(generated["_catalog"], g.dataset_id, tif, region="2:11,5:50,:", c="1:3", t="1", progress=False)
    with tifffile.TiffFile(tif) as f:
        assert f.is_ome and 'PhysicalSizeZ="1.6"' in f.ome_metadata
        np.testing.assert_array_equal(f.series[0].asarray().reshape(1, 2, 9, 45, 90), g.data[1:2, 1:3, 2:11, 5:50])
    export(generated["_catalog"], g.dataset_id, h5, progress=False)
    with h5py.File(h5, "r") as f:
        np.testing.assert_array_equal(f["data"][...], g.data)
        assert list(f["data"].attrs["channel_names"]) == ["dapi", "gfp", "tdtomato"]


def test_export_on_a_local_cluster(generated, level1, tmp_path, monkeypatch):
    from transformer import export as export_module

    distributed = module("distributed")
    monkeypatch.setattr(export_module, "TASK_BYTES", 1)  # a task per chunk: both workers write
    g = generated["big"]
    out = tmp_path / "cluster.ome.zarr"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        export(generated["_catalog"], g.dataset_id, out, level=1, region="0:35,:,:",
               scheduler=cluster.scheduler_address, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(out / "0"), mode="r")[...], level1[:, :, 0:35])
