"""The service's own /viewer/ in headless Chromium shows the served data voxel for voxel.

For each source kind (zarr, zarr3, precomputed) the test takes the state the service builds, zooms to one
screen pixel per voxel on a known z plane, reads the rendered canvas and compares it with the slice predicted
by the documented half-voxel rule (voxel ``i`` spans ``[i - 0.5, i + 0.5)`` in viewer coordinates for every
source; see writers/neuroglancer.py). It also shows why the rule needs the precomputed transform: without it
the precomputed view lands half a voxel away (here: on the previous z plane).

Screenshots are written under the test's tmp dir and their paths printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile

from bench.browser import available, measuring_state, start_chromium, wait_ready
from catalog.scan import describe
from catalog.store import Catalog
from tests.helpers import Server, reference_mean
from tests.require import skip_without
from writers.neuroglancer import state_url

KINDS = ["zarr", "zarr3", "precomputed", "zarr3-sharded"]

pytestmark = [pytest.mark.slow, skip_without(
    "chromium", available(), "needs Debian chromium and chromium-driver (scripts/system-deps.sh --all installs them)",
)]


# -- data of known content ----------------------------------------------------------------------------------


def grey_volume() -> np.ndarray:
    """(40, 200, 300) uint16, asymmetric: an oblique ramp, a y bar, an x bar, a flattened sphere, fine noise;
    odd planes are inverted."""
    z, y, x = np.mgrid[0:40, 0:200, 0:300]
    vol = (x * 97 + y * 31 + z * 700) % 20000 + np.random.default_rng(7).integers(0, 4000, x.shape)
    vol[:, 10:30, :] = 50000
    vol[:, :, 40:52] = 40000
    vol[((z - 18) * 4) ** 2 + (y - 120) ** 2 + (x - 210) ** 2 < 45**2] = 62000
    vol[1::2] = 65535 - vol[1::2]  # odd planes inverted: a plane off in z is anti-correlated
    return vol.astype(np.uint16)


def colour_series() -> np.ndarray:
    """(t 2, c 2, z 12, y 70, x 90) uint8: channel 0 a ramp, channel 1 a checkerboard, both moving with t and z."""
    t, c, z, y, x = np.mgrid[0:2, 0:2, 0:12, 0:70, 0:90]
    ramp = (x * 2 + y + t * 40 + z * 9) % 256
    checker = np.where((y // 7 + x // 11 + z + t) % 2, 220, 25)
    return np.where(c == 0, ramp, checker).astype(np.uint8)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("ng_browser")
    grey = grey_volume()
    tifffile.imwrite(root / "grey.tif", grey, metadata={"axes": "ZYX"}, tile=(64, 64))
    (root / "grey.tif.json").write_text(json.dumps({
        "title": "grey", "voxel_size": [2.0, 0.5, 0.5],
        "channels": [{"name": "grey", "color": "FFFFFF", "window": [0, 65535]}]}))
    series = colour_series()
    tifffile.imwrite(root / "series.ome.tif", series, ome=True, metadata={"axes": "TCZYX"})
    (root / "series.ome.tif.json").write_text(json.dumps({
        "title": "series", "voxel_size": [1.0, 1.0, 1.0],
        "channels": [{"name": "ramp", "color": "FF0000", "window": [0, 255]},
                     {"name": "checker", "color": "00FF00", "window": [0, 255]}]}))
    catalog = Catalog(root / "catalog.sqlite")
    ids = {}
    for name in ("grey.tif", "series.ome.tif"):
        record = describe(root / name, root, catalog)
        catalog.put(record)
        ids[name.split(".")[0]] = record.id
    catalog.close()
    srv = Server(root / "catalog.sqlite")
    yield srv, ids, {"grey": grey, "series": series}, root
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


# -- driving the viewer -------------------------------------------------------------------------------------


READ_CANVAS = """
const v = window.viewer;
v.display.draw();  // draw and read in one task, as neuroglancer's own screenshot code does
const panels = [];
for (const p of v.display.panels) {
  if (p.renderViewport) panels.push([p.canvasRelativeClippedLeft, p.canvasRelativeClippedTop,
                                     p.renderViewport.width, p.renderViewport.height]);
}
return [v.display.canvas.toDataURL("image/png"), panels, JSON.stringify(v.state.toJSON())];
"""


def render(driver, link: str, shot: Path) -> tuple[np.ndarray, dict]:
    """Open ``link``, wait until every visible chunk is drawn, return the xy panel's RGB pixels and the state."""
    from PIL import Image

    driver.get("about:blank")  # a fresh page per state, not a same-document hash change
    driver.get(link)
    wait_ready(driver)  # ready on three polls in a row, like neuroglancer's screenshot handshake
    data_url, panels, state = driver.execute_script(READ_CANVAS)
    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")
    image.save(shot)
    print(f"screenshot: {shot}")
    assert len(panels) == 1, f"expected the single xy panel, got {panels}"
    left, top, width, height = panels[0]
    pixels = np.asarray(image)[top : top + height, left : left + width].astype(np.float64)
    return pixels, json.loads(state)


