"""Hand-written sidecars: validated by the schema; a bad one refuses its dataset (or its whole folder)
with a reason, the scan always finishes, and nothing it described is registered without it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile

from catalog import schema
from catalog.scan import scan
from catalog.sidecar import SidecarError, parse_options
from catalog.store import Catalog

GOOD = {"title": "ok", "voxel_size": [2, 0.5, 0.5], "contributors": ["A", "B"],
        "channels": ["dapi", {"name": "gfp", "color": "00ff00", "window": [0, 4095]}], "kind": "intensity",
        "public": True, "extra": {"grant": {"agency": "NIH", "number": "R01"}}}

# (sidecar text, a word the refusal reason must contain)
BAD = [
    ('{"voxel_size": [NaN, 1, 1]}', "NaN"),
    ('{"voxel_size": [Infinity, 1, 1]}', "Infinity"),
    ('{"voxel_size": [1e308, 1, 1]}', "voxel_size"),
    ('{"voxel_size": [0, 1, 1]}', "voxel_size"),
    ('{"voxel_size": [1, 1]}', "voxel_size"),
    ('{"voxel_size": "1,1,1"}', "voxel_size"),
    ('{"contributors": 5}', "contributors"),
    ('{"contributors": "Ada; Bob"}', "contributors"),
    ('{"channels": 5}', "channels"),
    ('{"channels": [{"name": "a", "colour": "FF0000"}]}', "colour"),
    ('{"channels": [{"color": "red"}]}', "color"),
    ('{"kind": "label"}', "kind"),
    ('{"public": "no"}', "public"),
    ('{"public": 0}', "public"),
    ('{"Public": false}', "Public"),
    ('{"title": "a",}', "not valid JSON"),
    ('[1, 2]', "JSON object"),
    ('{"title": "' + "x" * 600 + '"}', "title"),
    ('{"extra": {"a": ' + "[" * 20 + "]" * 20 + "}}", "nested"),
    ('{"title": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
]


def _slices(folder, n=3, shape=(16, 20)):
    folder.mkdir(parents=True)
    for z in range(n):
        tifffile.imwrite(folder / f"s_{z:03}.tif", np.full(shape, z, np.uint8))


def test_schema_accepts_every_documented_form():
    out = schema.validate(GOOD)
    assert out["voxel_size"] == [2.0, 0.5, 0.5]
    assert out["channels"] == [{"name": "dapi"}, {"name": "gfp", "color": "00ff00", "window": [0.0, 4095.0]}]
    assert out["extra"] == GOOD["extra"] and out["public"] is True
    assert schema.validate({"voxel_size": {"z": 4, "y": 1, "x": 1}})["voxel_size"] == [4.0, 1.0, 1.0]
    assert schema.validate({}) == {}


@pytest.mark.parametrize("text, word", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_sidecar_refuses_its_dataset_and_the_scan_goes_on(tmp_path, text, word):
    root = tmp_path / "root"
    for folder in ("a", "b"):  # one file per folder: two TIFFs side by side would be a slice stack
        (root / folder).mkdir(parents=True)
    tifffile.imwrite(root / "a" / "bad.tif", np.zeros((4, 8, 8), np.uint8))
    (root / "a" / "bad.tif.json").write_text(text)
    tifffile.imwrite(root / "b" / "good.tif", np.zeros((4, 8, 8), np.uint8))
    catalog = Catalog(tmp_path / "c.sqlite")
    report = scan(root, catalog)
    assert [r.title for r in catalog.all()] == ["good.tif"]
    assert len(report.refused) == 1
    name, reason = report.refused[0]
    assert name == "a/bad.tif" and "bad.tif.json" in reason and word in reason
    assert str(tmp_path) not in reason


def test_bad_folder_sidecar_refuses_the_whole_subtree(tmp_path):
    """A private stack whose sidecar has a typo must not come back as public per-slice datasets."""
    root = tmp_path / "root"
    _slices(root / "private_stack")
    (root / "private_stack" / "dataset.json").write_text('{"public": false, "voxel_size": [0, 1, 1]}')
    _slices(root / "private_stack" / "sub" / "inner")
    _slices(root / "public_stack")
    catalog = Catalog(tmp_path / "c.sqlite")
    report = scan(root, catalog)
    assert [r.title for r in catalog.all()] == ["public_stack"]
    assert [name for name, _ in report.refused] == ["private_stack"]
    assert "whole folder refused" in report.refused[0][1] and "voxel_size" in report.refused[0][1]


def test_private_sidecar_is_honoured(tmp_path):
    root = tmp_path / "root"
    _slices(root / "stack")
    (root / "stack" / "dataset.json").write_text('{"public": false, "title": "hidden"}')
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    (record,) = catalog.all()
    assert record.title == "hidden" and record.public is False


def test_meta_options_use_the_same_schema():
    out = parse_options(["voxel_size=2,0.5,0.5", "public=false", "contributors=Ada; Bob", "channels=a,b",
                         "species=Mus musculus"])
    assert out == {"voxel_size": [2.0, 0.5, 0.5], "public": False, "contributors": ["Ada", "Bob"],
                   "channels": [{"name": "a"}, {"name": "b"}], "species": "Mus musculus"}
    for bad in (["public=maybe"], ["voxel_size=nan,1,1"], ["voxel_size=1,1"], ["colour=red"], ["kind=label"]):
        with pytest.raises(SidecarError):
            parse_options(bad)
    assert not math.isnan(parse_options(["voxel_size=1,1,1"])["voxel_size"][0])


def test_a_sidecar_round_trips_through_json(tmp_path):
    """What validation returns is plain JSON (the record stores it; the API serves it strictly)."""
    json.dumps(schema.validate(GOOD), allow_nan=False)
