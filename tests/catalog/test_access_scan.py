"""Access levels from sidecars and --access: every way the scanner could publish what a sidecar keeps
embargoed or private fails closed (issue 11, the scenarios under "Why")."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
import tifffile

from catalog import schema
from catalog.access import effective, strictest
from catalog.record import Record
from catalog.scan import scan
from catalog.store import Catalog


def _slices(folder, n=3, shape=(16, 20)):
    folder.mkdir(parents=True, exist_ok=True)
    for z in range(n):
        tifffile.imwrite(folder / f"s_{z:03}.tif", np.full(shape, z, np.uint8))


def _scan(tmp_path, root, **kw):
    catalog = Catalog(tmp_path / "c.sqlite")
    report = scan(root, catalog, **kw)
    return catalog, report


def _levels(catalog) -> dict[str, str]:
    return {r.title: r.access for r in catalog.all()}


def test_access_keys_are_validated():
    assert schema.validate({"access": "embargoed", "embargo_until": "2030-01-31"}) == {
        "access": "embargoed", "embargo_until": "2030-01-31"}
    for bad in ({"access": "secret"}, {"access": "Private"}, {"Access": "private"}, {"public": "no"},
                {"public": 0}, {"embargo_until": "2030-01-31"}, {"access": "private", "embargo_until": "2030-01-31"},
                {"access": "embargoed", "embargo_until": "2030-02-30"},
                {"access": "embargoed", "embargo_until": "31.1.2030"},
                {"public": True, "access": "private"}, {"public": False, "access": "public"}):
        with pytest.raises(ValueError):
            schema.validate(bad)


def test_levels_order_and_embargo_dates():
    assert strictest("public", "embargoed") == "embargoed" and strictest("private", "public") == "private"
    assert strictest(None, None) == "public" and strictest("nonsense") == "private"
    assert effective("embargoed", "2030-01-31", date(2030, 1, 30)) == "embargoed"
    assert effective("embargoed", "2030-01-31", date(2030, 1, 31)) == "public"
    assert effective("embargoed", "", date(2099, 1, 1)) == "embargoed"
    assert effective("private", "2000-01-01") == "private"


def test_old_records_and_public_false_are_private():
    old = Record.from_dict({"id": "a", "source": "/x", "reader": "r", "format": "f", "title": "t", "shape": [1],
                            "dtype": "u1", "voxel_size": [1, 1, 1], "channels": [], "native_levels": 1,
                            "byte_size": 1, "public": False})
    assert old.access == "private" and old.public is False
    changed = Record.from_dict({**old.public_dict(), "source": "/x", "access": "embargoed", "public": True})
    assert changed.access == "embargoed" and changed.version != old.version  # access is part of the version


def test_folder_sidecar_access_reaches_everything_under_it(tmp_path):
    root = tmp_path / "root"
    _slices(root / "lab" / "stack_a")
    (root / "lab" / "dataset.json").write_text('{"access": "embargoed", "embargo_until": "2099-01-01"}')
    _slices(root / "lab" / "deeper" / "stack_b")
    tifffile.imwrite(root / "lab" / "single.ome.tif", np.zeros((4, 8, 8), np.uint8), ome=True)
    _slices(root / "open")
    catalog, report = _scan(tmp_path, root)
    assert _levels(catalog) == {"stack_a": "embargoed", "stack_b": "embargoed", "single.ome.tif": "embargoed",
                                "open": "public"}
    assert report.refused == []


def test_folder_sidecar_beside_a_single_file_applies_to_it(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "brain.ome.tif", np.zeros((4, 8, 8), np.uint8), ome=True)
    (root / "dataset.json").write_text('{"access": "private"}')
    catalog, _ = _scan(tmp_path, root)
    assert _levels(catalog) == {"brain.ome.tif": "private"}


def test_private_slice_makes_its_stack_private(tmp_path):
    root = tmp_path / "root"
    _slices(root / "stack", n=4)
    (root / "stack" / "s_002.tif.json").write_text('{"public": false}')
    catalog, _ = _scan(tmp_path, root)
    assert _levels(catalog) == {"stack": "private"}
    (record,) = catalog.all()
    assert record.shape[2] == 4  # still one stack, not slices published one by one


@pytest.mark.parametrize("extra", [',', ', "voxel_size": [0, 1, 1]', ', "kind": "label"', ', "Public": false'])
def test_private_folder_with_any_other_error_is_refused_whole(tmp_path, extra):
    root = tmp_path / "root"
    _slices(root / "secret")
    (root / "secret" / "dataset.json").write_text('{"access": "private"' + extra + '}')
    _slices(root / "secret" / "inner")
    catalog, report = _scan(tmp_path, root)
    assert catalog.all() == []
    assert [name for name, _ in report.refused] == ["secret"]


def test_symlinks_inherit_the_strictest_access_and_never_leave_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "private").mkdir(parents=True)
    (root / "private" / "dataset.json").write_text('{"access": "private"}')
    tifffile.imwrite(root / "private" / "hidden.ome.tif", np.zeros((4, 8, 8), np.uint8), ome=True)
    (root / "shared").mkdir()
    (root / "shared" / "alias.ome.tif").symlink_to(root / "private" / "hidden.ome.tif")
    outside = tmp_path / "outside.ome.tif"
    tifffile.imwrite(outside, np.zeros((4, 8, 8), np.uint8), ome=True)
    (root / "shared" / "escape.ome.tif").symlink_to(outside)
    catalog, report = _scan(tmp_path, root)
    assert {r.access for r in catalog.all()} == {"private"}  # the alias resolves to the same private record
    assert [name for name, _ in report.refused] == ["shared/escape.ome.tif"]
    assert "outside the registered root" in report.refused[0][1]


def test_symlink_own_sidecar_counts_too(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "real.ome.tif", np.zeros((4, 8, 8), np.uint8), ome=True)
    sub = root / "sub"
    sub.mkdir()
    (sub / "dataset.json").write_text('{"access": "embargoed"}')
    (sub / "link.ome.tif").symlink_to(root / "real.ome.tif")
    catalog = Catalog(tmp_path / "c.sqlite")
    from catalog.scan import describe  # the link alone, as transformer add would see it

    record = describe(sub / "link.ome.tif", root, catalog)
    assert record.access == "embargoed"


def test_scan_access_option_is_a_floor(tmp_path):
    root = tmp_path / "root"
    _slices(root / "a")
    _slices(root / "b")
    (root / "b" / "dataset.json").write_text(json.dumps({"access": "private"}))
    catalog, _ = _scan(tmp_path, root, access="embargoed")
    assert _levels(catalog) == {"a": "embargoed", "b": "private"}
    catalog.close()
    catalog, _ = _scan(tmp_path, root, access="public")
    assert _levels(catalog) == {"a": "public", "b": "private"}


def test_add_and_scan_access_flags_on_the_command_line(tmp_path, capsys):
    from transformer.cli import main

    root = tmp_path / "root"
    _slices(root / "a")
    _slices(root / "b")
    (root / "b" / "dataset.json").write_text('{"access": "private"}')
    db = str(tmp_path / "cli.sqlite")
    assert main(["--catalog", db, "add", str(root / "a"), "--access", "embargoed"]) == 0
    assert main(["--catalog", db, "add", str(root / "b"), "--access", "public"]) == 0  # never laxer
    assert {r.title: r.access for r in Catalog(db).all()} == {"a": "embargoed", "b": "private"}
    assert main(["--catalog", db, "scan", str(root), "--access", "private"]) == 0
    with pytest.raises(SystemExit):
        main(["--catalog", db, "scan", str(root), "--access", "secret"])
    levels = {r.title: r.access for r in Catalog(db).all()}
    assert levels == {"a": "private", "b": "private"}
