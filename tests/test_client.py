"""transformer.client against the real server: the same voxels as zarr-python reading the zarr view, numpy
indexing rules, boxes split into parallel sub-requests, to_dask, errors with the service's reason, and
retries of a failing server (a real HTTP server that answers 503 twice)."""

from __future__ import annotations

import http.server
import threading

import numpy as np
import pytest
import zarr

from transformer import client as client_module
from transformer.client import ClientError, open_dataset


def zarr_level(server, g, level: int):
    return zarr.open_group(f"{server.url}/zarr/{g.dataset_id}.ome.zarr", mode="r", zarr_format=2)[str(level)]


@pytest.mark.parametrize("name", ["tc", "big"])
def test_same_boxes_as_zarr_python_at_every_level(server, generated, name):
    g = generated[name]
    ds = open_dataset(f"{server.url}/api/datasets/{g.dataset_id}")
    assert ds.shape == g.data.shape and ds.dtype == g.data.dtype
    assert ds.voxel_size == pytest.approx(g.voxel)
    keys = [(0, 0, slice(3, 17), slice(5, 60), slice(1, 77)), (-1, slice(None), 4), (0, ..., slice(None, None, 3)),
            (slice(None), 0, slice(2, 9), slice(40, 3, -2))]
    for level in range(len(ds.levels)):
        ref = zarr_level(server, g, level)
        assert ds.level(level).shape == ref.shape
        whole = ref[...]  # zarr refuses negative steps: those are numpy's rules applied to zarr's voxels
        for key in keys:
            got = ds.level(level)[key]
            expected = whole[key] if any(isinstance(k, slice) and (k.step or 1) < 0 for k in key) else ref[key]
            assert got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(ds[...], g.data)


def test_big_boxes_are_split_into_parallel_requests(server, generated, monkeypatch):
    g = generated["big"]
    monkeypatch.setattr(client_module, "REQUEST_BYTES", 64 * 64 * 64 * 2 * 2)  # two chunks per request
    ds = open_dataset(g.dataset_id, base_url=server.url, workers=4)
    box = (slice(0, 1), slice(0, 1), slice(5, 70), slice(10, 300), slice(0, 250))
    assert len(list(client_module.sub_boxes(box, ds.level(0).chunks, 2))) > 8
    np.testing.assert_array_equal(ds[0, 0, 5:70, 10:300, 0:250], g.data[0, 0, 5:70, 10:300, 0:250])


def test_to_dask_equals_the_zarr_view(server, generated, monkeypatch):
    g = generated["big"]
    monkeypatch.setattr(client_module, "REQUEST_BYTES", 64 * 64 * 64 * 2 * 2)
    ds = open_dataset(f"{server.url}/api/datasets/{g.dataset_id}/")
    for level in (0, 1):
        lazy = ds.to_dask(level=level)
        assert lazy.shape == ds.level(level).shape and lazy.numblocks[2:] != (1, 1, 1)
        np.testing.assert_array_equal(lazy[0, 0, 3:40, 7:99].compute(), zarr_level(server, g, level)[0, 0, 3:40, 7:99])


def test_neuroglancer_url_and_errors(server, generated):
    g = generated["tc"]
    ds = open_dataset(f"{server.url}/api/datasets/{g.dataset_id}")
    assert ds.neuroglancer_url() == f"{server.url}/neuroglancer/{g.dataset_id}"
    with pytest.raises(ClientError) as err:
        open_dataset("no-such-dataset", base_url=server.url)
    assert err.value.status == 404 and "no-such-dataset" in err.value.reason
    with pytest.raises(IndexError):
        ds[0, 5]
    with pytest.raises(ValueError):
        open_dataset("just-an-id")


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first two GETs of each path, then proxies the real server's answer."""

    failures: dict[str, int] = {}
    upstream = ""

    def do_GET(self) -> None:  # noqa: N802 (the http.server hook's name)
        import urllib.request

        seen = Flaky.failures.get(self.path, 0)
        if seen < 2:
            Flaky.failures[self.path] = seen + 1
            self.send_response(503)
            self.end_headers()
            return
        with urllib.request.urlopen(Flaky.upstream + self.path) as r:  # noqa: S310
            body = r.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_retries_5xx(server, generated, monkeypatch):
    g = generated["tc"]
    monkeypatch.setattr(client_module.time, "sleep", lambda s: None)
    Flaky.upstream, Flaky.failures = server.url, {}
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        ds = open_dataset(g.dataset_id, base_url=f"http://127.0.0.1:{proxy.server_port}")
        np.testing.assert_array_equal(ds[1, 2, 3:9], g.data[1, 2, 3:9])
        assert set(Flaky.failures.values()) == {2}
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_cutout_command_saves_each_format(server, generated, tmp_path):
    import h5py
    import tifffile

    from transformer.cli import main

    g = generated["tc"]
    expected = g.data[1:2, 0:2, 2:9, 5:40, 0:90]
    for name in ("box.npy", "box.ome.tif", "box.h5"):
        out = tmp_path / name
        assert main(["cutout", g.dataset_id, "--base-url", server.url, "--region", "2:9,5:40,:", "--t", "1",
                     "--channels", "0:2", "-o", str(out)]) == 0
        if name.endswith(".npy"):
            got = np.load(out)
        elif name.endswith(".tif"):
            got = tifffile.imread(out).reshape(expected.shape)
        else:
            with h5py.File(out, "r") as f:
                got = f["data"][...]
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ClientError) as err:
        main(["cutout", f"{server.url}/api/datasets/{g.dataset_id}", "--level", "1", "--region", "90:99,:,:",
              "-o", str(tmp_path / "x.npy")])
    assert err.value.status == 404 and "outside the volume" in err.value.reason


def test_dask_from_zarr_over_http_equals_the_client(server, generated):
    import dask.array as da

    g = generated["big"]
    lazy = da.from_zarr(f"{server.url}/zarr/{g.dataset_id}.ome.zarr/1")
    ds = open_dataset(g.dataset_id, base_url=server.url)
    np.testing.assert_array_equal(lazy[0, 0, 5:30].compute(), ds.level(1)[0, 0, 5:30])
