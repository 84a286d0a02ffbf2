"""Range reads by a strict client on a real server: tensorstore's http kvstore reads byte ranges (offset and
suffix) of every view's documents and chunks and of S3 objects, cold and then warm, and gets the same bytes as
a whole download cut locally (tensorstore checks Content-Range exactly)."""

from __future__ import annotations

import httpx
import pytest

from tests.require import module

ts = module("tensorstore")


def keys(generated) -> list[str]:
    big = generated["big"].dataset_id
    return [f"zarr/{big}.ome.zarr/0/0/0/0/0/0", f"zarr3/{big}.ome.zarr/0/c/0/0/0/0/0", f"zarr/{big}.ome.zarr/.zattrs",
            f"precomputed/{big}/info", f"precomputed/{big}/1/0-64_0-64_0-35", f"zarr3/{big}.ome.zarr/zarr.json",
            f"s3/zarr/{big}.ome.zarr/1/0/0/0/0/0", f"s3/precomputed/{big}/0/0-64_0-64_0-64"]


@pytest.mark.parametrize("which", range(8))
def test_tensorstore_reads_byte_ranges(server, generated, which):
    key = keys(generated)[which]
    store = ts.KvStore.open({"driver": "http", "base_url": server.url + "/"}).result()
    for _ in range(2):  # cold, then from the warm path
        head = store.read(key, byte_range=slice(3, 40)).result()
        tail = store.read(key, byte_range=slice(-25, None)).result()
        whole = httpx.get(f"{server.url}/{key}", headers={"Accept-Encoding": "identity"}).content
        assert (head.state, tail.state) == ("value", "value")
        assert head.value == whole[3:40] and tail.value == whole[-25:]


def test_ranged_head_on_the_wire(server, generated):
    url = f"{server.url}/{keys(generated)[0]}"
    whole = httpx.get(url, headers={"Accept-Encoding": "identity"})
    r = httpx.head(url, headers={"Range": "bytes=-100"})
    assert r.status_code == 206 and r.content == b"" and r.headers["content-length"] == "100"
    n = len(whole.content)
    assert r.headers["content-range"] == f"bytes {n - 100}-{n - 1}/{n}"


def test_ranged_cutout_on_the_wire(server, generated):
    """A resumed .npy download: the tail from an offset, over uvicorn, equals the whole file's tail."""
    url = f"{server.url}/api/datasets/{generated['big'].dataset_id}/cutout?format=npy&z=0:20"
    whole = httpx.get(url, timeout=60).content
    r = httpx.get(url, headers={"Range": f"bytes={len(whole) // 3}-"}, timeout=60)
    assert r.status_code == 206 and r.content == whole[len(whole) // 3:]
