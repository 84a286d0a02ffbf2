"""The catalog as the HTTP API shows it (in process): sidecar metadata, search and filters, BIL aliases,
paging errors, display windows."""

from __future__ import annotations

import pytest


def test_sidecar_metadata_is_applied(client, generated):
    g = generated["slices"]
    record = client.get(f"/api/datasets/{g.dataset_id}").json()
    assert record["title"] == "Odd anisotropic stack"
    assert record["species"] == "Mus musculus"
    assert record["voxel_size"] == [3.0, 0.5, 0.5]
    assert record["voxel_size_source"] == "metadata"
    assert record["contributors"] == ["Ada Lovelace", "Santiago Ramon y Cajal"]
    assert record["shape"] == [1, 1, 37, 101, 133] and record["dtype"] == "uint16"
    assert record["format"] == "tiff-slices"
    assert len(record["manifest"]) == 37 and record["byte_size"] == sum(m["size"] for m in record["manifest"])
    assert record["links"]["zarr"].endswith(f"/zarr/{g.dataset_id}.ome.zarr")
    assert [lv["shape"] for lv in record["levels"]][0] == [1, 1, 37, 101, 133]


def test_full_text_search_and_filters(client, generated):
    def ids(query: str) -> set[str]:
        body = client.get(f"/api/datasets?{query}").json()
        return {d["id"] for d in body["datasets"]}

    assert ids("q=hippocampus") == {generated["slices"].dataset_id}
    assert ids("q=hippo") == {generated["slices"].dataset_id}  # prefix match
    assert ids("q=lovelace") == {generated["slices"].dataset_id}
    assert ids("q=cortex%20series") == {generated["tc"].dataset_id}
    assert ids("species=danio%20rerio") == {generated["tc"].dataset_id}
    assert ids("technique=light-sheet") == {generated["slices"].dataset_id}
    assert ids("q=nothing-matches-this") == set()
    assert ids("q=%22%2A%28)%3A") == set()  # FTS syntax characters are not an error
    everything = client.get("/api/datasets").json()
    assert everything["total"] == 4 and "manifest" not in everything["datasets"][0]
    page = client.get("/api/datasets?limit=2&offset=1").json()
    assert len(page["datasets"]) == 2 and page["total"] == 4


def test_bil_aliases(client, generated):
    g = generated["tc"]
    assert {d["id"] for d in client.get("/api/query?q=cortex").json()["datasets"]} == {g.dataset_id}
    one = client.get(f"/api/retrieve?id={g.dataset_id}").json()
    assert one["id"] == g.dataset_id and one["title"] == "Cortex time series"
    assert client.get("/api/retrieve").status_code == 400


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=100000"])
def test_bad_paging_is_400(client, query):
    r = client.get(f"/api/datasets?{query}")
    assert r.status_code == 400 and r.json()["reason"]


def test_channels_without_a_window_get_one_from_a_sample(client, generated):
    g = generated["slices"]
    record = client.get(f"/api/datasets/{g.dataset_id}").json()
    start, end = record["channels"][0]["window"]
    assert g.data.min() <= start < end <= g.data.max()
    omero = client.get(f"/zarr/{g.dataset_id}.ome.zarr/.zattrs").json()["omero"]["channels"][0]
    assert (omero["window"]["start"], omero["window"]["end"]) == (start, end)
    assert (omero["window"]["min"], omero["window"]["max"]) == (0, 65535)
