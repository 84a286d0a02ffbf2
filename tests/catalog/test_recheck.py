"""serve --data-root's periodic recheck: a record whose source (or a file it lists) vanished leaves the
catalog with the reason; present ones and records outside the root stay."""

from __future__ import annotations

import time

import numpy as np
import tifffile

from catalog.recheck import prune_vanished, recheck_changed, start_recheck
from catalog.scan import scan
from catalog.store import Catalog


def _root(tmp_path):
    root = tmp_path / "root"
    (root / "stack").mkdir(parents=True)
    for z in range(3):
        tifffile.imwrite(root / "stack" / f"z{z}.tif", np.full((8, 8), z, np.uint8))
    tifffile.imwrite(root / "vol.tif", np.zeros((2, 8, 8), np.uint16))
    tifffile.imwrite(root / "kept.tif", np.zeros((2, 8, 8), np.uint16))
    return root


def _remove_vol_and_wait(root, catalog, deadline: float) -> None:
    """Delete vol.tif and wait (until ``deadline``, monotonic) for the running recheck to drop its record."""
    (root / "vol.tif").unlink()
    while any(r.title == "vol.tif" for r in catalog.all()) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_vanished_sources_and_slices_are_pruned_with_the_reason(tmp_path):
    root = _root(tmp_path)
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    assert prune_vanished(root, catalog) == []
    (root / "vol.tif").unlink()
    (root / "stack" / "z1.tif").unlink()
    assert sorted(prune_vanished(root, catalog)) == [("stack", "z1.tif vanished"), ("vol.tif", "the source vanished")]
    assert [r.title for r in catalog.all()] == ["kept.tif"]
    assert prune_vanished(tmp_path / "elsewhere", catalog) == []


def test_the_recheck_thread_prunes_until_stopped(tmp_path):
    root = _root(tmp_path)
    db = tmp_path / "c.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    recheck = start_recheck(root, db, interval=0.05)
    try:
        _remove_vol_and_wait(root, catalog, time.monotonic() + 30)
        assert sorted(r.title for r in catalog.all()) == ["kept.tif", "stack"]
    finally:
        recheck.stop()
    assert not recheck.thread.is_alive()


def test_changed_sources_are_described_again_refused_ones_leave_and_access_only_tightens(tmp_path):
    root = _root(tmp_path)
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    seen: dict[str, str] = {}
    assert recheck_changed(root, catalog, seen) == []  # the first round takes note
    assert recheck_changed(root, catalog, seen) == []  # nothing changed

    # a curator replaces a slice with an RGB one: the stack is now refused, not served as its first sample
    tifffile.imwrite(root / "stack" / "z1.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    # and marks a file private in its sidecar, without a rescan
    (root / "vol.tif.json").write_text('{"access": "private"}')
    changes = dict(recheck_changed(root, catalog, seen))
    assert changes["stack"].startswith("refused: ") and str(root) not in changes["stack"]
    assert changes["vol.tif"] == "access is now private"
    records = {r.title: r for r in catalog.all()}
    assert set(records) == {"vol.tif", "kept.tif"}
    assert records["vol.tif"].access == "private" and records["vol.tif"].public is False

    # a laxer sidecar never loosens a record by itself (that takes a rescan)
    (root / "vol.tif.json").write_text('{"access": "public"}')
    assert recheck_changed(root, catalog, seen) == []
    assert {r.title: r.access for r in catalog.all()}["vol.tif"] == "private"
