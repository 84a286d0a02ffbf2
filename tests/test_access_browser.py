"""The bundled Neuroglancer opens a shared token link to an embargoed dataset in headless Chromium and
shows its voxels exactly: the link's sources carry /t/{TOKEN}/, which the viewer keeps on every chunk it
asks for (it cannot send headers). Without the token the same state shows nothing but a 401."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from tests.helpers import Server
from tests.test_neuroglancer_browser import browser as browser  # noqa: F401 - a fixture, used by name
from tests.test_neuroglancer_browser import (
    correlation,
    grey_volume,
    predicted,
    render,
)
from tests.test_neuroglancer_browser import pytestmark as pytestmark  # slow; skipped without chromium
from writers.neuroglancer import state_url


@pytest.fixture(scope="module")
def embargoed(tmp_path_factory):
    root = tmp_path_factory.mktemp("ng_token")
    grey = grey_volume()
    tifffile.imwrite(root / "grey.tif", grey, metadata={"axes": "ZYX"}, tile=(64, 64))
    (root / "grey.tif.json").write_text(json.dumps({
        "access": "embargoed", "voxel_size": [2.0, 0.5, 0.5],
        "channels": [{"name": "grey", "color": "FFFFFF", "window": [0, 65535]}]}))
    catalog = Catalog(root / "catalog.sqlite")
    scan(root, catalog)
    (record,) = catalog.all()
    token, row = new_token("viewer-test", [record.id], None)
    catalog.put_token(row)
    catalog.close()
    srv = Server(root / "catalog.sqlite")
    yield srv, record.id, token, grey, root
    srv.stop()


@pytest.mark.parametrize("kind", ["zarr", "precomputed"])
def test_token_link_opens_in_the_bundled_viewer(embargoed, browser, kind):  # noqa: F811
    srv, dataset_id, token, volume, root = embargoed
    assert httpx.get(f"{srv.url}/api/datasets/{dataset_id}/neuroglancer").status_code == 401
    r = httpx.get(f"{srv.url}/t/{token}/api/datasets/{dataset_id}/neuroglancer", params={"source": kind})
    assert r.status_code == 200, r.text
    state = r.json()["state"]
    source = state["layers"][0]["source"]
    assert f"/t/{token}/{kind}/" in (source["url"] if isinstance(source, dict) else source)
    z = 20
    position = (150.25, 100.25, z - 0.25)
    state["position"][:3] = list(position)
    state.update(layout="xy", crossSectionScale=1.0, showAxisLines=False, showScaleBar=False,
                 showDefaultAnnotations=False)
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / f"token_{kind}.png")
    grey = pixels[..., 0]
    (mr, mc), values, _ = predicted(volume, z, grey.shape, position, 0.5)
    got = grey[np.ix_(mr, mc)]
    expected = values / 65535 * 255
    corr = correlation(got, expected)
    mad = float(np.abs(got - expected).mean())
    print(f"token link, {kind}: corr {corr:.5f}, mean |diff| {mad:.2f}")
    assert corr > 0.99 and mad < 1.5
