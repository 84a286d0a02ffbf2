"""The catalog store on an in-memory SQLite database: records round trip, replace, remove, search, paging."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.record import Record
from catalog.store import Catalog


def record(id: str, source: str, **descriptive) -> Record:
    return Record(id=id, source=source, reader="tiff", format="tiff", title=descriptive.pop("title", id),
                  shape=[1, 1, 4, 8, 8], dtype="uint8", voxel_size=[1.0, 1.0, 1.0], channels=[{"name": "c"}],
                  native_levels=1, byte_size=256, **descriptive)


@pytest.fixture
def store() -> Iterator[Catalog]:
    db = Catalog(":memory:")
    db.put(record("aaa-bbb-ccc", "/data/cortex", title="Mouse cortex", species="Mus musculus",
                  technique="Light-sheet", contributors=["Ada Lovelace"]))
    db.put(record("ddd-eee-fff", "/data/fish", title="Zebrafish brain", species="Danio rerio",
                  technique="confocal", description="whole brain, cortex-free"))
    db.put(record("ggg-hhh-iii", "/data/secret", title="Unpublished cortex", public=False))
    yield db
    db.close()


def ids(found: tuple[int, list[Record]]) -> list[str]:
    return [r.id for r in found[1]]


def test_put_and_get_round_trip_every_field(store):
    got = store.get("aaa-bbb-ccc")
    assert got == record("aaa-bbb-ccc", "/data/cortex", title="Mouse cortex", species="Mus musculus",
                         technique="Light-sheet", contributors=["Ada Lovelace"])
    assert store.get("nob-ody-her") is None
    assert store.id_for_source("/data/fish") == "ddd-eee-fff" and store.id_for_source("/nowhere") is None
    assert [r.id for r in store.all()] == ["aaa-bbb-ccc", "ddd-eee-fff", "ggg-hhh-iii"]


def test_public_dict_never_has_the_source(store):
    public = store.get("aaa-bbb-ccc").public_dict()
    assert "source" not in public and public["id"] == "aaa-bbb-ccc" and public["title"] == "Mouse cortex"


def test_put_replaces_by_id_and_by_source(store):
    store.put(record("aaa-bbb-ccc", "/data/cortex", title="Mouse cortex, rescanned"))
    assert store.get("aaa-bbb-ccc").title == "Mouse cortex, rescanned"
    assert ids(store.search("rescanned")) == ["aaa-bbb-ccc"]
    store.put(record("jjj-kkk-lll", "/data/fish", title="Zebrafish, new id"))  # same source, new id
    assert store.get("ddd-eee-fff") is None and store.id_for_source("/data/fish") == "jjj-kkk-lll"
    assert ids(store.search("zebrafish")) == ["jjj-kkk-lll"]  # the old full-text row is gone too
    assert len(store.all()) == 3


def test_remove(store):
    assert store.remove("ddd-eee-fff") is True
    assert store.remove("ddd-eee-fff") is False
    assert store.get("ddd-eee-fff") is None
    assert ids(store.search("zebrafish")) == []


def test_search_full_text_filters_and_privacy(store):
    assert ids(store.search("cortex")) == ["aaa-bbb-ccc", "ddd-eee-fff"]  # title before description
    assert ids(store.search("cort")) == ["aaa-bbb-ccc", "ddd-eee-fff"]  # every word is a prefix
    assert ids(store.search("mouse cortex")) == ["aaa-bbb-ccc"]  # every word must match
    assert ids(store.search("lovelace")) == ["aaa-bbb-ccc"]
    assert ids(store.search(species="MUS MUSCULUS")) == ["aaa-bbb-ccc"]  # filters ignore case
    assert ids(store.search(technique="light-sheet")) == ["aaa-bbb-ccc"]
    assert ids(store.search("brain", species="danio rerio")) == ["ddd-eee-fff"]
    assert ids(store.search("brain", species="mus musculus")) == []
    assert ids(store.search('"*():')) == []  # FTS syntax is quoted away, never an error
    assert ids(store.search("unpublished")) == []
    assert ids(store.search("unpublished", include_private=True)) == ["ggg-hhh-iii"]


def test_search_pages_report_the_total(store):
    assert store.search() == (2, store.search(limit=10)[1])
    total, page = store.search(limit=1, offset=1)
    assert total == 2 and [r.id for r in page] == ["ddd-eee-fff"]
    assert store.search(limit=5, offset=9) == (2, [])
    assert store.search(include_private=True)[0] == 3
