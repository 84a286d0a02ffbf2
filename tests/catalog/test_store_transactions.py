"""Catalog writes are one transaction each: a write that fails half-way leaves neither half behind and the
shared connection usable (a failure used to leave it inside an open transaction, so every later write failed).

The failure is real SQLite: a trigger, added through a second connection to the same file, aborts the insert or
delete of one chosen id, after the write's first statements ran.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.store import Catalog
from tests.catalog.test_store import ids, record


def inject(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as other:
        other.execute(sql)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Catalog]:
    db = Catalog(tmp_path / "catalog.sqlite")
    db.put(record("aaa-bbb-ccc", "/data/cortex", title="Mouse cortex"))
    db.put(record("ddd-eee-fff", "/data/fish", title="Zebrafish brain"))
    inject(db.path, "CREATE TRIGGER fail_insert BEFORE INSERT ON datasets WHEN NEW.title LIKE 'poison%' "
                    "BEGIN SELECT RAISE(ABORT, 'injected insert failure'); END")
    yield db
    db.close()


def test_a_failing_put_changes_nothing_and_the_catalog_still_works(store):
    # replacing a record deletes the old row first: the failure comes after that delete
    with pytest.raises(sqlite3.IntegrityError, match="injected insert failure"):
        store.put(record("aaa-bbb-ccc", "/data/cortex", title="poison"))
    assert store.get("aaa-bbb-ccc").title == "Mouse cortex"  # the delete was rolled back too
    assert ids(store.search("mouse")) == ["aaa-bbb-ccc"]
    store.put(record("ggg-hhh-iii", "/data/new", title="New brain"))  # the connection is not left in a transaction
    assert ids(store.search("new")) == ["ggg-hhh-iii"]
    assert store.remove("ddd-eee-fff") is True
    assert [r.id for r in store.all()] == ["aaa-bbb-ccc", "ggg-hhh-iii"]


def test_a_failing_put_many_adds_none_of_its_records(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.put_many([record("jjj-kkk-lll", "/data/one", title="One"),
                        record("mmm-nnn-ooo", "/data/two", title="poison two")])
    assert store.get("jjj-kkk-lll") is None and ids(store.search("one")) == []
    store.put_many([record("jjj-kkk-lll", "/data/one", title="One")])
    assert store.get("jjj-kkk-lll").title == "One"


def test_remove_is_one_transaction(store):
    # the full-text row goes first, then the record: a failure deleting the record must keep both
    inject(store.path, "CREATE TRIGGER fail_delete BEFORE DELETE ON datasets WHEN OLD.id = 'ddd-eee-fff' "
                       "BEGIN SELECT RAISE(ABORT, 'injected delete failure'); END")
    with pytest.raises(sqlite3.IntegrityError, match="injected delete failure"):
        store.remove("ddd-eee-fff")
    assert store.get("ddd-eee-fff").title == "Zebrafish brain"
    assert ids(store.search("zebrafish")) == ["ddd-eee-fff"]  # its full-text row is still there
    assert store.remove("aaa-bbb-ccc") is True and store.get("aaa-bbb-ccc") is None


def test_a_failing_write_still_counts_as_a_change_nowhere(store):
    # a rolled-back write changed nothing: the catalog's generation (what open datasets are checked against)
    # may move, but the data a reader sees is the same
    before = [r.fields() for r in store.all()]
    with pytest.raises(sqlite3.IntegrityError):
        store.put(record("ddd-eee-fff", "/data/fish", title="poison"))
    assert [r.fields() for r in store.all()] == before
