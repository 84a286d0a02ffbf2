"""Precomputed skeletons: the bytes against the format's arithmetic and an independent reader (osteoid)."""

from __future__ import annotations

import numpy as np
import pytest

from readers.objects.swc import parse_swc
from tests.helpers import real_data
from tests.require import module, unavailable
from writers import skeletons
from writers.skeletons import (
    SkeletonError,
    decode_skeleton,
    encode_skeleton,
    segment_properties_info,
    skeleton_arrays,
    skeleton_info,
)

osteoid = module("osteoid")

SWC = b"""# a soma and a fork
1 1 10.5 20 30 4 -1
2 3 11.5 20 30 1.5 1
3 3 12.5 20 30 1.25 2
4 4 10.5 21 30 2 1
5 4 10.5 22.25 30 0 4
"""


def skeleton_of(data: bytes) -> tuple[bytes, tuple[np.ndarray, ...]]:
    m = parse_swc(data)
    arrays = skeleton_arrays(m.xyz, m.parent, m.radius, m.types)
    return encode_skeleton(*arrays), arrays


def test_info():
    assert skeleton_info() == {
        "@type": "neuroglancer_skeletons",
        "transform": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
        "vertex_attributes": [
            {"id": "radius", "data_type": "float32", "num_components": 1},
            {"id": "type", "data_type": "float32", "num_components": 1},
        ],
        "segment_properties": "segment_properties",
    }
    assert "segment_properties" not in skeleton_info(None)


def test_bytes_follow_the_format():
    data, _ = skeleton_of(SWC)
    nv, ne = 5, 4
    assert len(data) == 8 + 12 * nv + 8 * ne + 4 * nv + 4 * nv
    assert np.frombuffer(data, "<u4", 2).tolist() == [nv, ne]
    positions = np.frombuffer(data, "<f4", nv * 3, 8).reshape(nv, 3)
    assert positions[0].tolist() == [10500.0, 20000.0, 30000.0]  # µm x 1000, x,y,z
    assert positions[4].tolist() == [10500.0, 22250.0, 30000.0]
    edges = np.frombuffer(data, "<u4", ne * 2, 8 + 12 * nv).reshape(ne, 2)
    assert edges.tolist() == [[1, 0], [2, 1], [3, 0], [4, 3]]  # child -> parent
    radius = np.frombuffer(data, "<f4", nv, 8 + 12 * nv + 8 * ne)
    assert radius.tolist() == [4000.0, 1500.0, 1250.0, 2000.0, 0.0]
    types = np.frombuffer(data, "<f4", nv, 8 + 12 * nv + 8 * ne + 4 * nv)
    assert types.tolist() == [1.0, 3.0, 3.0, 4.0, 4.0]


def test_osteoid_reads_the_bytes_and_writes_them_back():
    data, (positions, edges, radius, types) = skeleton_of(SWC)
    skel = osteoid.Skeleton.from_precomputed(data, segid=7, vertex_attributes=skeleton_info()["vertex_attributes"])
    assert np.array_equal(skel.vertices, positions)
    assert np.array_equal(skel.edges, edges)
    assert np.array_equal(skel.radius, radius)
    assert np.array_equal(np.asarray(skel.type).ravel(), types)
    assert skel.to_precomputed() == data


def test_voxel_units_scale_each_axis():
    m = parse_swc(SWC)
    positions, _, radius, _ = skeleton_arrays(
        m.xyz, m.parent, m.radius, m.types, um_per_unit=(0.5, 0.5, 2.0), offset_um=(1.0, 0.0, 0.0)
    )
    assert positions[0].tolist() == [(10.5 * 0.5 + 1.0) * 1000, 10000.0, 60000.0]
    assert radius[0] == 2000.0  # the radius follows the x,y scale


def test_decode_round_trip_and_damage():
    data, (positions, edges, radius, types) = skeleton_of(SWC)
    out = decode_skeleton(data, skeleton_info())
    assert np.array_equal(out["positions"], positions) and np.array_equal(out["edges"], edges)
    assert np.array_equal(out["radius"], radius) and np.array_equal(out["type"], types)
    with pytest.raises(SkeletonError):
        decode_skeleton(data[:-1], skeleton_info())
    with pytest.raises(SkeletonError):
        decode_skeleton(data + b"\0\0\0\0", skeleton_info())
    with pytest.raises(SkeletonError):
        encode_skeleton(positions, np.array([[9, 0]], np.uint32), radius, types)