def voxel_index(position: float, n_pixels: int, offset: float) -> np.ndarray:
    """The voxel each screen pixel shows at 1 px/voxel: the pixel centre's coordinate ``w`` lies in voxel
    ``floor(w + offset)``; the documented rule is offset 0.5 (centres at integers), uncompensated precomputed
    is offset 0 (corners at integers)."""
    centre = position + np.arange(n_pixels) + 0.5 - n_pixels / 2
    return np.floor(centre + offset).astype(int)


def predicted(volume_zyx: np.ndarray, z: int, shape, position_xyz, offset: float):
    """(mask of panel pixels inside the volume, the voxel values they must show)."""
    height, width = shape
    cols = voxel_index(position_xyz[0], width, offset)
    rows = voxel_index(position_xyz[1], height, offset)
    inside_c = (cols >= 0) & (cols < volume_zyx.shape[2])
    inside_r = (rows >= 0) & (rows < volume_zyx.shape[1])
    values = volume_zyx[z][np.ix_(rows[inside_r], cols[inside_c])]
    return (inside_r, inside_c), values, (rows, cols)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def best_shift(grey: np.ndarray, volume_zyx: np.ndarray, position_xyz, z: int) -> tuple[int, int, int, float]:
    """(dz, dy, dx, corr): the voxel shift from the documented rule that best explains the screenshot."""
    best = (0, 0, 0, -2.0)
    for dz in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = (position_xyz[0] + dx, position_xyz[1] + dy)
                (mr, mc), values, _ = predicted(volume_zyx, z + dz, grey.shape, shifted, 0.5)
                c = correlation(grey[np.ix_(mr, mc)], values / 65535 * 255)
                if c > best[3]:
                    best = (dz, dy, dx, c)
    return best


# -- the tests ----------------------------------------------------------------------------------------------


def test_grey_volume_lands_on_the_same_voxel_in_every_view(served, browser):
    srv, ids, data, root = served
    volume = data["grey"]  # (z, y, x)
    z = 20
    # a quarter voxel off every voxel centre and boundary: no pixel samples an ambiguous edge
    position = (150.25, 100.25, z - 0.25)
    seen: dict[str, np.ndarray] = {}
    report = []
    started = time.monotonic()
    for kind in KINDS:
        state = measuring_state(srv, ids["grey"], kind, position)
        pixels, shown = render(browser, state_url(state, f"{srv.url}/viewer/"), root / f"grey_{kind}_z{z}.png")
        assert shown["displayDimensions"] == ["x", "y", "z"]
        assert np.allclose(pixels[..., 0], pixels[..., 1]) and np.allclose(pixels[..., 1], pixels[..., 2])
        grey = pixels[..., 0]
        (mr, mc), values, (rows, cols) = predicted(volume, z, grey.shape, position, 0.5)
        assert mr.sum() == volume.shape[1] and mc.sum() == volume.shape[2], "the whole slice must be in view"
        got = grey[np.ix_(mr, mc)]
        expected = values / 65535 * 255
        corr = correlation(got, expected)
        mad = float(np.abs(got - expected).mean())
        shift = best_shift(grey, volume, position, z)
        report.append(f"{kind}: corr {corr:.5f}, mean |diff| {mad:.2f} grey levels, best shift (z,y,x) {shift[:3]}")
        assert corr > 0.99, report[-1]
        assert mad < 1.5, report[-1]
        assert shift[:3] == (0, 0, 0), report[-1]
        # the rendered image re-indexed by voxel: (y, x) of the volume -> grey level shown
        seen[kind] = got
    for kind in ("zarr3", "precomputed"):  # same voxels, same grey levels, wherever the panel happens to be
        assert np.abs(seen[kind] - seen["zarr"]).max() <= 1, f"{kind} differs from zarr"
    print("\n".join(report), f"\n3 views in {time.monotonic() - started:.1f} s")


def test_without_the_transform_precomputed_is_half_a_voxel_off(served, browser):
    """What the rule compensates, measured: neuroglancer puts precomputed voxel corners at integers."""
    srv, ids, data, root = served
    volume = data["grey"]
    z = 20
    position = (150.25, 100.25, z - 0.25)
    state = measuring_state(srv, ids["grey"], "precomputed", position, compensate=False)
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / "grey_precomputed_uncompensated.png")
    grey = pixels[..., 0]
    (mr, mc), corner_values, _ = predicted(volume, z - 1, grey.shape, position, 0.0)  # z 19.75 is in [19, 20)
    corner = correlation(grey[np.ix_(mr, mc)], corner_values / 65535 * 255)
    (mr, mc), centre_values, _ = predicted(volume, z, grey.shape, position, 0.5)
    centre = correlation(grey[np.ix_(mr, mc)], centre_values / 65535 * 255)
    print(f"uncompensated precomputed: corr {corner:.5f} with corners at integers, {centre:.5f} with the rule")
    assert corner > 0.99
    assert centre < 0.5


