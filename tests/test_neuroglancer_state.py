"""Neuroglancer viewer states: the pure builder, the state API, the redirect, and the bundled viewer at /viewer/."""

from __future__ import annotations

import json
import re

import httpx
import neuroglancer
import pytest

from tests.helpers import Server
from transformer.config import Config
from transformer.server.routes.neuroglancer import client_dir
from writers import neuroglancer as ng
from writers.registry import view_named
from writers.spec import ChannelSpec, ImageSpec, LevelSpec

KINDS = ["zarr", "zarr3", "precomputed", "zarr3-sharded"]
SCHEMES = {"zarr": "zarr2://", "zarr3": "zarr3://", "precomputed": "precomputed://", "zarr3-sharded": "zarr3://"}


def viewer_state(spec: ImageSpec, kind: str, url: str, t: int = 0) -> dict:
    """The state for the view named ``kind``, opened as that view says Neuroglancer opens it."""
    return ng.viewer_state(spec, view_named(kind).neuroglancer, url, t)


def make_spec(channels: int = 1, shape=(1, 1, 40, 200, 300), voxel=(2.0, 0.5, 0.5), kind="intensity",
              time_interval=None) -> ImageSpec:
    colors = ["FF0000", "00FF00", "0000FF", "FFFFFF"]
    shape = (shape[0], channels, *shape[2:])
    level0 = LevelSpec(shape, (1, 1, 64, 64, 64), voxel, (0.0, 0.0, 0.0))
    level1 = LevelSpec((*shape[:2], shape[2], (shape[3] + 1) // 2, (shape[4] + 1) // 2), (1, 1, 64, 64, 64),
                       (voxel[0], voxel[1] * 2, voxel[2] * 2), (0.0, voxel[1] / 2, voxel[2] / 2))
    chans = tuple(ChannelSpec(f"ch{i}", colors[i % 4], (10.0 * i, 1000.5), (0.0, 65535.0)) for i in range(channels))
    return ImageSpec("test image", "uint16", (level0, level1), chans, kind=kind, time_interval=time_interval)


# -- the pure builder --------------------------------------------------------------------------------------


def test_zarr_state_shape():
    state = viewer_state(make_spec(), "zarr", "http://h/zarr/abc.ome.zarr")
    assert state["dimensions"] == {"x": [5e-7, "m"], "y": [5e-7, "m"], "z": [2e-6, "m"], "t": [1.0, "s"]}
    assert state["displayDimensions"] == ["x", "y", "z"]
    assert state["position"] == [150.0, 100.0, 20.0, 0.0]  # voxel centres are integers (OME convention)
    assert state["layout"] == "4panel"
    assert 0 < state["crossSectionScale"] <= 2
    [layer] = state["layers"]
    assert layer["type"] == "image"
    assert layer["source"] == "zarr2://http://h/zarr/abc.ome.zarr"  # OME sources need no half-voxel transform
    assert layer["localPosition"] == [0]
    assert layer["opacity"] == 1.0
    assert "blend" not in layer
    assert '#uicontrol vec3 color color(default="#ff0000")' in layer["shader"]
    assert "#uicontrol invlerp normalized(range=[0, 1000.5])" in layer["shader"]
    assert "emitRGB(color * normalized())" in layer["shader"]
    assert state["selectedLayer"]["layer"] == layer["name"]


def test_zarr3_state_and_time():
    state = viewer_state(make_spec(shape=(3, 1, 40, 200, 300), time_interval=2.5), "zarr3",
                            "http://h/zarr3/abc.ome.zarr/", t=2)
    assert state["layers"][0]["source"] == "zarr3://http://h/zarr3/abc.ome.zarr"
    assert state["dimensions"]["t"] == [2.5, "s"]
    assert state["position"][3] == 2.0


def test_precomputed_state_has_the_half_voxel_transform():
    state = viewer_state(make_spec(), "precomputed", "http://h/precomputed/abc")
    assert "t" not in state["dimensions"]
    assert state["position"] == [150.0, 100.0, 20.0]
    [layer] = state["layers"]
    assert "localPosition" not in layer  # one channel: precomputed has no channel dimension
    source = layer["source"]
    assert source["url"] == "precomputed://http://h/precomputed/abc"
    transform = source["transform"]
    assert transform["outputDimensions"] == {"x": [5e-7, "m"], "y": [5e-7, "m"], "z": [2e-6, "m"]}
    assert transform["matrix"] == [[1, 0, 0, -0.5], [0, 1, 0, -0.5], [0, 0, 1, -0.5]]


@pytest.mark.parametrize("kind", KINDS)
def test_one_layer_per_channel(kind):
    spec = make_spec(channels=3)
    state = viewer_state(spec, kind, "http://h/v")
    layers = state["layers"]
    assert [layer["name"] for layer in layers] == ["ch0", "ch1", "ch2"]
    assert [layer["localPosition"] for layer in layers] == [[0], [1], [2]]
    assert all(layer["blend"] == "additive" for layer in layers)
    for layer, color, start in zip(layers, ["ff0000", "00ff00", "0000ff"], [0, 10, 20], strict=True):
        assert f'default="#{color}"' in layer["shader"]
        assert f"range=[{start}, 1000.5]" in layer["shader"]
    if kind == "precomputed":  # c^ renamed to the local c' so a layer selects its channel like the OME source
        transform = layers[0]["source"]["transform"]
        assert list(transform["outputDimensions"]) == ["x", "y", "z", "c'"]
        assert transform["matrix"][3] == [0, 0, 0, 1, -0.5]


def test_duplicate_channel_names_are_made_unique():
    spec = make_spec(channels=2)
    spec = ImageSpec(spec.name, spec.dtype, spec.levels,
                     tuple(ChannelSpec("same", c.color, c.window, c.range) for c in spec.channels))
    assert [layer["name"] for layer in viewer_state(spec, "zarr", "http://h/v")["layers"]] == ["same", "same (1)"]


def test_labels_get_a_segmentation_layer():
    state = viewer_state(make_spec(kind="labels"), "precomputed", "http://h/p")
    [layer] = state["layers"]
    assert layer["type"] == "segmentation" and "shader" not in layer


def test_a_single_plane_gets_the_xy_layout():
    state = viewer_state(make_spec(shape=(1, 1, 1, 2000, 3000), voxel=(1.0, 0.25, 0.25)), "zarr", "http://h/v")
    assert state["layout"] == "xy"
    assert state["crossSectionScale"] == 3.33  # y limits: 2000 voxels across about 600 pixels


def test_unknown_kind():
    with pytest.raises(LookupError, match="no view named 'n5'"):
        viewer_state(make_spec(), "n5", "http://h/v")


@pytest.mark.parametrize("kind", KINDS)
def test_views_name_their_neuroglancer_scheme(kind):
    assert view_named(kind).neuroglancer.scheme == SCHEMES[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_state_is_valid_for_neuroglancer_python_and_round_trips_through_the_link(kind):
    state = viewer_state(make_spec(channels=2), kind, "http://h/v")
    url = ng.state_url(state, "http://h/viewer/")
    assert url.startswith("http://h/viewer/#!%7B%22")
    assert ng.state_from_url(url) == state
    parsed = neuroglancer.parse_url(url)  # neuroglancer's own parser and state model accept it
    assert parsed.layout.type == state["layout"]
    assert list(parsed.layers[0].source[0].url.split("://"))[0] == SCHEMES[kind][:-3]
    assert json.loads(neuroglancer.url_state.url_fragment_to_json(url.split("#", 1)[1])) == state
    assert url == ng.state_url(state, "http://h/viewer/#an-old-fragment")


def test_viewer_url_config_from_env(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_VIEWER_URL", "https://ng.example.org/")
    assert Config.from_env().viewer_url == "https://ng.example.org/"
    assert Config().viewer_url is None


# -- the routes, against the real server ----------------------------------------------------------------------


def api(server, dataset_id: str, **params) -> httpx.Response:
    return httpx.get(f"{server.url}/api/datasets/{dataset_id}/neuroglancer", params=params)


def versioned(url: str, dataset_id: str, view: str) -> str:
    """The versioned URL of ``view`` the record lists (``{id}@{tag}``)."""
    link = httpx.get(f"{url}/api/datasets/{dataset_id}").json()["versioned_links"][view]
    assert f"/{dataset_id}@" in link
    return link


def test_api_default_source_is_zarr(server, generated):
    g = generated["big"]
    body = api(server, g.dataset_id).json()
    assert body["source"] == "zarr"
    # the immutable URL of the served version (issue 14)
    assert body["state"]["layers"][0]["source"] == f"zarr2://{versioned(server.url, g.dataset_id, 'zarr')}"
    assert body["url"].startswith(f"{server.url}/viewer/#!")
    assert ng.state_from_url(body["url"]) == body["state"]


@pytest.mark.parametrize("kind", KINDS)
def test_api_sources_are_absolute_and_served(server, generated, kind):
    g = generated["slices"]
    state = api(server, g.dataset_id, source=kind).json()["state"]
    source = state["layers"][0]["source"]
    url = source["url"] if isinstance(source, dict) else source
    scheme, _, http_url = url.partition("://")
    assert scheme == SCHEMES[kind][:-3]
    assert http_url.startswith(server.url + "/")
    probe = {"zarr": "/.zattrs", "zarr3": "/zarr.json", "precomputed": "/info", "zarr3-sharded": "/zarr.json"}[kind]
    assert httpx.get(http_url + probe).status_code == 200
    assert state["dimensions"]["z"] == [3e-6, "m"] and state["dimensions"]["x"] == [5e-7, "m"]
    assert state["position"][:3] == [133 // 2, 101 // 2, 37 // 2]


def test_api_channels_and_time_points(server, generated):
    g = generated["tc"]  # 2 time points, channels dapi, gfp, tdtomato
    state = api(server, g.dataset_id, t=1).json()["state"]
    assert [layer["name"] for layer in state["layers"]] == ["dapi", "gfp", "tdtomato"]
    assert [layer["localPosition"] for layer in state["layers"]] == [[0], [1], [2]]
    assert state["position"][3] == 1.0
    state = api(server, g.dataset_id, source="precomputed", t=1).json()["state"]
    source = state["layers"][0]["source"]["url"]
    assert source == f"precomputed://{versioned(server.url, g.dataset_id, 'precomputed')}/t/1"
    assert httpx.get(source.split("://", 1)[1] + "/info").status_code == 200


@pytest.mark.parametrize("params,status", [({"source": "n5"}, 400), ({"t": "x"}, 400), ({"t": "-1"}, 400),
                                           ({"t": "2"}, 404)])
def test_api_bad_parameters(server, generated, params, status):
    r = api(server, generated["tc"].dataset_id, **params)
    assert r.status_code == status
    assert r.json()["status"] == status and r.json()["reason"]


def test_api_unknown_dataset(server):
    for r in (api(server, "not-a-dataset"), httpx.get(f"{server.url}/neuroglancer/not-a-dataset")):
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"


def test_redirect_to_the_link(server, generated):
    g = generated["tc"]
    r = httpx.get(f"{server.url}/neuroglancer/{g.dataset_id}", params={"source": "zarr3"})
    assert r.status_code == 307
    assert r.headers["location"] == api(server, g.dataset_id, source="zarr3").json()["url"]
    assert httpx.head(f"{server.url}/neuroglancer/{g.dataset_id}").status_code == 307


def test_links_name_the_viewer(server, generated):
    g = generated["big"]
    links = httpx.get(f"{server.url}/api/datasets/{g.dataset_id}").json()["links"]
    assert links["neuroglancer"] == f"{server.url}/neuroglancer/{g.dataset_id}"


def test_public_url_and_external_viewer(generated):
    srv = Server(generated["_catalog"], "--public-url", "https://data.example.org/tf/",
                 "--viewer-url", "https://ng.example.org/")
    try:
        g = generated["big"]
        body = api(srv, g.dataset_id, source="precomputed").json()
        assert body["url"].startswith("https://ng.example.org/#!")
        assert body["state"]["layers"][0]["source"]["url"] == \
            f"precomputed://{versioned(srv.url, g.dataset_id, 'precomputed')}".replace(srv.url, "https://data.example.org/tf")
    finally:
        srv.stop()


# -- the bundled viewer -------------------------------------------------------------------------------------


def test_viewer_serves_the_bundled_client(server):
    bundled = (client_dir() / "index.html").read_text()
    scripts = re.findall(r'src="([^"]+\.js)"', bundled)
    styles = re.findall(r'href="([^"]+\.css)"', bundled)
    assert scripts and styles
    for path in ("/viewer/", "/viewer/v/standalone/"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert all(f'src="{s}"' in r.text for s in scripts)  # the bundle's own index.html ...
        assert "v/standalone/" in r.text and "EventSource" in r.text  # ... with the standalone shim
    for name in scripts:
        for prefix in ("/viewer/", "/viewer/v/standalone/"):
            r = httpx.get(f"{server.url}{prefix}{name}")
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/javascript")
            assert r.content == (client_dir() / name).read_bytes()
    r = httpx.get(f"{server.url}/viewer/{styles[0]}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    wasm = sorted(p.name for p in client_dir().glob("*.wasm"))
    if wasm:
        r = httpx.get(f"{server.url}/viewer/{wasm[0]}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/wasm"


def test_viewer_caching_and_errors(server):
    main = next(p.name for p in client_dir().glob("main.*.js"))
    r = httpx.get(f"{server.url}/viewer/{main}", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["etag"]
    assert httpx.get(f"{server.url}/viewer/{main}", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert httpx.head(f"{server.url}/viewer/").status_code == 200
    r = httpx.get(f"{server.url}/viewer")
    assert r.status_code == 307 and r.headers["location"] == "viewer/"
    for bad in ("/viewer/nope.js", "/viewer/..%2f..%2fsetup.py", "/viewer/__init__.py", "/viewer/v/x/.hidden.js"):
        r = httpx.get(server.url + bad)
        assert r.status_code == 404, bad
        assert r.json()["error"] == "not_found"