def test_a_single_node_and_an_empty_skeleton():
    one, _ = skeleton_of(b"1 1 0 0 0 1 -1\n")
    assert len(one) == 8 + 12 + 0 + 8
    empty = encode_skeleton(np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    assert empty == b"\0" * 8
    skel = osteoid.Skeleton.from_precomputed(empty, segid=1, vertex_attributes=skeleton_info()["vertex_attributes"])
    assert len(skel.vertices) == 0


def test_segment_properties():
    doc = segment_properties_info(
        [3, 1],
        ["b.swc", "a.swc"],
        [["axon", "soma"], ["basal dendrite", "#axon"]],
        {"n_nodes": [10, 2], "cable_length_um": [1.25, 1e-9]},
    )
    assert doc["@type"] == "neuroglancer_segment_properties"
    inline = doc["inline"]
    assert inline["ids"] == ["3", "1"]
    label, tags, nodes, cable = inline["properties"]
    assert label == {"id": "label", "type": "label", "values": ["b.swc", "a.swc"]}
    assert tags["tags"] == ["axon", "basal_dendrite", "soma"]
    assert tags["values"] == [[0, 2], [0, 1]]  # increasing indices, no '#', no spaces
    assert nodes == {"id": "n_nodes", "type": "number", "data_type": "float32", "values": [10.0, 2.0]}
    assert cable["values"] == [1.25, float(np.float32(1e-9))]
    with pytest.raises(ValueError):
        segment_properties_info([1], ["a", "b"], [[]], {})


def real_swc_files() -> list[str]:
    root = real_data()
    found = sorted(p.name for p in (root / "swc").glob("*.swc")) if root else []
    return found or ["<real data missing>"]


@pytest.mark.parametrize("name", real_swc_files())
def test_real_neurons_through_osteoid(name):
    root = real_data()
    path = root / "swc" / name if root else None
    if path is None or not path.is_file():
        unavailable("shared", "the real SWC samples are not in ../shared/data/real/swc")
    m = parse_swc(path.read_bytes())
    data, (positions, edges, radius, types) = skeleton_of(path.read_bytes())
    nv, ne = len(m.ids), len(m.ids) - m.summary()["roots"]
    assert len(data) == 8 + 12 * nv + 8 * ne + 8 * nv
    skel = osteoid.Skeleton.from_precomputed(data, segid=1, vertex_attributes=skeleton_info()["vertex_attributes"])
    assert np.array_equal(skel.vertices, (m.xyz * 1000).astype(np.float32))
    assert skel.to_precomputed() == data
    # the cable length osteoid measures (nm) is ours (µm) x 1000
    assert skel.cable_length() == pytest.approx(m.summary()["cable_length_um"] * 1000, rel=1e-5)


def test_skeleton_um_and_volume_info_and_properties_of_summaries():
    """What the service builds from a parsed neuron: nm bytes, the cloud-volume info, segment properties."""
    xyz_um = np.array([[1.0, 2.0, 3.0], [4.5, 5.0, 6.0]])
    edges = np.array([[1, 0]], dtype=np.uint32)
    body = skeletons.encode_skeleton_um(xyz_um, edges, np.array([0.5, 0.25]), np.array([1, 3]))
    out = skeletons.decode_skeleton(body, skeletons.skeleton_info())
    np.testing.assert_array_equal(out["positions"], (xyz_um * 1000).astype(np.float32))
    np.testing.assert_array_equal(out["radius"], np.float32([500, 250]))
    np.testing.assert_array_equal(out["type"], np.float32([1, 3]))
    info = skeletons.skeleton_volume_info((10, 20, 30), (4.0, 2.0, 1.0))
    assert info["scales"][0]["size"] == [30, 20, 10] and info["scales"][0]["resolution"] == [1000, 2000, 4000]
    summaries = [{"id": "7", "label": "a.swc", "type_names": ["soma"], "nodes": 2, "cable_length_um": 3.5},
                 {"id": "9", "label": "b.swc", "refusal": "cycle"}]
    props = skeletons.properties_of_summaries(summaries)["inline"]
    assert props["ids"] == ["7"]
    assert {p["id"] for p in props["properties"]} >= {"label", "nodes", "cable_length_um"}
    no_numbers = skeletons.properties_of_summaries([{"id": "7", "label": "a.swc"}])["inline"]
    assert {p["id"] for p in no_numbers["properties"]} == {"label"}
