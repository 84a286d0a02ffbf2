"""HTTP behaviour that needs a real socket and uvicorn's own HTTP parser: raw (unnormalised) paths,
HEAD on the wire, connections kept alive across errors. Everything else about headers and status codes is
checked in process, in tests/server/test_http_inprocess.py."""

from __future__ import annotations

import httpx
import pytest


def zurl(server, generated, name="big") -> str:
    return f"{server.url}/zarr/{generated[name].dataset_id}.ome.zarr"


def test_head_matches_get(server, generated):
    """uvicorn, not the app, decides what goes on the wire for HEAD: no body, GET's length."""
    url = zurl(server, generated) + "/0/0/0/0/0/0"
    get = httpx.get(url)
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert int(head.headers["content-length"]) == len(get.content)


@pytest.mark.parametrize("path", [
    "/zarr/../../../../etc/passwd",
    "/zarr/%2e%2e/%2e%2e/etc/passwd",
    "/zarr/ID.ome.zarr/..%2f..%2f..%2fetc%2fpasswd",
    "/zarr/ID.ome.zarr/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/zarr/ID.ome.zarr/0/../../../../etc/passwd",
    "/zarr/ID.ome.zarr//etc/passwd",
    "/zarr/%2Fetc%2Fpasswd/.zattrs",
    "/zarr/ID.ome.zarr/%2fetc%2fpasswd",
    "/zarr/..%5c..%5cetc%5cpasswd/.zattrs",
    "/api/datasets/..%2f..%2fetc%2fpasswd",
    "/api/retrieve?id=../../etc/passwd",
    "/zarr/ID.ome.zarr/s_0.tif",
    "/zarr/ID.ome.zarr/dataset.json",
])
def test_path_traversal_never_reads_files(server, generated, path):
    g = generated["slices"]
    path = path.replace("ID", g.dataset_id)
    with httpx.Client() as client:
        r = client.send(client.build_request("GET", server.url + path))  # no client-side normalising
    assert r.status_code in (400, 404)
    assert b"root:" not in r.content
    assert str(g.path.parent).encode() not in r.content


def test_errors_keep_the_connection_alive(server, generated):
    """A 404 or 400 must not close a kept-alive connection (clients would see resets)."""
    with httpx.Client() as client:
        ok = client.get(zurl(server, generated) + "/.zattrs")
        client.get(zurl(server, generated) + "/zarr.json")  # 404
        client.get(zurl(server, generated) + "/0/0/0/x/0/0")  # 400
        again = client.get(zurl(server, generated) + "/.zattrs")
        assert ok.status_code == again.status_code == 200
        pool = client._transport._pool
        assert len(pool.connections) == 1  # the same connection served all four
    log = open(server.log.name).read()
    assert "Exception in ASGI application" not in log
