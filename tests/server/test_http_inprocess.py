"""HTTP semantics every client relies on, checked in process (starlette's TestClient, no socket):
CORS, HEAD, ETag/304, Cache-Control, gzip, 404 vs 400 vs 405 vs 5xx, health and metrics, no path leaks.

What needs a real socket and HTTP parser (keep-alive, raw paths, real clients) stays in
tests/test_http_semantics.py and the client tests."""

from __future__ import annotations

import concurrent.futures
import re
import shutil

import numcodecs
import numpy as np
import pytest
import tifffile

from catalog.scan import describe
from catalog.store import Catalog
from tests.helpers import in_process


def zpath(generated, name="big") -> str:
    return f"/zarr/{generated[name].dataset_id}.ome.zarr"


def test_cors_on_get_and_errors(client, generated):
    own = zpath(generated) + "/.zattrs"
    for url in ("/api/datasets", "/zarr/nope.ome.zarr/.zattrs", own, "/no/such/route", own + "x"):
        r = client.get(url, headers={"Origin": "http://viewer.example"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "etag" in r.headers["access-control-expose-headers"].lower()


def test_options_preflight(client, generated):
    r = client.options(zpath(generated) + "/0/.zarray", headers={
        "Origin": "http://viewer.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert r.status_code == 204 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert int(r.headers["access-control-max-age"]) > 0
    assert "range" in r.headers["access-control-allow-headers"]


def test_head_matches_get(client, generated):
    url = zpath(generated) + "/0/0/0/0/0/0"
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert int(head.headers["content-length"]) == len(get.content)


def test_etag_and_304(client, generated):
    for key in ("/.zattrs", "/0/.zarray", "/1/0/0/0/0/0"):
        r = client.get(zpath(generated) + key)
        assert r.status_code == 200 and r.headers["etag"] and "max-age" in r.headers["cache-control"]
        again = client.get(zpath(generated) + key, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        other = client.get(zpath(generated) + key, headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200


@pytest.mark.parametrize("url,cache_control", [
    ("{z}/0/0/0/0/0/0", "public, max-age=60"),  # unversioned: follows the source (issue 14)
    ("{z}/0/.zarray", "public, max-age=60"),
    ("/api/datasets", "public, max-age=60"),
    ("/healthz", "public, max-age=0"),
    ("/metrics", "no-store"),
    ("{z}/zarr.json", "no-store"),  # errors are never cached
    ("{z}/0/0/0/x/0/0", "no-store"),
])
def test_cache_control(client, generated, url, cache_control):
    r = client.get(url.format(z=zpath(generated)))
    assert r.headers["cache-control"] == cache_control


def test_json_is_gzipped_when_asked(client, generated):
    r = client.get(zpath(generated) + "/.zmetadata", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.json()["zarr_consolidated_format"] == 1
    plain = client.get(zpath(generated) + "/.zmetadata", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    assert plain.headers["etag"] != r.headers["etag"]  # two representations, two validators


@pytest.mark.parametrize("key", [
    "zarr.json", "0/zarr.json", "0/.zgroup", "0/.zattrs", "labels", "labels/.zattrs", ".zarray",
    "99/.zarray", "99/0/0/0/0/0", "0/0/0/9/0/0", "0/1/0/0/0/0", "0/0/1/0/0/0", "OME/METADATA.ome.xml",
])
def test_absent_keys_are_clean_404(client, generated, key):
    r = client.get(zpath(generated) + "/" + key)
    assert r.status_code == 404
    assert r.json()["status"] == 404
    assert len(r.content) < 400


@pytest.mark.parametrize("key", [
    "0/0/0/x/0/0", "0/00/0/0/0/0", "0/0/0/0", "0/0/0/0/0/0/0", "0/-1/0/0/0/0", "0/0/0/0/0/+1",
    "00/.zarray", "0/0/0/0/0/", "foo", "0/0/0/0/0/0.5",
])
def test_malformed_keys_are_400_with_reason(client, generated, key):
    r = client.get(zpath(generated) + "/" + key)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "malformed_key" and body["reason"]


def test_unknown_dataset_and_route_are_404(client):
    assert client.get("/zarr/bad-bad-bad.ome.zarr/.zattrs").status_code == 404
    assert client.get("/api/datasets/nope").status_code == 404
    r = client.get("/no/such/route")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "reason": "no route for '/no/such/route'", "status": 404}


@pytest.mark.parametrize("url,status,error", [
    ("/zarr3/ID.ome.zarr/.zattrs", 404, "not_found"),  # a v2 probe on the v3 view
    ("/zarr3/ID.ome.zarr/9/zarr.json", 404, "not_found"),
    ("/zarr3/ID.ome.zarr/0/c/0/0/9/0/0", 404, "not_found"),  # outside the chunk grid
    ("/zarr3/ID.ome.zarr/0/c/0/0/x/0/0", 400, "malformed_key"),
    ("/zarr3/nope.ome.zarr/zarr.json", 404, "not_found"),
    ("/precomputed/ID/provenance", 404, "not_found"),  # a probe Neuroglancer makes
    ("/precomputed/ID/9/0-64_0-64_0-64", 404, "not_found"),
    ("/precomputed/ID/0/0-64_0-64_640-704", 404, "not_found"),  # past the volume in z
    ("/precomputed/ID/0/0-64_0-64_0-63", 400, "malformed_key"),  # not on the chunk grid
    ("/precomputed/ID/nope", 400, "malformed_key"),
    ("/precomputed/nope/info", 404, "not_found"),
    ("/neuroglancer/nope", 404, "not_found"),
])
def test_other_views_answer_errors_the_same_way(client, generated, url, status, error):
    r = client.get(url.replace("ID", generated["big"].dataset_id))
    assert r.status_code == status, r.text
    assert r.headers["cache-control"] == "no-store" and r.headers["access-control-allow-origin"] == "*"
    body = r.json()
    assert body["status"] == status and body["error"] == error and body["reason"]
    assert str(generated["big"].path.parent) not in r.text


@pytest.mark.parametrize("method,url", [
    ("POST", "{z}/.zattrs"), ("PUT", "{z}/0/0/0/0/0/0"), ("DELETE", "/api/datasets"), ("PATCH", "/healthz"),
])
def test_writes_are_405(client, generated, method, url):
    r = client.request(method, url.format(z=zpath(generated)))
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "method_not_allowed", "reason": f"{method} is not allowed here", "status": 405}


def test_healthz_counts_the_datasets(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "datasets": 4}


def test_metrics_are_prometheus_text(client, generated):
    client.get(zpath(generated) + "/0/0/0/0/0/1")  # at least one chunk computed or served
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    sample = re.compile(r'^transformer_[a-z_]+(\{cache="[a-z]+"\})? -?\d+(\.\d+)?$')
    lines = r.text.splitlines()
    assert lines and all(sample.match(line) for line in lines), r.text
    names = {line.split()[0] for line in lines}
    for cache in ("blocks", "parts", "encoded", "responses"):
        assert f'transformer_cache_budget{{cache="{cache}"}}' in names
    assert "transformer_inflight" in names
    budget = sum(int(line.split()[1]) for line in lines if line.startswith("transformer_cache_budget"))
    assert budget == 64 * 1024 * 1024  # the four caches share --cache-mb exactly


def test_no_response_contains_a_server_path(client, generated):
    root = str(generated["slices"].path.parent)
    urls = ["/api/datasets", "/api/query?q=stack", "/", "/no/such/route", "/api/retrieve"]
    for g in (generated[n] for n in ("slices", "tc", "float", "big")):
        z = f"/zarr/{g.dataset_id}.ome.zarr"
        urls += [f"/api/datasets/{g.dataset_id}", f"/api/retrieve?id={g.dataset_id}", f"{z}/.zattrs",
                 f"{z}/zarr.json", f"{z}/0/0/0/x/0/0", f"{z}/99/0/0/0/0/0"]  # a 200, a 404, a 400, a 404
    for url in urls:
        body = client.get(url).text
        assert root not in body and "/tmp/" not in body, url
    body = client.post(zpath(generated) + "/.zattrs").text
    assert root not in body and "/tmp/" not in body


def test_identical_concurrent_requests_compute_once(generated):
    with in_process(generated["_catalog"]) as own:  # a fresh app: no other test has warmed its caches
        url = f"/zarr/{generated['big'].dataset_id}.ome.zarr/0/0/0/1/2/3"

        def computed() -> int:
            text = own.get("/metrics").text
            lines = [ln for ln in text.splitlines() if ln.startswith("transformer_chunks_computed_total")]
            return int(lines[0].split()[-1]) if lines else 0

        assert computed() == 0
        with concurrent.futures.ThreadPoolExecutor(16) as pool:  # one event loop serves all 16 at once
            bodies = list(pool.map(lambda _: own.get(url).content, range(16)))
        assert len(set(bodies)) == 1
        assert computed() == 1


@pytest.mark.parametrize("damage", ["strips", "ifds"])
def test_corrupt_source_is_5xx_and_others_keep_serving(tmp_path, damage):
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
    with in_process(tmp_path / "c.sqlite") as client:
        r = client.get(f"/zarr/{ids['bad.tif']}.ome.zarr/0/0/0/0/0/0")
        assert 500 <= r.status_code < 600
        body = r.json()
        assert body["error"] == "source_error" and body["reason"]
        assert str(tmp_path) not in r.text
        ok = client.get(f"/zarr/{ids['good.tif']}.ome.zarr/0/0/0/0/0/0")
        assert ok.status_code == 200
        chunk = np.frombuffer(numcodecs.Blosc().decode(ok.content), "<u2")
        np.testing.assert_array_equal(chunk.reshape(data.shape), data)  # one chunk holds the whole volume
        assert client.get("/healthz").json()["status"] == "ok"

