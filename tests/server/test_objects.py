"""Neurons and cells attached to an image (issue 19), in process: the scan attaches them, the skeleton and
annotation views answer with the exact bytes and status codes, raw and JSON forms, box queries, versions,
search, access and the Neuroglancer state."""

from __future__ import annotations

import io
import json
import os
import time

import neuroglancer
import numpy as np
import osteoid
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from tests.helpers import in_process
from writers.annotations import decode_point_by_id, decode_points
from writers.skeletons import decode_skeleton

VOXEL = (2.0, 0.5, 0.5)  # z, y, x µm
SHAPE = (6, 40, 48)
LINE = "# ORIGINAL_SOURCE test\n# a straight neuron\n1 1 4 5 6 2 -1\n2 3 10 5 6 1 1\n3 3 16 5 6 0.5 2\n4 2 4 9 6 1 1\n"
CYCLE = "1 1 0 0 0 1 2\n2 3 1 1 1 1 1\n"
WARNED = "1 1 1 1 1 1 -1\n2 3 2 1 1 -1 1\n3 3 3 1 1 1 7\n"  # a non-positive radius, a missing parent
CELLS = "x,y,z,id,volume,label\n1.5,2.5,3.0,11,10.5,1\n20,15,8,12,3.25,2\n23.5,19.5,10,13,7,3\n"


def _brain(root, name, sidecar):
    root.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(root / f"{name}.ome.tif", np.arange(np.prod(SHAPE), dtype=np.uint16).reshape(SHAPE),
                     ome=True, metadata={"axes": "ZYX"})
    (root / f"{name}.ome.tif.json").write_text(json.dumps({"voxel_size": list(VOXEL), **sidecar}))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("objects")
    root = tmp / "root"
    (root / "swc").mkdir(parents=True)
    (root / "swc" / "line.swc").write_text(LINE)
    (root / "swc" / "cycle.swc").write_text(CYCLE)
    (root / "swc" / "warned.swc").write_text(WARNED)
    (root / "swc" / "empty.swc").write_text("")
    (root / "cells.csv").write_text(CELLS)
    _brain(root, "brain", {"neurons": "swc/*.swc", "cells": "cells.csv"})
    _brain(root / "vox", "voxels", {"neurons": ["../swc/line.swc"], "neurons_units": "voxel"})
    for level in ("embargoed", "private"):
        _brain(root / level, level, {"neurons": "../swc/line.swc", "cells": "../cells.csv", "access": level,
                                      **({"embargo_until": "2999-01-01"} if level == "embargoed" else {})})
    catalog = Catalog(tmp / "c.sqlite")
    report = scan(root, catalog)
    assert not report.refused, report.refused
    ids = {r.title.removesuffix(".ome.tif"): r.id for r in catalog.all()}
    token, row = new_token("all", None, None)
    catalog.put_token(row)
    with in_process(tmp / "c.sqlite") as client:
        yield {"client": client, "catalog": catalog, "ids": ids, "root": root, "token": token}


def _neuron_id(world, dataset: str, name: str) -> str:
    record = world["catalog"].get(world["ids"][dataset])
    return next(e["id"] for e in record.attached if e["name"].endswith(name))


def test_scan_attaches_files_with_stable_decimal_ids(world):
    record = world["catalog"].get(world["ids"]["brain"])
    kinds = sorted((e["kind"], e["name"]) for e in record.attached)
    assert kinds == [("cells", "cells.csv"), ("neuron", "swc/cycle.swc"), ("neuron", "swc/empty.swc"),
                     ("neuron", "swc/line.swc"), ("neuron", "swc/warned.swc")]
    for entry in record.attached:
        assert entry["id"].isdigit() and 1 <= int(entry["id"]) < 2**53
    rows = {r["name"]: r for r in world["catalog"].objects(record.id)}
    assert rows["swc/line.swc"]["summary"]["header"] == ["ORIGINAL_SOURCE test", "a straight neuron"]
    assert rows["swc/empty.swc"]["summary"]["refusal"] == "empty file"
    assert rows["cells.csv"]["summary"]["rows"] == 3


