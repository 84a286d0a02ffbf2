"""The sidecar keys that attach neurons and cells to an image, and what the scan makes of them (issue 19)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from catalog import schema
from catalog.attached import find_attached, header_lines, object_id, sniff
from catalog.scan import scan
from catalog.store import Catalog


@pytest.mark.parametrize(
    "sidecar",
    [
        {"neurons": "/abs/*.swc"},
        {"neurons": ""},
        {"neurons": []},
        {"neurons_units": "mm"},
        {"cells": 3},
        {"cells_units": "nm"},
    ],
)
def test_bad_object_keys_are_refused(sidecar):
    with pytest.raises(ValueError):
        schema.validate(sidecar)


def test_one_pattern_is_a_list():
    assert schema.validate({"neurons": "swc/*.swc", "cells": ["a.csv", "b.csv"], "neurons_units": "voxel"}) == {
        "neurons": ["swc/*.swc"],
        "cells": ["a.csv", "b.csv"],
        "neurons_units": "voxel",
    }


def test_find_attached_stays_under_the_root_and_lists_each_file_once(tmp_path):
    root = tmp_path / "root"
    (root / "brain" / "swc").mkdir(parents=True)
    for name in ("b.swc", "a.swc"):
        (root / "brain" / "swc" / name).write_text("1 1 0 0 0 1 -1\n")
    (tmp_path / "outside.swc").write_text("1 1 0 0 0 1 -1\n")
    meta = {"neurons": ["swc/*.swc", "swc/a.swc", "../../outside.swc"], "cells": ["none*.csv"]}
    found = find_attached(meta, str(root / "brain"), str(root), "bad-dog-cat")
    assert [e["name"] for e in found] == ["swc/a.swc", "swc/b.swc"]
    assert all(e["kind"] == "neuron" and e["units"] == "um" for e in found)
    assert found[0]["id"] == object_id("bad-dog-cat", "swc/a.swc") != found[1]["id"]


def test_sniff_reads_headers_and_refuses_empty_and_binary(tmp_path):
    swc = tmp_path / "a.swc"
    swc.write_text("# ORIGINAL_SOURCE x\n#  SCALE 1 1 1\n1 1 0 0 0 1 -1\n# not a header\n")
    assert sniff(swc, "neuron")["header"] == ["ORIGINAL_SOURCE x", "SCALE 1 1 1"]
    assert header_lines(b"1 1 0 0 0 1 -1\n# late\n") == []
    (tmp_path / "e.swc").write_text("  \n")
    assert sniff(tmp_path / "e.swc", "neuron")["refusal"] == "empty file"
    (tmp_path / "b.swc").write_bytes(b"\x00\x01\x02")
    assert sniff(tmp_path / "b.swc", "neuron")["refusal"] == "binary file, not text"
    (tmp_path / "c.csv").write_text("a,b\n1,2\n")
    assert "refusal" in sniff(tmp_path / "c.csv", "cells")  # no x, y, z columns


def test_rescans_keep_ids_and_versions_follow_the_files(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "b.ome.tif", np.zeros((2, 8, 8), np.uint8), ome=True, metadata={"axes": "ZYX"})
    (root / "n.swc").write_text("1 1 0 0 0 1 -1\n")
    (root / "b.ome.tif.json").write_text(json.dumps({"neurons": "*.swc"}))
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    (first,) = catalog.all()
    scan(root, catalog)
    (again,) = catalog.all()
    assert again.attached == first.attached and again.version == first.version
    (root / "n.swc").write_text("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n")
    scan(root, catalog)
    (changed,) = catalog.all()
    assert changed.attached == first.attached and changed.version != first.version
    (row,) = catalog.objects(changed.id)
    assert row["summary"]["bytes"] == len("1 1 0 0 0 1 -1\n2 3 1 0 0 1 1\n")
