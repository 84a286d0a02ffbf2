"""The plugin in a real napari (offscreen, tests/xdisplay.py) against a real server on the demo: the reader
through npe2's entry point, the "Brain archive" widget, tokens, errors as notifications, and that panning
fetches only the chunks on screen (counted in the server's access log).

Each test runs one child process (napari and Qt start in ≈ 4 s) and reads what it printed as JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.napari_plugin.conftest import EMBARGOED_TITLE, WIDE_TITLE
from tests.napari_plugin.sources import IMARIS, OME_TIFF, SLICES, demo_sources
from tests.xdisplay import display, require_xcb, run_napari  # noqa: F401 - display: a fixture (a virtual X server for GLX)
from transformer.testing import free_port, stop_process

pytestmark = pytest.mark.slow  # a napari child each (≈ 4-8 s), the demo written once (≈ 10 s)

# what every child starts with: a viewer, the notifications it shows, waiting for workers, drawing
PRELUDE = """
import json, sys, time
import numpy as np
import napari
from napari.utils.notifications import notification_manager
from qtpy.QtWidgets import QApplication

messages = []  # the errors and news napari shows (its own warnings, e.g. that PyQt5 is deprecated, are left out)
notification_manager.notification_ready.connect(
    lambda n: messages.append([str(n.severity), n.message]) if str(n.severity) in ("error", "info") else None)
viewer = napari.Viewer(show=True)  # offscreen: no window appears, the canvas has its real size
viewer.window._qt_window.resize(1200, 800)  # room for the canvas beside a dock widget

def wait(done, timeout=120):
    deadline = time.monotonic() + timeout
    while not done():
        QApplication.processEvents()
        time.sleep(0.01)
        assert time.monotonic() < deadline, "timed out"

def draw():
    return viewer.screenshot(canvas_only=True, flash=False)

def described():
    return [{"name": l.name, "type": l._type_string, "levels": len(l.data) if l.multiscale else 1,
             "scale": list(map(float, l.scale)), "translate": list(map(float, l.translate)),
             "colormap": l.colormap.name, "contrast_limits": list(map(float, l.contrast_limits))}
            for l in viewer.layers]
"""

# argv: out folder, then (url, plugin or "-") pairs; saves each layer's level 0
READ = PRELUDE + """
out, pairs = sys.argv[1], sys.argv[2:]
for url, plugin in zip(pairs[::2], pairs[1::2]):
    viewer.open(url, plugin=None if plugin == "-" else plugin)
for i, layer in enumerate(viewer.layers):
    np.save(f"{out}/{i}.npy", np.asarray(layer.data[0] if layer.multiscale else layer.data))
draw()
print(json.dumps({"layers": described(), "messages": messages}))
"""


def _child_json(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_reader_opens_every_demo_dataset_with_each_channels_level0_equal_to_the_source(archive, display,  # noqa: F811
                                                                                           tmp_path):
    sources = demo_sources(archive.demo)
    titles = list(sources)
    forms = ["{u}/datasets/{i}", "{u}/api/datasets/{i}", "{u}/zarr/{i}.ome.zarr", "{u}/zarr3/{i}.ome.zarr"]
    pairs = []
    for title, form in zip(titles, forms, strict=True):
        url = form.format(u=archive.url, i=archive.ids[title])
        # a page URL matches this plugin only, so napari picks it by itself; zarr URLs match napari-ome-zarr too
        pairs += [url, "-" if "/datasets/" in url and "/api/" not in url else "brain-transformer"]
    report = _child_json(run_napari(READ, [str(tmp_path), *pairs], display))
    assert report["messages"] == []
    expected = [(title, c) for title in titles for c in range(len(sources[title]))]
    assert len(report["layers"]) == len(expected)
    for i, ((title, c), layer) in enumerate(zip(expected, report["layers"], strict=True)):
        assert layer["name"].startswith(f"{title}: ")
        assert layer["type"] == "image" and layer["levels"] >= 2
        np.testing.assert_array_equal(np.load(tmp_path / f"{i}.npy"), sources[title][c])
    two = [layer for layer in report["layers"] if layer["name"].startswith(OME_TIFF)]
    assert [(lay["colormap"], lay["scale"]) for lay in two] == [("red", [8.0, 4.0, 4.0]), ("green", [8.0, 4.0, 4.0])]
    imaris = [layer for layer in report["layers"] if layer["name"].startswith(IMARIS)]
    assert [lay["name"].split(": ")[1] for lay in imaris] == ["autofluorescence", "nuclei"]


# argv: server URL, token ("" for none), "overlays" or "", words, facet=value …; opens the first result
WIDGET = PRELUDE + """
url, token, overlays, words, *facets = sys.argv[1:]
overlays = overlays == "overlays"
dock, widget = viewer.window.add_plugin_dock_widget("brain-transformer", "Brain archive")
widget.server.setText(url)
widget.token.setText(token)
widget.words.setText(words)
widget.search()
wait(lambda: not widget.workers)
for facet in facets:
    name, value = facet.split("=")
    combo = widget.facets[name]
    combo.setCurrentIndex(combo.findData(value))
