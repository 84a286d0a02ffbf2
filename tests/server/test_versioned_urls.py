"""Immutable, version-stamped URLs (issue 14), in process: ``{id}@{tag}`` serves the same bytes as the plain
URL with a year-long immutable Cache-Control; a changed record moves the tag and the old URL answers 404 with a
JSON pointer to the current one; Neuroglancer states name the version; access applies before anything."""

from __future__ import annotations

import dataclasses
import io
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
import tifffile

from catalog.scan import register, scan
from catalog.store import Catalog
from tests.helpers import in_process
from transformer.engine.datasets import served_version, source_stamp
from transformer.server.http import IMMUTABLE
from transformer.server.routes.views import RECHECK_AFTER_SECONDS
from writers.registry import installed
from writers.view import version_tag

KEYS = {"zarr": "0/0/0/0/0/0", "zarr3": "0/c/0/0/0/0/0", "precomputed": None}


@pytest.fixture
def stack(tmp_path):
    vol = (np.arange(20 * 40 * 50, dtype=np.uint32) % 65521).astype(np.uint16).reshape(20, 40, 50)
    (tmp_path / "data").mkdir()
    tifffile.imwrite(tmp_path / "data" / "v.tif", vol, metadata={"axes": "ZYX"})
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(tmp_path / "data", catalog)
    (record,) = catalog.all()
    with in_process(db, cache_mb=16) as client:
        yield client, catalog, record
    catalog.close()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_versioned_url_is_immutable_and_equal_to_the_plain_one(stack):
    client, _, record = stack
    body = client.get(f"/api/datasets/{record.id}").json()
    versioned = body["versioned_links"]
    assert set(versioned) == {view.name for view in installed()} | {"cutout"}
    tag = path_of(versioned["zarr"]).rsplit("@", 1)[1].removesuffix(".ome.zarr")
    assert tag == version_tag(record.version) and len(tag) == 16
    for name in ("zarr", "zarr3"):
        key = KEYS[name]
        plain = client.get(f"{path_of(body['links'][name])}/{key}")
        first = client.get(f"{path_of(versioned[name])}/{key}")
        warm = client.get(f"{path_of(versioned[name])}/{key}")  # answered by the warm path
        assert plain.status_code == first.status_code == warm.status_code == 200
        assert first.content == plain.content == warm.content
        assert plain.headers["cache-control"] == "public, max-age=60"
        assert first.headers["cache-control"] == warm.headers["cache-control"] == IMMUTABLE
    doc = client.get(f"{path_of(versioned['zarr'])}/.zattrs")
    assert doc.status_code == 200 and doc.headers["cache-control"] == IMMUTABLE
    assert doc.json() == client.get(f"{path_of(body['links']['zarr'])}/.zattrs").json()
    info = client.get(f"{path_of(versioned['precomputed'])}/info")
    assert info.status_code == 200 and info.headers["cache-control"] == IMMUTABLE


def test_a_changed_record_moves_the_version_and_the_old_url_points_at_the_new(stack):
    client, catalog, record = stack
    old = client.get(f"/api/datasets/{record.id}").json()["versioned_links"]["zarr"]
    assert client.get(f"{path_of(old)}/0/0/0/0/0/0").status_code == 200  # warm now
    register(catalog, dataset_replace(record, title="retitled"))
    new = client.get(f"/api/datasets/{record.id}").json()["versioned_links"]["zarr"]
    assert new != old and new.startswith(old.split("@")[0] + "@")
    for key in ("0/0/0/0/0/0", ".zattrs"):
        stale = client.get(f"{path_of(old)}/{key}")
        assert stale.status_code == 404 and stale.headers["cache-control"] == "no-store"
        assert stale.json()["error"] == "not_found" and stale.json()["current"] == f"{new}/{key}"
        assert client.get(f"{path_of(new)}/{key}").status_code == 200
    state = client.get(f"/api/datasets/{record.id}/neuroglancer").json()["state"]
    assert state["layers"][0]["source"] == f"zarr2://{new}"


