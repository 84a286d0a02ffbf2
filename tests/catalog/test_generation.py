"""``Catalog.generation`` is asked on the event loop for every warm chunk: it must never wait for the lock a
search holds (a search on 10,000 records holds it 30-140 ms), and it must still see every change, made by
this catalog or by another process (a ``transformer scan`` or ``token revoke`` beside the server)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from catalog.store import Catalog
from tests.catalog.test_store import record


@pytest.mark.parametrize("where", ["file", ":memory:"])
def test_generation_does_not_wait_for_a_search_holding_the_lock(tmp_path: Path, where: str):
    catalog = Catalog(tmp_path / "c.sqlite" if where == "file" else ":memory:")
    catalog.put(record("aaa-bbb-ccc", "/data/cortex"))
    answered: list[tuple] = []
    with catalog._lock:  # what a search holds for its whole run
        asker = threading.Thread(target=lambda: answered.append(catalog.generation()), daemon=True)
        asker.start()
        asker.join(timeout=10)  # not a speed figure: before the fix it never returns while the lock is held
        assert answered, "generation() waited for the catalog's lock"
    catalog.close()


def test_generation_sees_every_change(tmp_path: Path):
    catalog = Catalog(tmp_path / "c.sqlite")
    g0 = catalog.generation()
    assert catalog.generation() == g0  # reading changes nothing
    catalog.put(record("aaa-bbb-ccc", "/data/cortex"))
    g1 = catalog.generation()
    assert g1 != g0
    catalog.search("cortex")
    assert catalog.generation() == g1
    other = Catalog(catalog.path)  # another process's connection
    other.remove("aaa-bbb-ccc")
    other.close()
    g2 = catalog.generation()
    assert g2 != g1 and catalog.get("aaa-bbb-ccc") is None
    catalog.close()
