"""Catalog: scan, sidecars, stable ids, full-text search and filters, API aliases, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from catalog.ids import dataset_id, looks_like_id
from catalog.scan import scan
from catalog.store import Catalog, fts_query
from tests.conftest import make_datasets


def test_ids_are_pronounceable_triplets_and_stable():
    a = dataset_id("/data/brain1")
    assert looks_like_id(a) and a == dataset_id("/data/brain1")
    assert a != dataset_id("/data/brain2")
    assert dataset_id("/data/brain1", attempt=1) != a


def test_scan_registers_and_ids_survive_a_new_catalog(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    make_datasets(root)
    first = Catalog(tmp_path / "one.sqlite")
    report = scan(root, first)
    assert len(report.added) == 4 and not report.refused
    second = Catalog(tmp_path / "two.sqlite")
    scan(root, second)
    assert sorted(r.id for r in first.all()) == sorted(r.id for r in second.all())
    # rescanning the same catalog keeps ids and does not duplicate
    scan(root, first)
    assert len(first.all()) == 4


def test_sidecar_metadata_is_applied(server, generated):
    g = generated["slices"]
    record = httpx.get(f"{server.url}/api/datasets/{g.dataset_id}").json()
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


def test_full_text_search_and_filters(server, generated):
    def ids(query: str) -> set[str]:
        body = httpx.get(f"{server.url}/api/datasets?{query}").json()
        return {d["id"] for d in body["datasets"]}

    assert ids("q=hippocampus") == {generated["slices"].dataset_id}
    assert ids("q=hippo") == {generated["slices"].dataset_id}  # prefix match
    assert ids("q=lovelace") == {generated["slices"].dataset_id}
    assert ids("q=cortex%20series") == {generated["tc"].dataset_id}
    assert ids("species=danio%20rerio") == {generated["tc"].dataset_id}
    assert ids("technique=light-sheet") == {generated["slices"].dataset_id}
    assert ids("q=nothing-matches-this") == set()
    assert ids("q=%22%2A%28)%3A") == set()  # FTS syntax characters are not an error
    everything = httpx.get(f"{server.url}/api/datasets").json()
    assert everything["total"] == 4 and "manifest" not in everything["datasets"][0]
    page = httpx.get(f"{server.url}/api/datasets?limit=2&offset=1").json()
    assert len(page["datasets"]) == 2 and page["total"] == 4


def test_bil_aliases(server, generated):
    g = generated["tc"]
    assert {d["id"] for d in httpx.get(f"{server.url}/api/query?q=cortex").json()["datasets"]} == {g.dataset_id}
    one = httpx.get(f"{server.url}/api/retrieve?id={g.dataset_id}").json()
    assert one["id"] == g.dataset_id and one["title"] == "Cortex time series"
    assert httpx.get(f"{server.url}/api/retrieve").status_code == 400


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "limit=100000"])
def test_bad_paging_is_400(server, query):
    r = httpx.get(f"{server.url}/api/datasets?{query}")
    assert r.status_code == 400 and r.json()["reason"]


def test_fts_query_quotes_words():
    assert fts_query('brain "OR" NEAR(') == '"brain"* "OR"* "NEAR"*'


def test_cli_add_info_scan(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    made = make_datasets(root)
    db = str(tmp_path / "cli.sqlite")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "transformer.cli", "--catalog", db, *args],
                              capture_output=True, text=True, check=False)

    added = cli("add", str(made["float"].path), "--title", "Float stack", "--meta", "species=Homo sapiens",
                "--meta", "voxel_size=2,1,1")
    assert added.returncode == 0, added.stderr
    new_id = added.stdout.strip()
    info = json.loads(cli("info", new_id).stdout)
    assert info["title"] == "Float stack" and info["species"] == "Homo sapiens"
    assert info["voxel_size"] == [2.0, 1.0, 1.0] and "source" not in info
    scanned = cli("scan", str(root))
    assert scanned.returncode == 0
    assert len(scanned.stdout.strip().splitlines()) == 4
    assert "datasets" in scanned.stderr  # progress line
    assert cli("info", "nob-ody-her").returncode == 1
    bad = cli("add", str(root / "missing.tif"))
    assert bad.returncode != 0


def test_channels_without_a_window_get_one_from_a_sample(server, generated):
    g = generated["slices"]
    record = httpx.get(f"{server.url}/api/datasets/{g.dataset_id}").json()
    start, end = record["channels"][0]["window"]
    assert g.data.min() <= start < end <= g.data.max()
    omero = httpx.get(f"{server.url}/zarr/{g.dataset_id}.ome.zarr/.zattrs").json()["omero"]["channels"][0]
    assert (omero["window"]["start"], omero["window"]["end"]) == (start, end)
    assert (omero["window"]["min"], omero["window"]["max"]) == (0, 65535)