widget.search()
wait(lambda: not widget.workers)
results = [widget.results.item(i).data(256) for i in range(widget.results.count())]
icons = [not widget.results.item(i).icon().isNull() for i in range(widget.results.count())]
offered = {name: [combo.itemData(i) for i in range(1, combo.count())] for name, combo in widget.facets.items()}
(widget.open_all_button if overlays else widget.open_button).click()
wait(lambda: not widget.workers)
draw()
print(json.dumps({"results": results, "icons": icons, "facets": offered, "layers": described(),
                  "status": widget.status.text(), "messages": messages}))
"""


def test_the_widget_searches_by_facet_and_word_and_opens_a_result(archive, display):  # noqa: F811
    report = _child_json(run_napari(WIDGET, [archive.url, "", "overlays", "two channels", "format=tiff"], display))
    assert report["results"] == [archive.ids[OME_TIFF]]  # "two channels" finds two; the format facet one
    assert report["icons"] == [True]  # its thumbnail
    assert "mus musculus" in report["facets"]["species"] and "tiff" in report["facets"]["format"]
    assert [layer["name"] for layer in report["layers"]] == [f"{OME_TIFF}: autofluorescence", f"{OME_TIFF}: nuclei"]
    assert report["messages"] == [["info", f"dataset {archive.ids[OME_TIFF]!r} has no neurons or cells"]]


def test_an_embargoed_dataset_opens_with_the_widgets_token(archive, display):  # noqa: F811
    report = _child_json(run_napari(WIDGET, [archive.url, archive.token, "", "embargoed cortex"], display))
    assert report["results"] == [archive.ids[EMBARGOED_TITLE]]
    assert [layer["name"] for layer in report["layers"]] == [f"{EMBARGOED_TITLE}: channel 0"]
    assert report["messages"] == []


# argv: the URLs to open one after the other; the viewer must stay usable (a public dataset opens last)
FAILING = PRELUDE + """
for url in sys.argv[1:]:
    viewer.open(url, plugin="brain-transformer")
draw()
print(json.dumps({"layers": described(), "messages": messages}))
"""


def test_without_a_token_or_with_a_wrong_one_the_viewer_says_so_and_stays_usable(archive, display):  # noqa: F811
    dataset_id = archive.ids[EMBARGOED_TITLE]
    urls = [f"{archive.url}/datasets/{dataset_id}", f"{archive.url}/t/not-a-token/datasets/{dataset_id}",
            f"{archive.url}/datasets/{archive.ids[SLICES]}"]
    report = _child_json(run_napari(FAILING, urls, display))
    assert [layer["name"] for layer in report["layers"]] == [f"{SLICES}: channel 0"]
    (severity1, first), (severity2, second) = report["messages"]
    assert severity1 == severity2 == "error"
    assert first.startswith(f"dataset {dataset_id!r} on {archive.url} needs a token: ")
    assert "Token field" in first and "Traceback" not in first
    assert second.startswith(f"the token was refused by {archive.url} (unknown, expired or revoked): ")


def test_a_server_that_is_down_or_fails_is_named_in_the_message(archive, display):  # noqa: F811
    down = f"http://127.0.0.1:{free_port()}"
    failing = FailingServer()
    try:
        urls = [f"{down}/datasets/abc", f"{failing.url}/datasets/abc", f"{archive.url}/datasets/{archive.ids[SLICES]}"]
        report = _child_json(run_napari(FAILING, urls, display))
    finally:
        failing.stop()
    assert len(report["layers"]) == 1
    (_, refused), (_, failed) = report["messages"]
    assert refused.startswith(f"{down} does not answer (")
    assert failed == f"{failing.url} failed (HTTP 503): the disk is on fire"


class FailingServer:
    """A real HTTP server (another process) that answers every request 503 with a JSON reason."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = (
            "import http.server, json, sys\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        body = json.dumps({'reason': 'the disk is on fire'}).encode()\n"
            "        self.send_response(503); self.send_header('Content-Type', 'application/json')\n"
            "        self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)\n"
            "    def log_message(self, *a): pass\n"
            f"http.server.ThreadingHTTPServer(('127.0.0.1', {self.port}), H).serve_forever()\n"
        )
        self.proc = subprocess.Popen([sys.executable, "-c", code])
        for _ in range(200):
            try:
                if httpx.get(self.url, timeout=1).status_code == 503:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the 503 server did not start")

    def stop(self) -> None:
        stop_process(self.proc)


