"""A slice stack under --chunks auto in the service's own /viewer/ (headless Chromium): an xy view draws the
plane from the flat chunk size of precomputed's info at every level (one plane deep, also where the level's own
chunks are deeper), an xz view draws the same voxels from the one row thin, a yz view from the one column thin.

The chunk size each view used is read from the server's access log (the chunk names the viewer fetched).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile

from bench.browser import measuring_state
from catalog.scan import describe
from catalog.store import Catalog
from tests.helpers import Server
from tests.test_neuroglancer_browser import (  # noqa: F401 - browser is a fixture
    browser,
    correlation,
    pytestmark,
    render,
    voxel_index,
)
from writers.neuroglancer import state_url

CHUNK = re.compile(r"/precomputed/[^/ ]+/(\d+)/(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+) ")


def stack() -> np.ndarray:
    """(64, 200, 300) uint16: x and y ramps and a z ramp with odd planes inverted (a plane off is visible)."""
    z, y, x = np.mgrid[0:64, 0:200, 0:300]
    vol = (x * 150 + y * 40 + z * 500) % 60000 + np.random.default_rng(3).integers(0, 3000, x.shape)
    vol[1::2] = 65535 - vol[1::2]
    return vol.astype(np.uint16)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("layouts_browser")
    vol = stack()
    folder = root / "stack"
    folder.mkdir()
    for i, plane in enumerate(vol):
        tifffile.imwrite(folder / f"z{i:03d}.tif", plane)
    (folder / "dataset.json").write_text(json.dumps({
        "title": "stack", "voxel_size": [1.0, 1.0, 1.0],
        "channels": [{"name": "grey", "color": "FFFFFF", "window": [0, 65535]}]}))
    catalog = Catalog(root / "catalog.sqlite")
    record = describe(folder, root, catalog)
    catalog.put(record)
    catalog.close()
    srv = Server(root / "catalog.sqlite", "--log-level", "info", "--access-log")  # --chunks auto (default)
    yield srv, record.id, vol, root
    srv.stop()


def chunk_sizes(srv: Server, since: int) -> dict[int, set[tuple[int, int, int]]]:
    """Per level, the (x, y, z) extents of the precomputed chunks requested after log offset ``since``."""
    srv.log.flush()
    text = Path(srv.log.name).read_text()[since:]
    sizes: dict[int, set[tuple[int, int, int]]] = {}
    for level, x0, x1, y0, y1, z0, z1 in (map(int, m.groups()) for m in CHUNK.finditer(text)):
        sizes.setdefault(level, set()).add((x1 - x0, y1 - y0, z1 - z0))
    return sizes


def along(position: float, n_pixels: int, direction: int) -> np.ndarray:
    """The voxel each of ``n_pixels`` screen pixels shows at 1 px/voxel along an axis drawn in ``direction``."""
    return np.floor(position + direction * (np.arange(n_pixels) + 0.5 - n_pixels / 2) + 0.5).astype(int)


def log_size(srv: Server) -> int:
    return len(Path(srv.log.name).read_text())


def test_xy_view_uses_flat_chunks_and_xz_view_thin_ones(served, browser):  # noqa: F811 - the fixture
    srv, dataset_id, vol, root = served
    position = (150.25, 100.25, 32.25)
    state = measuring_state(srv, dataset_id, "precomputed", position)
    since = log_size(srv)
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "stack_xy.png")
    grey = pixels[..., 0]
    rows, cols = voxel_index(position[1], grey.shape[0], 0.5), voxel_index(position[0], grey.shape[1], 0.5)
    mr, mc = (rows >= 0) & (rows < 200), (cols >= 0) & (cols < 300)
    assert correlation(grey[np.ix_(mr, mc)], vol[32][np.ix_(rows[mr], cols[mc])]) > 0.99
    sizes = chunk_sizes(srv, since)
    assert sizes[0] == {(300, 200, 1)}  # one plane per chunk
    # the coarser levels' own chunks are deeper (2, 4... planes): the view takes their flat alternates
    info = httpx.get(f"{srv.url}/precomputed/{dataset_id}/info").json()
    deep = [i for i, scale in enumerate(info["scales"]) if max(c[2] for c in scale["chunk_sizes"]) > 1]
    assert set(deep) & set(sizes) - {0}, (deep, sizes)
    assert {size[2] for level in sizes.values() for size in level} == {1}, sizes

    state["layout"] = "xz"
    since = log_size(srv)
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "stack_xz.png")
    grey = pixels[..., 0]
    rows, cols = voxel_index(position[2], grey.shape[0], 0.5), voxel_index(position[0], grey.shape[1], 0.5)
    mr, mc = (rows >= 0) & (rows < 64), (cols >= 0) & (cols < 300)
    xz = vol[:, 100, :]
    got = grey[np.ix_(mr, mc)]
    corr = max(correlation(got, xz[np.ix_(rows[mr], cols[mc])]),
               correlation(got[::-1], xz[np.ix_(rows[mr], cols[mc])]))  # z may run up or down the panel
    assert corr > 0.99, corr
    sizes = chunk_sizes(srv, since)
    assert sizes[0] == {(300, 1, 64)}, sizes  # the chunk size one row thin (deep, as the cube), never the flat one
    assert len(sizes) > 1 and all(y == 1 for level in sizes.values() for _, y, _ in level), sizes  # every level


def test_yz_view_uses_the_chunks_one_column_thin_at_every_level(served, browser):  # noqa: F811 - the fixture
    srv, dataset_id, vol, root = served
    position = (150.25, 100.25, 32.25)
    state = measuring_state(srv, dataset_id, "precomputed", position)
    state["layout"] = "yz"
    since = log_size(srv)
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "stack_yz.png")
    grey = pixels[..., 0]
    # z runs across the panel and y down it, each either way: pixel centre coordinate position ± (i + 0.5 - n / 2)
    # lies in voxel floor(w + 0.5) (the documented rule; Neuroglancer draws this panel's z right to left)
    best = -1.0
    for sy, sz in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        rows = along(position[1], grey.shape[0], sy)
        cols = along(position[2], grey.shape[1], sz)
        mr, mc = (rows >= 0) & (rows < 200), (cols >= 0) & (cols < 64)
        best = max(best, correlation(grey[np.ix_(mr, mc)], vol[:, :, 150].T[np.ix_(rows[mr], cols[mc])]))
    assert best > 0.99, best
    sizes = chunk_sizes(srv, since)
    assert sizes[0] == {(1, 200, 64)}, sizes  # one column thin, as deep as the cube
    assert len(sizes) > 1 and all(x == 1 for level in sizes.values() for x, _, _ in level), sizes