def test_coarser_level_lands_on_the_same_voxels(served, browser):
    """Zoomed out to 2 voxels per pixel the viewer reads level 1 (2x2 means in y, x): the rule holds there too."""
    srv, ids, data, root = served
    volume = data["grey"]
    z = 20
    level1 = reference_mean(volume[z : z + 1], (1, 2, 2))[0]
    # pixel centres at level-0 coordinate w; level-1 voxel j spans [2j - 0.5, 2j + 1.5): floor((w + 0.5) / 2)
    position = (150.0, 100.0, z - 0.25)  # (w + 0.5) / 2 has a fractional part of 0.25 or 0.75: no edges
    seen = {}
    for kind in KINDS:
        state = measuring_state(srv, ids["grey"], kind, position)
        state["crossSectionScale"] = 2.0
        pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / f"grey_{kind}_level1.png")
        grey = pixels[..., 0]
        h, w = grey.shape
        rows = np.floor((position[1] + (np.arange(h) + 0.5 - h / 2) * 2 + 0.5) / 2).astype(int)
        cols = np.floor((position[0] + (np.arange(w) + 0.5 - w / 2) * 2 + 0.5) / 2).astype(int)
        mr = (rows >= 0) & (rows < level1.shape[0])
        mc = (cols >= 0) & (cols < level1.shape[1])
        got = grey[np.ix_(mr, mc)]
        expected = level1[np.ix_(rows[mr], cols[mc])] / 65535 * 255
        corr = correlation(got, expected)
        mad = float(np.abs(got - expected).mean())
        print(f"{kind} level 1: corr {corr:.5f}, mean |diff| {mad:.2f}")
        assert corr > 0.99 and mad < 1.5
        seen[kind] = got
    for kind in ("zarr3", "precomputed"):
        assert np.abs(seen[kind] - seen["zarr"]).max() <= 1, f"{kind} differs from zarr"


@pytest.mark.parametrize("kind", KINDS)
def test_channels_colours_and_time_point(served, browser, kind):
    """One layer per channel, tinted with its colour, contrast window applied, time point selected."""
    srv, ids, data, root = served
    series = data["series"]  # (t, c, z, y, x)
    t, z = 1, 7
    position = (45.25, 35.25, z)
    state = measuring_state(srv, ids["series"], kind, position, t=t)
    assert [layer["name"] for layer in state["layers"]] == ["ramp", "checker"]
    pixels, _ = render(browser, state_url(state, f"{srv.url}/viewer/"), root / f"series_{kind}_t{t}_z{z}.png")
    for c in range(2):
        (mr, mc), values, _ = predicted(series[t, c], z, pixels.shape[:2], position, 0.5)
        got = pixels[..., c][np.ix_(mr, mc)]  # channel 0 is red, channel 1 green
        corr = correlation(got, values)
        mad = float(np.abs(got - values).mean())
        print(f"{kind} t={t} channel {c}: corr {corr:.5f}, mean |diff| {mad:.2f}")
        assert corr > 0.99 and mad < 1.5
    (mr, mc), _, _ = predicted(series[t, 0], z, pixels.shape[:2], position, 0.5)
    assert pixels[..., 2][np.ix_(mr, mc)].max() == 0  # no blue anywhere in the data


def test_the_api_link_opens_as_is(served, browser):
    """The unmodified link of /neuroglancer/{id}: 4 panels, centred, the data drawn in the xy panel."""
    srv, ids, data, root = served
    r = httpx.get(f"{srv.url}/neuroglancer/{ids['grey']}")
    assert r.status_code == 307
    link = r.headers["location"]
    from PIL import Image

    browser.get("about:blank")
    browser.get(link)
    wait_ready(browser, streak=1, poll=0.2)
    time.sleep(0.3)
    data_url, panels, state = browser.execute_script(READ_CANVAS)
    shot = root / "grey_default_link.png"
    Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).save(shot)
    print(f"screenshot: {shot}")
    state = json.loads(state)
    assert state["layout"] == "4panel" and len(panels) == 4
    assert state["position"][:3] == [150, 100, 20]
    assert math.isclose(state["dimensions"]["z"][0], 2e-6)
    assert "#!" in browser.current_url and "/viewer/v/standalone/" in browser.current_url
    # 404s are expected (probes for optional metadata such as {level}/.zattrs); anything else is a failure
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and " 404 " not in e["message"]]
    assert not errors, errors