# argv: dataset URL, server URL; zooms into level 0, then pans; marks each step in the server's log
PAN = PRELUDE + """
import urllib.request
url, server = sys.argv[1:]
canvas = viewer.window._qt_viewer.canvas

def step(name):
    QApplication.processEvents()
    canvas.on_draw(None)  # what a draw of the canvas does first: choose the level and the box on screen
    urllib.request.urlopen(f"{server}/healthz?step={name}").read()
    return [int(layer.data_level), int(viewer.dims.current_step[0]), layer.corner_pixels[:, 1:].tolist()]

viewer.window._qt_window.resize(640, 480)  # a canvas smaller than the plane: napari opens a coarser level
layer, = viewer.open(url, plugin="brain-transformer")
opened = step("opened")
viewer.camera.zoom = 8 * viewer.camera.zoom
zoomed = step("zoomed")
viewer.camera.center = (viewer.camera.center[0], viewer.camera.center[1] + 300, viewer.camera.center[2] + 300)
panned = step("panned")
print(json.dumps({"opened": opened, "zoomed": zoomed, "panned": panned, "messages": messages}))
"""


def test_panning_at_full_resolution_fetches_only_the_chunks_on_screen(archive, display):  # noqa: F811
    dataset_id = archive.ids[WIDE_TITLE]  # 1024² planes in 128² chunks
    seen = len(archive.requests())
    report = _child_json(run_napari(PAN, [f"{archive.url}/datasets/{dataset_id}", archive.url], display))
    assert report["messages"] == []
    assert report["opened"][0] > 0 and report["zoomed"][0] == report["panned"][0] == 0  # level 0 once zoomed
    log = archive.requests()[seen:]
    steps = [next(i for i, line in enumerate(log) if f"/healthz?step={name}" in line)
             for name in ("opened", "zoomed", "panned")]

    def level0_chunks(lines: list[str]) -> list[tuple[int, int, int]]:
        out = []
        for line in lines:
            if f"/api/datasets/{dataset_id}/cutout?level=0&" in line:
                (z0, z1), (y0, y1), (x0, x1) = (map(int, re.search(rf"[?&]{a}=(\d+):(\d+)", line).groups())
                                                for a in "zyx")
                assert (z1 - z0, y1 - y0, x1 - x0) == (1, 128, 128)  # one served chunk a request
                out.append((z0, y0 // 128, x0 // 128))
        return out

    def on_screen(report_step) -> set[tuple[int, int, int]]:
        _, z, ((y0, x0), (y1, x1)) = report_step  # napari's corners: inclusive, already on chunk edges
        return {(z, j, i) for j in range(y0 // 128, y1 // 128 + 1) for i in range(x0 // 128, x1 // 128 + 1)}

    after_zoom = level0_chunks(log[steps[0]:steps[1]])
    after_pan = level0_chunks(log[steps[1]:steps[2]])
    assert sorted(after_zoom) == sorted(on_screen(report["zoomed"]))  # each chunk on screen once, no other
    assert sorted(after_pan) == sorted(on_screen(report["panned"]) - set(after_zoom))
    assert 0 < len(after_zoom) <= 9 and 0 < len(after_pan) <= 12  # a few of the plane's 64 chunks


# argv: server URL, dataset id, out folder, screenshot path; "Open with neurons and cells" in the widget
OVERLAYS = PRELUDE + """
url, dataset_id, out, shot = sys.argv[1:]
dock, widget = viewer.window.add_plugin_dock_widget("brain-transformer", "Brain archive")
widget.server.setText(url)
widget.open(dataset_id, overlays=True)
wait(lambda: not widget.workers)
image, vectors, points = viewer.layers
np.save(f"{out}/vectors.npy", vectors.data)
np.save(f"{out}/points.npy", points.data)
for layer, name in ((vectors, "vectors"), (points, "points")):
    layer.features.to_csv(f"{out}/{name}.csv", index=False)
# where the image layer puts each cell: napari's world -> the image's level-0 voxel
cells_at = np.array([np.round(image.world_to_data(p)).astype(int) for p in points.data])
np.save(f"{out}/cells_at.npy", cells_at)
viewer.window.remove_dock_widget(dock)  # the whole window for the canvas
QApplication.processEvents()
points.visible = False
viewer.dims.ndisplay = 3  # the brain as a volume with its whole neurons inside
image.locked_data_level = 0
image.rendering = "mip"
viewer.camera.angles = (15, -25, 80)
viewer.reset_view()
import imageio
imageio.imwrite(shot, draw())
print(json.dumps({"layers": [[l.name, l._type_string] for l in viewer.layers], "messages": messages,
                  "edge_colours": vectors.edge_color[:3].tolist()}))
"""


def _swc(path: Path) -> np.ndarray:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return np.array(rows, dtype=float)  # id, type, x, y, z, radius, parent


def test_open_with_neurons_and_cells_draws_them_in_the_images_frame(archive, display, tmp_path):  # noqa: F811
    folder = archive.demo / "brain-slices"
    swcs = sorted((folder / "neurons").glob("*.swc"))
    if not swcs:
        pytest.skip("the demo has no neurons")
    require_xcb(display)
    shot = tmp_path / "napari-neurons.png"
    report = _child_json(run_napari(OVERLAYS, [archive.url, archive.ids[SLICES], str(tmp_path), str(shot)], display,
                                    env={"QT_QPA_PLATFORM": "xcb"}))  # a window on Xvfb: the screenshot has pixels
    assert report["messages"] == []
    assert [kind for _, kind in report["layers"]] == ["image", "vectors", "points"]
    # every SWC edge, child -> parent, at the file's µm in z, y, x, with its child's type and its neuron's name
    vectors = np.load(tmp_path / "vectors.npy")
    features = np.genfromtxt(tmp_path / "vectors.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    expected_starts, expected_ends, expected_types, expected_names = [], [], [], []
    for path in swcs:
        swc = _swc(path)
        row_of = {int(i): r for r, i in enumerate(swc[:, 0])}
        for r, parent in enumerate(swc[:, 6]):
            if parent >= 0:
                expected_starts.append(swc[r, [4, 3, 2]])
                expected_ends.append(swc[row_of[int(parent)], [4, 3, 2]])
                expected_types.append(int(swc[r, 1]))
                expected_names.append(f"neurons/{path.name}")
    np.testing.assert_allclose(vectors[:, 0], expected_starts, atol=1e-3)  # the skeleton's nm are float32
    np.testing.assert_allclose(vectors[:, 0] + vectors[:, 1], expected_ends, atol=1e-3)
    assert features["type"].tolist() == expected_types
    assert features["name"].tolist() == expected_names
    # every cell at its CSV position, with its id and every column as features
    table = np.genfromtxt(folder / "cells.csv", delimiter=",", names=True)
    points = np.load(tmp_path / "points.npy")
    np.testing.assert_allclose(points, np.column_stack([table["z"], table["y"], table["x"]]), atol=1e-3)
    cell_features = np.genfromtxt(tmp_path / "points.csv", delimiter=",", names=True)
    assert cell_features["id"].tolist() == table["id"].tolist()
    assert cell_features["intensity"].tolist() == table["intensity"].tolist()
    # the same frame: each cell is a voxel brighter than its neighbours, and the image layer maps the cell's point
    # onto that very voxel (its value is the CSV's intensity)
    source = demo_sources(archive.demo)[SLICES][0]
    at = np.load(tmp_path / "cells_at.npy")
    assert source[at[:, 0], at[:, 1], at[:, 2]].tolist() == table["intensity"].astype(int).tolist()
    assert shot.stat().st_size > 10_000
    if os.environ.get("TRANSFORMER_SCREENSHOTS"):  # docs/screenshots/napari-neurons.png is made so
        shutil.copy(shot, Path(os.environ["TRANSFORMER_SCREENSHOTS"]) / shot.name)
