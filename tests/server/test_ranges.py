"""HTTP Range on every view (transformer/server/ranges.py): 206 + Content-Range, suffixes, 416, several ranges
answered whole, If-Range, no gzip on ranged requests, cold and warm paths alike."""

from __future__ import annotations

import pytest

from transformer.server.ranges import Unsatisfiable, plan


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, (0, 10)),
    ("bytes=90-", 100, (90, 100)),
    ("bytes=-10", 100, (90, 100)),
    ("bytes=-500", 100, (0, 100)),
    ("bytes=50-1000", 100, (50, 100)),
    ("bytes=99-99", 100, (99, 100)),
    ("bytes=0-1,5-6", 100, None),  # several ranges: the whole body
    ("bytes=5-1", 100, None),  # an invalid spec is ignored
    ("items=0-1", 100, None),
    ("bytes=-", 100, None),
    ("bytes=a-b", 100, None),
])
def test_plan(header, size, expected):
    assert plan(header, None, '"e"', size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=200-300", 100), ("bytes=-0", 100),
                                               ("bytes=-5", 0)])
def test_plan_unsatisfiable(header, size):
    with pytest.raises(Unsatisfiable):
        plan(header, None, '"e"', size)


def test_if_range():
    assert plan("bytes=0-1", '"e"', '"e"', 10) == (0, 2)
    assert plan("bytes=0-1", '"other"', '"e"', 10) is None
    assert plan("bytes=0-1", 'W/"e"', '"e"', 10) is None  # weak tags never match If-Range
    assert plan("bytes=0-1", "Sun, 06 Dec 2026 12:00:00 GMT", '"e"', 10) is None


def _keys(generated):
    big = generated["big"].dataset_id
    return [f"/zarr/{big}.ome.zarr/0/0/0/0/0/0", f"/zarr3/{big}.ome.zarr/0/c/0/0/0/0/0",
            f"/precomputed/{big}/0/0-64_0-64_0-64", f"/zarr/{big}.ome.zarr/.zattrs",
            f"/zarr3/{big}.ome.zarr/zarr.json", f"/precomputed/{big}/info"]


@pytest.mark.parametrize("which", range(6))
def test_range_on_every_view(client, generated, which):
    path = _keys(generated)[which]
    whole = client.get(path, headers={"Accept-Encoding": "identity"})
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    body, n = whole.content, len(whole.content)
    for _ in range(2):  # cold, then warm (the fast path's own cut for chunks)
        r = client.get(path, headers={"Range": "bytes=0-9", "Accept-Encoding": "gzip"})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes 0-9/{n}"
        assert r.headers["content-length"] == "10" and "content-encoding" not in r.headers
        assert r.content == body[:10]
        assert r.headers["etag"] == whole.headers["etag"]
    r = client.get(path, headers={"Range": "bytes=-7"})
    assert (r.status_code, r.content, r.headers["content-range"]) == (206, body[-7:], f"bytes {n - 7}-{n - 1}/{n}")
    r = client.get(path, headers={"Range": f"bytes={n - 3}-"})
    assert (r.status_code, r.content) == (206, body[-3:])
    r = client.get(path, headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
    assert r.json()["error"] == "range_not_satisfiable"
    r = client.get(path, headers={"Range": "bytes=0-1,4-5", "Accept-Encoding": "identity"})
    assert (r.status_code, r.content) == (200, body)
    r = client.get(path, headers={"Range": "bytes=0-1", "If-Range": '"stale"', "Accept-Encoding": "identity"})
    assert (r.status_code, r.content) == (200, body)
    r = client.get(path, headers={"Range": "bytes=2-4", "If-Range": whole.headers["etag"]})
    assert (r.status_code, r.content) == (206, body[2:5])
    r = client.get(path, headers={"Range": "bytes=0-1", "If-None-Match": whole.headers["etag"]})
    assert r.status_code == 304  # conditionals before Range


def test_ranged_gzip_client_then_whole(client, generated):
    """A ranged request from a gzip client must not leave an identity body where gzip answers are kept."""
    path = f"/precomputed/{generated['float'].dataset_id}/0/0-64_0-64_0-21"
    r = client.get(path, headers={"Range": "bytes=0-3", "Accept-Encoding": "gzip"})
    assert r.status_code == 206 and len(r.content) == 4
    whole = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert whole.status_code == 200 and whole.headers["content-encoding"] == "gzip"


def test_preflight_allows_range(client, generated):
    r = client.options(_keys(generated)[0], headers={"Origin": "https://x.example",
                                                    "Access-Control-Request-Method": "GET",
                                                    "Access-Control-Request-Headers": "range"})
    assert r.status_code == 204 and "range" in r.headers["access-control-allow-headers"].lower()
    r = client.get(_keys(generated)[0], headers={"Origin": "https://x.example", "Range": "bytes=-4"})
    exposed = r.headers["access-control-expose-headers"]
    assert "Content-Range" in exposed and "Accept-Ranges" in exposed


@pytest.mark.parametrize("fmt", ["npy", "h5"])
def test_range_on_cutouts(client, generated, fmt):
    """npy and HDF5 cutouts send Content-Length and the same bytes each time, so they take a Range too (resumed
    downloads): the bytes of the whole file."""
    path = f"/api/datasets/{generated['tc'].dataset_id}/cutout?format={fmt}&z=0:7&y=5:50"
    whole = client.get(path)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    body, n = whole.content, len(whole.content)
    for header, expected in (("bytes=0-99", body[:100]), (f"bytes={n - 1000}-", body[-1000:]),
                             ("bytes=-77", body[-77:]), ("bytes=300-4299", body[300:4300])):
        r = client.get(path, headers={"Range": header})
        assert r.status_code == 206 and r.content == expected, header
        assert r.headers["content-length"] == str(len(expected))
    r = client.get(path, headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
    r = client.get(path, headers={"Range": "bytes=0-1", "If-Range": '"x"'})
    assert (r.status_code, r.content) == (200, body)


def test_no_range_on_ome_tiff_cutouts(client, generated):
    """Each OME-TIFF file has a UUID of its own: a range of one download spliced onto another would be corrupt."""
    path = f"/api/datasets/{generated['tc'].dataset_id}/cutout?format=tiff&z=0:2"
    r = client.get(path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 200 and len(r.content) == int(r.headers["content-length"]) > 10
