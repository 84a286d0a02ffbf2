"""Dataset versions follow content: an unchanged rescan keeps the version (so every cache stays warm),
a re-copied file or an edited sidecar changes it."""

from __future__ import annotations

import os

import numpy as np
import tifffile

from catalog.scan import scan
from catalog.store import Catalog


def _versions(catalog: Catalog) -> dict[str, str]:
    return {r.title: r.version for r in catalog.all()}


def test_unchanged_rescan_keeps_versions_and_changes_are_seen(tmp_path):
    root = tmp_path / "root"
    (root / "stack").mkdir(parents=True)
    for z in range(3):
        tifffile.imwrite(root / "stack" / f"s{z}.tif", np.full((8, 8), z, np.uint8))
    (root / "single").mkdir()
    tifffile.imwrite(root / "single" / "vol.tif", np.zeros((2, 8, 8), np.uint16))
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    first = _versions(catalog)
    assert set(first) == {"stack", "vol.tif"}

    scan(root, catalog)
    assert _versions(catalog) == first

    # same size, new bytes, within the same second: the stamp tells them apart
    tifffile.imwrite(root / "stack" / "s1.tif", np.full((8, 8), 9, np.uint8))
    os.utime(root / "stack" / "s1.tif", ns=(1, 1))
    scan(root, catalog)
    second = _versions(catalog)
    assert second["stack"] != first["stack"] and second["vol.tif"] == first["vol.tif"]

    (root / "single" / "vol.tif.json").write_text('{"title": "renamed"}')
    scan(root, catalog)
    third = _versions(catalog)
    assert third["renamed"] != first["vol.tif"] and third["stack"] == second["stack"]
