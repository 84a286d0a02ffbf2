"""The landing page's napari command works as pasted: the ``napari`` console script's own entry point
(``napari._main:main``) runs with the page's words as its argv, against the real server, offscreen on the
display of tests/xdisplay.py; napari's event loop is replaced by a function that saves what the
viewer opened and returns, so the child ends instead of waiting for a person to close the window."""

from __future__ import annotations

import html
import json
import re
import shlex

import httpx
import numpy as np
import pytest

from tests.require import module
from tests.xdisplay import display, run_napari  # noqa: F401 - display: a fixture (a virtual X server for GLX)

# argv[1]: the command from the page, argv[2]: where to save each layer's level 0
PASTED = """
import json, shlex, sys
import numpy as np
import napari
import napari._qt.qt_event_loop as loop
from napari._main import main

out = sys.argv[2]

def saved(**_):
    viewer = napari.current_viewer()
    for i, layer in enumerate(viewer.layers):
        np.save(f"{out}/{i}.npy", np.asarray(layer.data[0]))
    print(json.dumps([{"name": layer.name, "levels": len(layer.data)} for layer in viewer.layers]))
    viewer.close()

loop.run = saved
sys.argv = shlex.split(sys.argv[1])
main()
"""


@pytest.mark.slow  # about 4 s: a new interpreter importing napari and starting Qt
def test_the_landing_pages_napari_command_opens_the_dataset(server, generated, display, tmp_path):  # noqa: F811
    g = generated["tc"]  # two time points, three named channels
    page = httpx.get(f"{server.url}/datasets/{g.dataset_id}").raise_for_status().text
    command = html.unescape(re.search(r'id="snippet-napari"[^>]*><code>(.*?)</code>', page, re.S).group(1))
    assert shlex.split(command)[:3] == ["napari", "--plugin", "napari-ome-zarr"]
    module("napari_ome_zarr")
    done = run_napari(PASTED, [command, str(tmp_path)], display)
    layers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [layer["name"] for layer in layers] == [f"Cortex time series: {n}" for n in ("dapi", "gfp", "tdtomato")]
    for c, layer in enumerate(layers):
        assert layer["levels"] == 2
        np.testing.assert_array_equal(np.load(tmp_path / f"{c}.npy"), g.data[:, c])
