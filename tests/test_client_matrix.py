"""Client matrix (issue 13 item 5) against the real server: napari with napari-ome-zarr opening the zarr v2
and v3 views (offscreen Qt), and cloud-volume reading the precomputed view. Each compares voxels with
the source.

napari's part runs offscreen in a child process on a virtual X server (tests/xdisplay.py; about 4 s each:
importing napari and starting Qt)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from tests.require import module
from tests.xdisplay import display, run_napari  # noqa: F401 - display: a fixture (a virtual X server for GLX)


def _links(server, g) -> dict:
    return httpx.get(f"{server.url}/api/datasets/{g.dataset_id}").raise_for_status().json()["links"]


# napari runs in a child process: Qt keeps its X connection until the process exits (and exits with status
# 1 when that X server goes first), so the X server is stopped only after napari's process has ended
NAPARI = """
import json, sys
import numpy as np
import napari
viewer = napari.Viewer(show=False)
layers = viewer.open(sys.argv[1], plugin="napari-ome-zarr")
for i, layer in enumerate(layers):
    np.save(f"{sys.argv[2]}/{i}.npy", np.asarray(layer.data[0]))
described = [{"name": layer.name, "levels": len(layer.data), "scale": list(layer.scale)} for layer in layers]
print(json.dumps(described))
viewer.close()
"""


@pytest.mark.slow  # about 3.5 s each: a new interpreter importing napari and starting Qt
@pytest.mark.parametrize("view", ["zarr", "zarr3"])
def test_napari_opens_the_zarr_views_with_level0_equal_to_the_source(server, generated, display, tmp_path,  # noqa: F811
                                                                      view):
    module("napari_ome_zarr")
    g = generated["tc"]  # two time points, three named channels
    done = run_napari(NAPARI, [_links(server, g)[view], str(tmp_path)], display)
    layers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [layer["name"] for layer in layers] == [f"Cortex time series: {n}" for n in ("dapi", "gfp", "tdtomato")]
    for c, layer in enumerate(layers):  # one layer a channel, every level
        assert layer["levels"] == 2
        assert layer["scale"][-3:] == pytest.approx(g.voxel)
        np.testing.assert_array_equal(np.load(tmp_path / f"{c}.npy"), g.data[:, c])


def test_cloud_volume_reads_precomputed_mip0_exactly(server, generated):
    cloudvolume = module("cloudvolume")
    g = generated["big"]
    vol = cloudvolume.CloudVolume(_links(server, g)["precomputed"], mip=0, progress=False, use_https=True,
                                  fill_missing=False, cache=False)
    assert tuple(vol.resolution) == pytest.approx(tuple(v * 1000 for v in reversed(g.voxel)))  # nm, x y z
    whole = np.asarray(vol[:, :, :])  # x, y, z, channel
    np.testing.assert_array_equal(whole[..., 0].T, g.data[0, 0])
    box = np.asarray(vol[17:201, 3:250, 5:66])
    np.testing.assert_array_equal(box[..., 0].T, g.data[0, 0, 5:66, 3:250, 17:201])