def test_access_comes_before_the_version(stack):
    client, catalog, record = stack
    tag = version_tag(record.version)
    register(catalog, dataset_replace(record, access="private"))
    # a private dataset is unknown without a token, whatever version a URL names
    for segment in (f"{record.id}@{tag}", f"{record.id}@0000000000000000"):
        r = client.get(f"/zarr/{segment}.ome.zarr/0/0/0/0/0/0")
        assert r.status_code == 404 and "current" not in r.json()


def test_a_malformed_tag_is_a_stale_version(stack):
    client, _, record = stack
    r = client.get(f"/zarr/{record.id}@nothex.ome.zarr/.zattrs")
    assert r.status_code == 404 and r.json()["current"].endswith(
        f"/zarr/{record.id}@{version_tag(record.version)}.ome.zarr/.zattrs")


def dataset_replace(record, **changes):
    return dataclasses.replace(record, **changes)


def test_a_url_naming_a_newer_version_makes_the_worker_look_at_the_source_now(stack, tmp_path):
    # behind a proxy another worker may have seen the change first and handed out links to the new version
    client, _, record = stack
    old_tag = version_tag(record.version)
    assert client.get(f"/zarr/{record.id}@{old_tag}.ome.zarr/0/0/0/0/0/0").status_code == 200  # open, checked now
    vol = np.full((20, 40, 50), 7, np.uint16)
    tifffile.imwrite(tmp_path / "data" / "v.tif", vol, metadata={"axes": "ZYX"})
    new_tag = version_tag(served_version(record, source_stamp(record)))
    assert new_tag != old_tag
    time.sleep(RECHECK_AFTER_SECONDS)  # not a timing assertion: rechecks are rate-limited per dataset
    fresh = client.get(f"/zarr/{record.id}@{new_tag}.ome.zarr/0/.zarray")
    assert fresh.status_code == 200 and fresh.headers["cache-control"] == IMMUTABLE
    stale = client.get(f"/zarr/{record.id}@{old_tag}.ome.zarr/0/.zarray")
    assert stale.status_code == 404 and f"@{new_tag}.ome.zarr/0/.zarray" in stale.json()["current"]


def test_cutouts_answer_under_the_version_like_the_views(stack):
    client, catalog, record = stack
    links = client.get(f"/api/datasets/{record.id}").json()
    versioned = path_of(links["versioned_links"]["cutout"])
    assert versioned == f"/api/datasets/{record.id}@{version_tag(record.version)}/cutout"
    box = "?level=0&z=3:9&y=5:30&x=0:50"
    plain = client.get(f"{path_of(links['links']['cutout'])}{box}")
    first = client.get(f"{versioned}{box}")
    assert plain.status_code == first.status_code == 200 and first.content == plain.content
    expected = (np.arange(20 * 40 * 50, dtype=np.uint32) % 65521).astype(np.uint16).reshape(20, 40, 50)[3:9, 5:30]
    assert np.array_equal(np.load(io.BytesIO(first.content))[0, 0], expected)
    assert plain.headers["cache-control"] == "no-store" and first.headers["cache-control"] == IMMUTABLE
    assert client.get(f"/api/datasets/{record.id}@nothex/cutout{box}").json()["current"].endswith(
        f"{versioned}{box}")
    register(catalog, dataset_replace(record, title="retitled"))
    stale = client.get(f"{versioned}{box}")
    new = client.get(f"/api/datasets/{record.id}").json()["versioned_links"]["cutout"]
    assert new != links["versioned_links"]["cutout"]
    assert stale.status_code == 404 and stale.headers["cache-control"] == "no-store"
    assert stale.json()["current"] == f"{new}{box}"
    assert client.get(f"{path_of(new)}{box}").content == plain.content
    register(catalog, dataset_replace(record, access="embargoed", embargo_until="2099-01-01"))
    assert client.get(f"{path_of(new)}{box}").status_code == 401  # access comes before the version
