"""The README's "Data for analysis" snippets run as written on the demo (a real server, the real CLI) and give the
voxels zarr-python reads from the zarr view."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from tests.helpers import Server, readme_concrete, readme_snippets, scanned
from transformer.demo import write_demo

pytestmark = pytest.mark.slow  # writes the demo (≈ 5 s) and starts a server


def snippets(language: str) -> list[str]:
    return readme_snippets("Data for analysis", language)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    records = scanned(write_demo(tmp_path_factory.mktemp("demo")), db)
    dataset_id = next(r.id for r in records if r.source.endswith("brain-2ch.ome.tif"))
    with Server(db) as server:
        yield server, db, dataset_id


def test_readme_snippets_run_on_the_demo(demo, tmp_path):
    server, db, dataset_id = demo
    env = {**os.environ, "TRANSFORMER_CATALOG": str(db), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    shell = snippets("sh")
    assert len(shell) == 2 and len(snippets("python")) == 1
    for block in shell:
        subprocess.run(["bash", "-euc", readme_concrete(block, server.url, dataset_id)], cwd=tmp_path, env=env,
                       check=True, capture_output=True)
    exec(readme_concrete(snippets("python")[0], server.url, dataset_id), {})  # noqa: S102 (the README's own code)

    group = zarr.open_group(f"{server.url}/zarr/{dataset_id}.ome.zarr", mode="r", zarr_format=2)
    one, zero = group["1"], group["0"]
    np.testing.assert_array_equal(np.load(tmp_path / "box.npy"), one[:, 1:2, 10:20, 0:100, 50:150])
    (named,) = tmp_path.glob(f"{dataset_id}_level1_*.ome.tif")
    np.testing.assert_array_equal(tifffile.imread(named).reshape(one[:, :, 4:12].shape), one[:, :, 4:12])
    with h5py.File(tmp_path / "box.h5", "r") as f:
        np.testing.assert_array_equal(f["data"][...], zero[:, 0:1, 0:8])
    box = tifffile.imread(tmp_path / "box.ome.tif")
    np.testing.assert_array_equal(box.reshape(one[:, 1:2, 10:20].shape), one[:, 1:2, 10:20])
    exported = zarr.open_group(str(tmp_path / "brain.ome.zarr"), mode="r", zarr_format=2)["0"]
    np.testing.assert_array_equal(exported[...], one[...])
    half = tifffile.imread(tmp_path / "half.ome.tif")
    np.testing.assert_array_equal(half.reshape(zero[:, 0:1, 0:24].shape), zero[:, 0:1, 0:24])
