"""Client matrix (issue 13 item 5) against the real server: napari with napari-ome-zarr opening the zarr v2
and v3 views (offscreen Qt), and cloud-volume reading the precomputed view. Each compares voxels with
the source.

Qt's offscreen platform draws into memory, but the OpenGL context napari's canvas needs comes from GLX:
without an X display vispy finds no context (glGetString answers None). So unless DISPLAY is set the test
starts a virtual one (Debian xvfb; scripts/system-deps.sh --all) for Mesa's software GL. napari's part runs
in a child process (about 4 s each: importing napari and starting Qt)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest

from transformer.testing import stop_process

XVFB = shutil.which("Xvfb")


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


@pytest.fixture(scope="module")
def display():
    """DISPLAY for GLX: the one set, else a virtual X server of our own for this module."""
    pytest.importorskip("napari")
    pytest.importorskip("napari_ome_zarr")
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if XVFB is None:
        pytest.skip("napari needs an X display for OpenGL: install xvfb (scripts/system-deps.sh --all)")
    read, write = os.pipe()  # Xvfb writes the display number it chose to this descriptor
    proc = subprocess.Popen([XVFB, "-displayfd", str(write), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    try:
        if not number:
            pytest.fail("Xvfb did not start")
        yield f":{number}"
    finally:
        stop_process(proc)


@pytest.mark.slow  # about 3.5 s each: a new interpreter importing napari and starting Qt
@pytest.mark.parametrize("view", ["zarr", "zarr3"])
def test_napari_opens_the_zarr_views_with_level0_equal_to_the_source(server, generated, display, tmp_path, view):
    g = generated["tc"]  # two time points, three named channels
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "offscreen"}  # no window: Qt draws into memory
    done = subprocess.run([sys.executable, "-c", NAPARI, _links(server, g)[view], str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    layers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [layer["name"] for layer in layers] == [f"Cortex time series: {n}" for n in ("dapi", "gfp", "tdtomato")]
    for c, layer in enumerate(layers):  # one layer a channel, every level
        assert layer["levels"] == 2
        assert layer["scale"][-3:] == pytest.approx(g.voxel)
        np.testing.assert_array_equal(np.load(tmp_path / f"{c}.npy"), g.data[:, c])


def test_cloud_volume_reads_precomputed_mip0_exactly(server, generated):
    cloudvolume = pytest.importorskip("cloudvolume")
    g = generated["big"]
    vol = cloudvolume.CloudVolume(_links(server, g)["precomputed"], mip=0, progress=False, use_https=True,
                                  fill_missing=False, cache=False)
    assert tuple(vol.resolution) == pytest.approx(tuple(v * 1000 for v in reversed(g.voxel)))  # nm, x y z
    whole = np.asarray(vol[:, :, :])  # x, y, z, channel
    np.testing.assert_array_equal(whole[..., 0].T, g.data[0, 0])
    box = np.asarray(vol[17:201, 3:250, 5:66])
    np.testing.assert_array_equal(box[..., 0].T, g.data[0, 0, 5:66, 3:250, 17:201])
