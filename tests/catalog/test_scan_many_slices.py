"""Stacks with more slices than catalog.scan resolves one by one (LIST_FOLDER_FROM): their folder is
listed once to find symlinked slices, and each slice's own sidecar is looked up in that folder's listing.
What a symlinked slice's real folder says, and where it really is, still counts."""

from __future__ import annotations

import os

import numpy as np
import tifffile

from catalog.scan import LIST_FOLDER_FROM, content_stamp, scan
from catalog.store import Catalog

N = LIST_FOLDER_FROM + 4


def _stack(folder, n=N):
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(n):
        tifffile.imwrite(folder / f"s_{z:03}.tif", np.full((16, 20), z, np.uint8))


def _scan(tmp_path, root):
    catalog = Catalog(tmp_path / "c.sqlite")
    return catalog, scan(root, catalog)


def test_a_slice_linked_from_a_private_folder_makes_the_stack_private(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack")
    (root / "private").mkdir()
    (root / "private" / "dataset.json").write_text('{"access": "private"}')
    tifffile.imwrite(root / "private" / "hidden.tif", np.full((16, 20), 99, np.uint8))
    (root / "stack" / "s_005.tif").unlink()
    (root / "stack" / "s_005.tif").symlink_to(root / "private" / "hidden.tif")
    catalog, _ = _scan(tmp_path, root)
    (stack,) = [r for r in catalog.all() if r.title == "stack"]
    assert stack.access == "private" and stack.shape[2] == N
    # the manifest names the real file; the other slices keep their names, in z order
    names = [m["name"] for m in stack.manifest]
    assert names == [f"s_{z:03}.tif" if z != 5 else "hidden.tif" for z in range(N)]


def test_a_slice_linked_from_outside_the_root_refuses_the_stack(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack")
    outside = tmp_path / "outside.tif"
    tifffile.imwrite(outside, np.full((16, 20), 7, np.uint8))
    (root / "stack" / "s_009.tif").unlink()
    (root / "stack" / "s_009.tif").symlink_to(outside)
    catalog, report = _scan(tmp_path, root)
    assert catalog.all() == []
    assert [name for name, _ in report.refused] == ["stack"]
    assert "outside the registered root" in report.refused[0][1] and "outside.tif" in report.refused[0][1]


def test_each_slice_sidecar_spelling_counts_in_a_long_stack(tmp_path):
    root = tmp_path / "root"
    _stack(root / "a")
    (root / "a" / "s_010.dataset.json").write_text('{"access": "embargoed", "embargo_until": "2999-01-01"}')
    _stack(root / "b")
    (root / "b" / "s_001.tif.json").write_text('{"public": false}')
    _stack(root / "c")
    catalog, _ = _scan(tmp_path, root)
    assert {r.title: r.access for r in catalog.all()} == {"a": "embargoed", "b": "private", "c": "public"}


def test_manifest_and_stamp_are_those_of_every_slice(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack")
    catalog, _ = _scan(tmp_path, root)
    (record,) = catalog.all()
    files = sorted((root / "stack").iterdir())
    assert [(m["name"], m["size"]) for m in record.manifest] == [(f.name, os.stat(f).st_size) for f in files]
    assert record.stamp == content_stamp([f.resolve() for f in files], (root / "stack").resolve())
