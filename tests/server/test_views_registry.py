"""Adding a view is one object: a tiny extra view, defined here, is served, linked from every record and
answered from the warm path without touching the server's code."""

from __future__ import annotations

from collections.abc import Hashable, Iterator

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.helpers import in_process
from writers.errors import MalformedKey
from writers.keys import chunk_index, level_index
from writers.registry import installed
from writers.spec import ImageSpec
from writers.view import Chunk, Document, ReadBlock, View, ViewOptions


class RawView(View):
    """``/raw/{id}/shape`` (JSON) and ``/raw/{id}/{level}/{t}.{c}.{z}.{y}.{x}``: the decoded block's bytes,
    little-endian, C order, clipped at the volume edge."""

    name = "raw"
    prefix = "/raw"

    def parse(self, key: str, spec: ImageSpec) -> Document | Chunk:
        if key == "shape":
            return Document("shape")
        level, _, name = key.partition("/")
        if not name:
            raise MalformedKey(f"{key!r}: expected shape or {{level}}/{{t}}.{{c}}.{{z}}.{{y}}.{{x}}")
        index = level_index(level, key, spec)
        return Chunk(index, chunk_index(name.split("."), key, spec, index))

    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        return key.name if isinstance(key, Document) else f"{key.level}/" + ".".join(map(str, key.index))

    def document(self, key: Document, spec: ImageSpec, options: ViewOptions) -> dict:
        return {"shapes": [list(level.shape) for level in spec.levels], "dtype": spec.dtype}

    def chunk_identity(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> Hashable:
        return key.level, key.index

    def encode(self, key: Chunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        block = read(key.level, key.index)
        return np.ascontiguousarray(block, block.dtype.newbyteorder("<")).tobytes()


@pytest.fixture(scope="module")
def raw_client(generated) -> Iterator[TestClient]:
    with in_process(generated["_catalog"], views=(*installed(), RawView()), cache_mb=64) as client:
        yield client


def counters(client: TestClient) -> dict[str, float]:
    out = {}
    for line in client.get("/metrics").text.splitlines():
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_extra_view_serves_documents_and_chunks(raw_client, generated):
    g = generated["big"]
    shape = raw_client.get(f"/raw/{g.dataset_id}/shape")
    assert shape.status_code == 200 and shape.headers["content-type"] == "application/json"
    assert shape.json()["shapes"][0] == list(g.data.shape) and shape.json()["dtype"] == "uint16"
    r = raw_client.get(f"/raw/{g.dataset_id}/0/0.0.1.4.4")  # the last chunk in y and x: clipped
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    expected = g.data[0:1, 0:1, 64:70, 256:300, 256:261]
    np.testing.assert_array_equal(np.frombuffer(r.content, "<u2").reshape(expected.shape), expected)
    assert raw_client.get(f"/raw/{g.dataset_id}/0/0.0.2.0.0").status_code == 404  # outside the grid
    assert raw_client.get(f"/raw/{g.dataset_id}/0/0.0.01.0.0").status_code == 400  # not canonical


def test_extra_view_is_linked_from_records(raw_client, generated):
    g = generated["big"]
    links = raw_client.get(f"/api/datasets/{g.dataset_id}").json()["links"]
    assert list(links) == ["self", "zarr", "zarr3", "precomputed", "zarr3-sharded", "raw", "neuroglancer", "cutout"]
    assert links["raw"] == f"http://testserver/raw/{g.dataset_id}"
    listed = raw_client.get("/api/datasets", params={"limit": 1000}).json()["datasets"]
    assert {d["id"]: d["links"]["raw"] for d in listed}[g.dataset_id] == links["raw"]


def test_extra_view_is_answered_from_the_warm_path(raw_client, generated):
    url = f"/raw/{generated['slices'].dataset_id}/1/0.0.0.0.0"
    first = raw_client.get(url)
    assert first.status_code == 200
    before = counters(raw_client)
    again = raw_client.get(url)
    after = counters(raw_client)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    for name in ("transformer_chunks_computed_total", "transformer_chunk_cache_hits_total"):
        assert after.get(name, 0) == before.get(name, 0), name  # FastChunks answered before routing
    hits = 'transformer_cache_hits{cache="responses"}'
    assert after[hits] == before[hits] + 1


def test_a_view_neuroglancer_cannot_open_is_no_source(raw_client, generated):
    r = raw_client.get(f"/api/datasets/{generated['big'].dataset_id}/neuroglancer", params={"source": "raw"})
    assert r.status_code == 400
    assert r.json()["reason"] == "source='raw': choose one of zarr, zarr3, precomputed, zarr3-sharded"


def test_the_default_app_serves_installed_views_only(client, generated):
    assert client.get(f"/raw/{generated['big'].dataset_id}/shape").status_code == 404
    links = client.get(f"/api/datasets/{generated['big'].dataset_id}").json()["links"]
    assert list(links) == ["self", "zarr", "zarr3", "precomputed", "zarr3-sharded", "neuroglancer", "cutout"]
