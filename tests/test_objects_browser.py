"""The service's own /viewer/ in headless Chromium draws neurons and cells over their image (issue 19).

A dark image, a straight traced neuron along x and three cells on one z plane: the state the service builds
(zoomed to one screen pixel per voxel on that plane) must draw the skeleton's pixels on the traced line and
the cells' points where the table puts them. Coordinates: voxel ``i`` is centred at viewer coordinate ``i``
(docs/objects.md), and 1 µm voxels make µm and voxels the same numbers here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from bench.browser import available, measuring_state
from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server
from tests.require import skip_without
from tests.test_neuroglancer_browser import browser, render  # noqa: F401 (browser: the shared fixture)
from writers.neuroglancer import state_url

pytestmark = [
    pytest.mark.slow,
    skip_without(
        "chromium",
        available(),
        "needs Debian chromium and chromium-driver (scripts/system-deps.sh --all installs them)",
    ),
]

Z, Y = 6, 40  # the neuron runs along x at y = 40 µm on the plane z = 6 µm
X0, X1 = 20, 100
CELLS = [(30, 70), (60, 20), (90, 75)]  # (x, y) µm on the plane z = 6


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("objects_browser")
    tifffile.imwrite(root / "dark.tif", np.full((12, 100, 120), 1000, np.uint16), metadata={"axes": "ZYX"})
    nodes = [f"1 1 {X0} {Y} {Z} 2 -1"] + [f"{i} 3 {X0 + (i - 1) * 10} {Y} {Z} 1 {i - 1}" for i in range(2, 10)]
    (root / "straight.swc").write_text("# a straight neuron along x\n" + "\n".join(nodes) + "\n")
    (root / "cells.csv").write_text("x,y,z\n" + "".join(f"{x},{y},{Z}\n" for x, y in CELLS))
    (root / "dark.tif.json").write_text(
        json.dumps(
            {
                "voxel_size": [1.0, 1.0, 1.0],
                "channels": [{"name": "dark", "color": "FFFFFF", "window": [0, 65535]}],
                "neurons": "straight.swc",
                "cells": "cells.csv",
            }
        )
    )
    catalog = Catalog(root / "catalog.sqlite")
    scan(root, catalog)
    (record,) = catalog.all()
    catalog.close()
    with Server(root / "catalog.sqlite") as srv:
        yield srv, record.id, root


def _coordinates(mask: np.ndarray, position_xy: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Viewer (x, y) of the centres of the pixels in ``mask`` at one pixel per voxel around ``position_xy``."""
    rows, cols = np.nonzero(mask)
    h, w = mask.shape
    return position_xy[0] + cols + 0.5 - w / 2, position_xy[1] + rows + 0.5 - h / 2


def _state(srv, dataset_id: str, keep: str) -> dict:
    position = (60.25, 50.25, float(Z))
    state = measuring_state(srv, dataset_id, "zarr", position)
    state["layers"] = [layer for layer in state["layers"] if layer["type"] in ("image", keep)]
    return state


def test_the_skeleton_is_drawn_on_the_traced_path(served, browser):  # noqa: F811
    srv, dataset_id, root = served
    state = _state(srv, dataset_id, "segmentation")
    pixels, shown = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "skeleton.png")
    assert any(layer.get("type") == "segmentation" for layer in shown["layers"])
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    red = (r > 60) & (r > g + 30) & (r > b + 30)  # basal dendrite (SWC type 3) is drawn red by the shader
    x, y = _coordinates(red, (60.25, 50.25))
    print(
        f"{red.sum()} red pixels, x {x.min() if len(x) else None}..{x.max() if len(x) else None}, "
        f"y {np.unique(np.round(y, 2))[:8]}"
    )
    assert red.sum() >= 60, "the skeleton was not drawn"
    # a 2-pixel line, antialiased: its pixels within 2 of the path, its red-weighted centre on it (half a voxel
    # off would put the centre 0.5 away)
    assert np.all(np.abs(y - Y) <= 2), "skeleton pixels off the traced line"
    centre = float(np.average(y, weights=r[red]))
    print(f"skeleton centre y {centre:.3f} (traced at {Y})")
    assert abs(centre - Y) <= 0.3
    assert x.min() <= X0 + 12 and x.max() >= X1 - 2 and np.all((x >= X0 - 2) & (x <= X1 + 2))


def test_the_cells_are_drawn_where_the_table_puts_them(served, browser):  # noqa: F811
    srv, dataset_id, root = served
    state = _state(srv, dataset_id, "annotation")
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "cells.png")
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    green = (g > 120) & (g > r + 40) & (g > b + 20)
    x, y = _coordinates(green, (60.25, 50.25))
    print(f"{green.sum()} green pixels")
    for cx, cy in CELLS:
        near = (np.abs(x - cx) <= 4) & (np.abs(y - cy) <= 4)
        assert near.sum() >= 3, f"no point drawn at ({cx}, {cy})"
    distance = np.min([np.hypot(x - cx, y - cy) for cx, cy in CELLS], axis=0)
    assert np.all(distance <= 6), "green pixels away from every cell"