def test_skeleton_bytes_match_the_swc_and_osteoid_reads_them(world):
    ds = world["ids"]["brain"]
    nid = _neuron_id(world, "brain", "line.swc")
    r = world["client"].get(f"/objects/{ds}/skeletons/{nid}")
    assert r.status_code == 200
    nv, ne = 4, 3
    assert len(r.content) == 8 + 12 * nv + 8 * ne + 4 * nv + 4 * nv
    info = world["client"].get(f"/objects/{ds}/skeletons/info").json()
    assert info["@type"] == "neuroglancer_skeletons" and info["transform"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    arrays = decode_skeleton(r.content, info)
    expected = np.array([[4, 5, 6], [10, 5, 6], [16, 5, 6], [4, 9, 6]], np.float32) * 1000
    np.testing.assert_array_equal(arrays["positions"], expected)
    np.testing.assert_array_equal(arrays["edges"], [[1, 0], [2, 1], [3, 0]])
    np.testing.assert_array_equal(arrays["radius"], np.array([2, 1, 0.5, 1], np.float32) * 1000)
    np.testing.assert_array_equal(arrays["type"], [1, 3, 3, 2])
    skel = osteoid.Skeleton.from_precomputed(r.content, segid=int(nid), vertex_attributes=info["vertex_attributes"])
    np.testing.assert_array_equal(skel.vertices, expected)
    np.testing.assert_array_equal(np.sort(skel.edges, axis=1), [[0, 1], [1, 2], [0, 3]])


def test_segment_properties_label_tags_numbers_without_refused(world):
    ds = world["ids"]["brain"]
    props = world["client"].get(f"/objects/{ds}/skeletons/segment_properties/info").json()
    assert props["@type"] == "neuroglancer_segment_properties"
    ids = props["inline"]["ids"]
    by_id = {p["id"]: p for p in props["inline"]["properties"]}
    labels = dict(zip(ids, by_id["label"]["values"], strict=True))
    assert sorted(labels.values()) == ["line.swc", "warned.swc"]  # cycle.swc and empty.swc are refused
    line = ids.index(_neuron_id(world, "brain", "line.swc"))
    assert by_id["nodes"]["values"][line] == 4
    assert by_id["cable_length_um"]["values"][line] == pytest.approx(6 + 6 + 4)
    tags = by_id["tags"]["tags"]
    assert sorted(tags[i] for i in by_id["tags"]["values"][line]) == ["axon", "basal_dendrite", "soma"]


@pytest.mark.parametrize(("key", "status"), [("abc", 400), ("01", 400), ("-3", 400), ("0", 404), ("5", 404),
                                             ("segment_properties", 404), ("1/2", 404)])
def test_skeleton_keys_status(world, key, status):
    r = world["client"].get(f"/objects/{world['ids']['brain']}/skeletons/{key}")
    assert r.status_code == status
    assert r.json()["status"] == status and "/" not in r.json()["reason"].replace("1/2", "")


def test_refused_and_warned_neurons(world):
    ds = world["ids"]["brain"]
    r = world["client"].get(f"/objects/{ds}/skeletons/{_neuron_id(world, 'brain', 'cycle.swc')}")
    assert r.status_code == 404 and "cycle" in r.json()["reason"]
    assert world["client"].get(f"/objects/{ds}/skeletons/{_neuron_id(world, 'brain', 'empty.swc')}").status_code == 404
    warned = world["client"].get(f"/api/datasets/{ds}/neurons/{_neuron_id(world, 'brain', 'warned.swc')}.json")
    assert warned.status_code == 200
    kinds = {d["kind"] for d in warned.json()["summary"]["defects"]}
    assert {"nonpositive_radius", "missing_parent"} <= kinds
    assert warned.json()["summary"]["warnings"] >= 2


def test_raw_swc_as_archived_and_json_in_physical_um(world):
    ds, nid = world["ids"]["brain"], _neuron_id(world, "brain", "line.swc")
    raw = world["client"].get(f"/api/datasets/{ds}/neurons/{nid}.swc")
    assert raw.status_code == 200 and raw.content == LINE.encode()
    data = world["client"].get(f"/api/datasets/{ds}/neurons/{nid}.json").json()
    assert data["nodes"]["x"] == [4, 10, 16, 4] and data["nodes"]["parent"] == [-1, 1, 2, 1]
    assert data["summary"]["soma_xyz_um"] == [4, 5, 6] and data["summary"]["nodes"] == 4
    assert world["client"].get(f"/api/datasets/{ds}/neurons/{nid}.tif").status_code == 404


def test_voxel_units_are_scaled_by_the_voxel_size(world):
    ds, nid = world["ids"]["voxels"], _neuron_id(world, "voxels", "line.swc")
    data = world["client"].get(f"/api/datasets/{ds}/neurons/{nid}.json").json()
    assert data["nodes"]["x"] == [2.0, 5.0, 8.0, 2.0]  # x voxels of 0.5 µm
    assert data["nodes"]["z"] == [12.0] * 4  # z voxels of 2 µm


def test_annotations_every_row_once_with_its_values(world):
    ds = world["ids"]["brain"]
    tid = _neuron_id(world, "brain", "cells.csv")
    info = world["client"].get(f"/objects/{ds}/cells/{tid}/info").json()
    assert info["annotation_type"] == "POINT" and [p["id"] for p in info["properties"]] == ["volume", "label"]
    seen = {}
    for level in info["spatial"]:
        gz, gy, gx = level["grid_shape"]
        for i in range(gz):
            for j in range(gy):
                for k in range(gx):
                    body = world["client"].get(f"/objects/{ds}/cells/{tid}/{level['key']}/{i}_{j}_{k}").content
                    ids, xyz, props = decode_points(body, info)
                    for n, a in enumerate(ids.tolist()):
                        assert a not in seen
                        seen[a] = (xyz[n].tolist(), float(props["volume"][n]))
    assert seen == {11: ([1500, 2500, 3000], 10.5), 12: ([20000, 15000, 8000], 3.25), 13: ([23500, 19500, 10000], 7)}
    xyz, props = decode_point_by_id(world["client"].get(f"/objects/{ds}/cells/{tid}/by_id/12").content, info)
    assert xyz.tolist() == [20000, 15000, 8000] and int(props["label"]) == 2
    assert world["client"].get(f"/objects/{ds}/cells/{tid}/by_id/14").status_code == 404
    assert world["client"].get(f"/objects/{ds}/cells/{tid}/by_id/x").status_code == 400
    assert world["client"].get(f"/objects/{ds}/cells/{tid}/spatial0/0_0_01").status_code == 400
    assert world["client"].get(f"/objects/{ds}/cells/{tid}/spatial0/1_0_0").status_code == 404
    assert world["client"].get(f"/objects/{ds}/cells/{tid}/spatial99/0_0_0").status_code == 404
    assert world["client"].get(f"/objects/{ds}/cells/12345/info").status_code == 404


def test_cells_box_query_in_voxels_csv_and_npy(world):
    ds = world["ids"]["brain"]
    # voxel (z, y, x) = (k, j, i) is centred at (2k, 0.5j, 0.5i) µm: cell 11 (x 1.5, y 2.5, z 3) is voxel (1.5, 5, 3)
    r = world["client"].get(f"/api/datasets/{ds}/cells?z=1:3&y=0:10&x=0:10&format=npy")
    rows = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert rows["id"].tolist() == [11] and rows["z"].tolist() == [3.0] and rows["volume"].tolist() == [10.5]
    csv = world["client"].get(f"/api/datasets/{ds}/cells?format=csv").text.splitlines()
    assert csv[0] == "id,z,y,x,volume,label" and len(csv) == 4 and csv[2] == "12,8,15,20,3.25,2"
    assert world["client"].get(f"/api/datasets/{ds}/cells?z=3:1").status_code == 400
    assert world["client"].get(f"/api/datasets/{ds}/cells?format=tif").status_code == 400
    raw = world["client"].get(f"/api/datasets/{ds}/cells/{_neuron_id(world, 'brain', 'cells.csv')}.csv")
    assert raw.content == CELLS.encode()


def test_links_state_and_page(world):
    ds = world["ids"]["brain"]
    links = world["client"].get(f"/api/datasets/{ds}").json()["links"]
    assert links["skeletons"].endswith(f"/objects/{ds}/skeletons") and "/objects/" in links["annotations"]
    state = world["client"].get(f"/api/datasets/{ds}/neuroglancer").json()["state"]
    neuroglancer.ViewerState(state)  # the released package accepts it
    seg = next(layer for layer in state["layers"] if layer["type"] == "segmentation")
    assert sorted(seg["segments"]) == sorted([_neuron_id(world, "brain", "line.swc"),
                                             _neuron_id(world, "brain", "warned.swc")])
    assert "type" in seg["skeletonShader"] and seg["source"]["url"] == f"precomputed://{links['skeletons']}"
    assert any(layer["type"] == "annotation" for layer in state["layers"])
    nid = _neuron_id(world, "brain", "line.swc")
    focused = world["client"].get(f"/api/datasets/{ds}/neuroglancer?neuron={nid}").json()["state"]
    assert focused["position"][:3] == [4 / 0.5, 5 / 0.5, 6 / 2.0]  # the soma, in level-0 voxels
    page = world["client"].get(f"/datasets/{ds}").text
    assert "line.swc" in page and f"neuron={nid}" in page and "Cells: <strong>3</strong>" in page


def test_neuron_names_are_searchable(world):
    world["client"].get(f"/objects/{world['ids']['brain']}/skeletons/segment_properties/info")  # parses all
    found = world["catalog"].find_objects("warned")
    assert [(f["dataset_id"], f["name"]) for f in found] == [(world["ids"]["brain"], "swc/warned.swc")]
    assert {f["name"] for f in world["catalog"].find_objects("axon")} >= {"swc/line.swc"}
    total, records = world["catalog"].search(q="cycle")
    assert world["ids"]["brain"] in [r.id for r in records]
    assert world["ids"]["private"] not in [f["dataset_id"] for f in world["catalog"].find_objects("line")]


ROUTES = [
    "/objects/{id}/info",
    "/objects/{id}/skeletons/info",
    "/objects/{id}/skeletons/{nid}",
    "/objects/{id}/skeletons/segment_properties/info",
    "/objects/{id}/cells/{tid}/info",
    "/objects/{id}/cells/{tid}/spatial0/0_0_0",
    "/api/datasets/{id}/neurons",
    "/api/datasets/{id}/neurons/{nid}.swc",
    "/api/datasets/{id}/neurons/{nid}.json",
    "/api/datasets/{id}/cells",
    "/api/datasets/{id}/cells/{tid}.csv",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(("level", "status"), [("embargoed", 401), ("private", 404)])
def test_access_like_chunks(world, route, level, status):
    ds = world["ids"][level]
    path = route.format(id=ds, nid=_neuron_id(world, level, "line.swc"), tid=_neuron_id(world, level, "cells.csv"))
    anonymous = world["client"].get(path)
    assert anonymous.status_code == status, anonymous.text
    granted = world["client"].get(path, headers={"Authorization": f"Bearer {world['token']}"})
    assert granted.status_code == 200
    assert "private" in granted.headers["cache-control"]
    assert world["client"].get(f"/t/{world['token']}{path}").status_code == 200


def test_a_changed_swc_is_a_new_version(world):
    ds = world["ids"]["voxels"]
    nid = _neuron_id(world, "voxels", "line.swc")
    before = world["client"].get(f"/objects/{ds}/skeletons/{nid}")
    path = world["root"] / "swc" / "line.swc"
    path.write_text(LINE.replace("16 5 6", "18 5 6"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # open datasets are restamped every few seconds
            after = world["client"].get(f"/objects/{ds}/skeletons/{nid}")
            if after.content != before.content:
                break
            time.sleep(0.5)
        assert after.headers["etag"] != before.headers["etag"]
        positions = decode_skeleton(after.content, world["client"].get(f"/objects/{ds}/skeletons/info").json())
        assert positions["positions"][2, 0] == 18 * 0.5 * 1000
    finally:
        path.write_text(LINE)


def test_neuron_list_parse_modes(world):
    ds = world["ids"]["brain"]
    quick = world["client"].get(f"/api/datasets/{ds}/neurons?parse=0").json()
    assert sorted(n["label"] for n in quick["neurons"]) == ["cycle.swc", "empty.swc", "line.swc", "warned.swc"]
    assert quick["cell_tables"] == [{"id": _neuron_id(world, "brain", "cells.csv"), "name": "cells.csv"}]
    auto = world["client"].get(f"/api/datasets/{ds}/neurons").json()["neurons"]  # a few bytes: parsed
    line = next(n for n in auto if n["label"] == "line.swc")
    assert line["nodes"] == 4 and line["cable_length_um"] == 16
    assert world["client"].get(f"/api/datasets/{ds}/neurons?parse=yes").status_code == 400


def test_search_results_count_objects_instead_of_listing_them(world):
    found = world["client"].get("/api/datasets?q=synthetic brain&limit=100").json()["datasets"]
    found = found or world["client"].get("/api/datasets?limit=100").json()["datasets"]
    brain = next(d for d in found if d["id"] == world["ids"]["brain"])
    assert "attached" not in brain and brain["objects"] == {"neuron": 4, "cells": 1}
    record = world["client"].get(f"/api/datasets/{world['ids']['brain']}").json()
    assert len(record["attached"]) == 5


def test_a_vanished_neuron_is_404(world):
    root = world["root"] / "gone"
    (root / "swc").mkdir(parents=True)
    (root / "swc" / "a.swc").write_text(LINE)
    _brain(root, "gone", {"neurons": "swc/*.swc"})
    scan(root, world["catalog"])
    ds = next(r.id for r in world["catalog"].all() if r.title == "gone.ome.tif")
    nid = world["catalog"].get(ds).attached[0]["id"]
    (root / "swc" / "a.swc").unlink()
    r = world["client"].get(f"/objects/{ds}/skeletons/{nid}")
    assert r.status_code == 404 and "gone" in r.json()["reason"] and "/" not in r.json()["reason"].replace("swc/", "")


def test_segment_properties_of_many_unparsed_neurons_leave_numbers_out(world, monkeypatch):
    from transformer.engine import objects

    root = world["root"] / "many"
    (root / "swc").mkdir(parents=True)
    for i in range(3):
        (root / "swc" / f"n{i}.swc").write_text(LINE)
    _brain(root, "many", {"neurons": "swc/*.swc"})
    scan(root, world["catalog"])
    ds = next(r.id for r in world["catalog"].all() if r.title == "many.ome.tif")
    monkeypatch.setattr(objects, "AUTO_PARSE_BYTES", 10)  # three files of 90 bytes are "too many" to parse now
    props = world["client"].get(f"/objects/{ds}/skeletons/segment_properties/info")
    assert props.status_code == 200 and props.headers["cache-control"] == "public, max-age=0"
    kinds = [p["id"] for p in props.json()["inline"]["properties"]]
    assert kinds == ["label"] and len(props.json()["inline"]["ids"]) == 3
    nid = world["catalog"].get(ds).attached[0]["id"]
    assert world["client"].get(f"/objects/{ds}/skeletons/{nid}").status_code == 200  # viewing one parses it
    props = world["client"].get(f"/objects/{ds}/skeletons/segment_properties/info").json()
    tags = next(p for p in props["inline"]["properties"] if p["id"] == "tags")
    assert sum(1 for v in tags["values"] if v) == 1  # the parsed one has its types, the others none yet
    monkeypatch.setattr(objects, "AUTO_PARSE_BYTES", 64 << 20)
    props = world["client"].get(f"/objects/{ds}/skeletons/segment_properties/info").json()
    assert [p["id"] for p in props["inline"]["properties"]] == ["label", "tags", "nodes", "cable_length_um"]
