"""A failed recheck round, the first one included, is logged and the rechecks go on (issue 22 item 7): the
first round used to run outside the thread's ``try``, so one error ended every later recheck silently."""

from __future__ import annotations

import dataclasses
import logging
import time

from catalog.recheck import start_recheck
from catalog.scan import scan
from catalog.store import Catalog
from tests.catalog.test_recheck import _remove_vol_and_wait, _root


def test_a_failing_first_round_does_not_end_the_rechecks(tmp_path, caplog):
    root = _root(tmp_path)
    db = tmp_path / "c.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    # a record under the root whose manifest lacks a file name: every round fails on it (a KeyError)
    kept = next(r for r in catalog.all() if r.title == "kept.tif")
    broken = dataclasses.replace(kept, id="bro-ken-rec", source=str(root / "broken.tif"), manifest=[{"size": 1}])
    catalog.put(broken)
    with caplog.at_level(logging.WARNING, logger="catalog.recheck"):
        recheck = start_recheck(root, db, interval=0.05)
        try:
            deadline = time.monotonic() + 30
            while "the recheck of root failed" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "the recheck of root failed" in caplog.text and "KeyError" in caplog.text
            assert recheck.thread.is_alive()
            catalog.remove(broken.id)  # fixed: the next rounds succeed
            _remove_vol_and_wait(root, catalog, deadline)
            assert sorted(r.title for r in catalog.all()) == ["kept.tif", "stack"]
        finally:
            recheck.stop()
    assert not recheck.thread.is_alive()
    catalog.close()
