"""``transformer export``'s per-process engines (one per catalog, kept between dask tasks) are bounded, and one
that leaves is closed (issue 22 item 7): an ``lru_cache`` dropped them with their catalog connection, thread
pools and open files still open."""

from __future__ import annotations

import sqlite3

import pytest

from catalog.store import Catalog
from transformer import export


def test_an_engine_that_leaves_is_closed_and_the_kept_ones_work(tmp_path):
    paths = []
    for i in range(export.ENGINES + 1):
        path = tmp_path / f"c{i}.sqlite"
        Catalog(path).close()
        paths.append(str(path))
    first = export._registry(paths[0])
    assert export._registry(paths[0]) is first  # kept between tasks
    later = [export._registry(p) for p in paths[1:]]  # one more than are kept: the least recently used leaves
    with pytest.raises(sqlite3.ProgrammingError):  # its catalog connection is closed
        first.catalog.get("aaa-bbb-ccc")
    assert all(r.catalog.get("aaa-bbb-ccc") is None for r in later)
    again = export._registry(paths[0])
    assert again is not first and again.catalog.get("aaa-bbb-ccc") is None  # opened afresh
    export._registry.cache_clear()
    with pytest.raises(sqlite3.ProgrammingError):
        again.catalog.get("aaa-bbb-ccc")
