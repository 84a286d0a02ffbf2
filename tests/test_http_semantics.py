"""HTTP behaviour every client relies on: CORS, HEAD, ETag/304, 404 vs 400 vs 5xx, no path leaks."""

from __future__ import annotations

import concurrent.futures
import shutil

import httpx
import numpy as np
import pytest
import tifffile

from catalog.scan import describe
from catalog.store import Catalog
from tests.helpers import Server


def zurl(server, generated, name="big") -> str:
    return f"{server.url}/zarr/{generated[name].dataset_id}.ome.zarr"


def test_cors_on_get_and_errors(server, generated):
    own = zurl(server, generated) + "/.zattrs"
    for url in (server.url + "/api/datasets", server.url + "/zarr/nope.ome.zarr/.zattrs", own):
        r = httpx.get(url, headers={"Origin": "http://viewer.example"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "etag" in r.headers["access-control-expose-headers"].lower()


def test_options_preflight(server, generated):
    r = httpx.options(zurl(server, generated) + "/0/.zarray", headers={
        "Origin": "http://viewer.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert int(r.headers["access-control-max-age"]) > 0
    assert "range" in r.headers["access-control-allow-headers"]


def test_head_matches_get(server, generated):
    url = zurl(server, generated) + "/0/0/0/0/0/0"
    get = httpx.get(url)
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert int(head.headers["content-length"]) == len(get.content)


def test_etag_and_304(server, generated):
    for key in ("/.zattrs", "/0/.zarray", "/1/0/0/0/0/0"):
        r = httpx.get(zurl(server, generated) + key)
        assert r.status_code == 200 and r.headers["etag"] and "max-age" in r.headers["cache-control"]
        again = httpx.get(zurl(server, generated) + key, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        other = httpx.get(zurl(server, generated) + key, headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200


def test_json_is_gzipped_when_asked(server, generated):
    r = httpx.get(zurl(server, generated) + "/.zmetadata", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["zarr_consolidated_format"] == 1


@pytest.mark.parametrize("key", [
    "zarr.json", "0/zarr.json", "0/.zgroup", "0/.zattrs", "labels", "labels/.zattrs", ".zarray",
    "99/.zarray", "99/0/0/0/0/0", "0/0/0/9/0/0", "0/1/0/0/0/0", "0/0/1/0/0/0", "OME/METADATA.ome.xml",
])
def test_absent_keys_are_clean_404(server, generated, key):
    r = httpx.get(zurl(server, generated) + "/" + key)
    assert r.status_code == 404
    assert r.json()["status"] == 404
    assert len(r.content) < 400


@pytest.mark.parametrize("key", [
    "0/0/0/x/0/0", "0/00/0/0/0/0", "0/0/0/0", "0/0/0/0/0/0/0", "0/-1/0/0/0/0", "0/0/0/0/0/+1",
    "00/.zarray", "0/0/0/0/0/", "foo", "0/0/0/0/0/0.5",
])
def test_malformed_keys_are_400_with_reason(server, generated, key):
    r = httpx.get(zurl(server, generated) + "/" + key)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "malformed_key" and body["reason"]


def test_unknown_dataset_and_route_are_404(server):
    assert httpx.get(server.url + "/zarr/bad-bad-bad.ome.zarr/.zattrs").status_code == 404
    assert httpx.get(server.url + "/api/datasets/nope").status_code == 404
    assert httpx.get(server.url + "/no/such/route").status_code == 404


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


def test_no_response_contains_a_server_path(server, generated):
    root = str(generated["slices"].path.parent)
    urls = [server.url + "/api/datasets", server.url + "/api/query?q=stack", server.url + "/"]
    for g in (generated[n] for n in ("slices", "tc", "float", "big")):
        urls += [f"{server.url}/api/datasets/{g.dataset_id}", f"{server.url}/api/retrieve?id={g.dataset_id}",
                 f"{server.url}/zarr/{g.dataset_id}.ome.zarr/.zattrs"]
    for url in urls:
        body = httpx.get(url).text
        assert root not in body and "/tmp/" not in body, url


def test_identical_concurrent_requests_compute_once(generated):
    own = Server(generated["_catalog"])  # a fresh server: no other test has warmed its caches
    try:
        url = f"{own.url}/zarr/{generated['big'].dataset_id}.ome.zarr/0/0/0/1/2/3"

        def computed() -> int:
            text = httpx.get(own.url + "/metrics").text
            lines = [ln for ln in text.splitlines() if ln.startswith("transformer_chunks_computed_total")]
            return int(lines[0].split()[-1]) if lines else 0

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            bodies = list(pool.map(lambda _: httpx.get(url).content, range(16)))
        assert len(set(bodies)) == 1
        assert computed() == 1
    finally:
        own.stop()


@pytest.mark.parametrize("damage", ["strips", "ifds"])
def test_corrupt_source_is_5xx_and_others_keep_serving(tmp_path, generated, damage):
    good = tmp_path / "good.tif"
    bad = tmp_path / "bad.tif"
    data = np.arange(40 * 64 * 64, dtype=np.uint16).reshape(40, 64, 64)
    tifffile.imwrite(good, data, metadata={"axes": "ZYX"}, compression="zlib")
    shutil.copy(good, bad)
    catalog = Catalog(tmp_path / "c.sqlite")
    ids = {}
    for p in (good, bad):
        record = describe(p, tmp_path, catalog)
        catalog.put(record)
        ids[p.name] = record.id
    catalog.close()
    raw = bytearray(bad.read_bytes())
    if damage == "strips":  # the header still parses; the deflate streams of page 0 are garbage
        with tifffile.TiffFile(good) as tif:
            page = tif.pages.first
            for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
                raw[offset : offset + count] = b"\x55" * count
    else:  # damage after registration, through the IFD chain
        raw[400 : len(raw) // 2] = b"\x55" * (len(raw) // 2 - 400)
    bad.write_bytes(bytes(raw))
    srv = Server(tmp_path / "c.sqlite")
    try:
        r = httpx.get(f"{srv.url}/zarr/{ids['bad.tif']}.ome.zarr/0/0/0/0/0/0")
        assert 500 <= r.status_code < 600
        body = r.json()
        assert body["error"] == "source_error" and body["reason"]
        assert str(tmp_path) not in r.text
        ok = httpx.get(f"{srv.url}/zarr/{ids['good.tif']}.ome.zarr/0/0/0/0/0/0")
        assert ok.status_code == 200
        assert httpx.get(srv.url + "/healthz").json()["status"] == "ok"
    finally:
        srv.stop()


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
