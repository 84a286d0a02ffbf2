"""Precomputed POINT annotations: bytes against neuroglancer's own writer, and the multilevel spatial index
read back by neuroglancer's AnnotationReader (tensorstore) from a directory written to tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.require import module
from writers.annotations import (
    MAX_LEVELS,
    AnnotationError,
    IdLookup,
    annotation_info,
    bounds,
    cell_key,
    decode_point_by_id,
    decode_points,
    encode_point_by_id,
    encode_points,
    order_properties,
    parse_cell_key,
    plan_spatial,
    record_dtype,
)

neuroglancer = module("neuroglancer")
module("tensorstore")
from neuroglancer.read_precomputed_annotations import AnnotationReader  # noqa: E402
from neuroglancer.write_annotations import AnnotationWriter  # noqa: E402


def columns_for(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # listed 1-byte first on purpose: order_properties must put them 4 -> 2 -> 1
    return {
        "label": rng.integers(0, 5, n).astype(np.float64),  # uint8
        "depth": rng.integers(-300, 300, n).astype(np.float64),  # int16
        "intensity": rng.random(n) * 1000,  # float32
        "count": rng.integers(0, 100_000, n).astype(np.float64),  # int32
    }


def test_order_properties_picks_exact_types_4_2_1():
    specs = order_properties(columns_for(50, np.random.default_rng(0)))
    assert specs == [
        {"id": "intensity", "type": "float32"},
        {"id": "count", "type": "int32"},
        {"id": "depth", "type": "int16"},
        {"id": "label", "type": "uint8"},
    ]
    assert order_properties({"a": np.array([0.0, np.nan])}) == [{"id": "a", "type": "float32"}]
    assert order_properties({"a": np.array([-1, 2**40])}) == [{"id": "a", "type": "float32"}]
    with pytest.raises(AnnotationError):
        order_properties({"Bad": np.zeros(2)})


def test_info_refuses_uint32_and_unordered_properties():
    info = annotation_info([0, 0, 0], [10, 10, 10], [{"id": "a", "type": "float32"}], [], dimensions_nm=(1, 1, 2))
    assert info["annotation_type"] == "POINT"
    assert info["dimensions"] == {"x": [1e-9, "m"], "y": [1e-9, "m"], "z": [2e-9, "m"]}
    assert info["by_id"] == {"key": "by_id"} and info["relationships"] == [] and info["spatial"] == []
    with pytest.raises(AnnotationError):
        annotation_info([0, 0, 0], [1, 1, 1], [{"id": "a", "type": "uint32"}], [])
    with pytest.raises(AnnotationError):
        annotation_info([0, 0, 0], [1, 1, 1], [{"id": "a", "type": "uint8"}, {"id": "b", "type": "float32"}], [])


def test_bytes_equal_neuroglancers_writer(tmp_path):
    """One level written by neuroglancer's AnnotationWriter is the byte reference for records and cells."""
    rng = np.random.default_rng(3)
    n = 40
    xyz = (rng.random((n, 3)) * [1000, 2000, 500]).astype(np.float32)
    cols = columns_for(n, rng)
    specs = order_properties(cols)
    ids = np.arange(100, 100 + n, dtype=np.uint64)
    space = neuroglancer.CoordinateSpace(names=["x", "y", "z"], units="nm", scales=[1, 1, 1])
    writer = AnnotationWriter(space, "point", properties=[neuroglancer.AnnotationPropertySpec(**s) for s in specs])
    for i in range(n):
        writer.add_point(xyz[i].tolist(), id=int(ids[i]), **{k: v[i].item() for k, v in cols.items()})
    writer.write(tmp_path)
    theirs = json.loads((tmp_path / "info").read_text())
    assert [p["id"] for p in theirs["properties"]] == [s["id"] for s in specs]
    assert record_dtype(specs).itemsize == 12 + 4 + 4 + 2 + 1 + 1  # already aligned: no padding but the last
    cell = encode_points(xyz, cols, specs, ids)
    assert cell == (tmp_path / "spatial0" / "0_0_0").read_bytes()
    for i in (0, 17, n - 1):
        one = encode_point_by_id(xyz[i], {k: v[i] for k, v in cols.items()}, specs)
        assert one == (tmp_path / "by_id" / str(int(ids[i]))).read_bytes()
        info = annotation_info(*bounds(xyz), specs, [])
        point, props = decode_point_by_id(one, info)
        assert point.tolist() == xyz[i].tolist() and props["count"] == cols["count"][i]


def test_plan_assigns_every_point_once_in_half_open_cells():
    rng = np.random.default_rng(5)
    n = 50_000
    xyz = (rng.random((n, 3)) * 8192).astype(np.float32)
    xyz[:100] = [4096, 4096, 4096]  # on the boundary of the level-1 cells: must land in the upper cell
    lower, upper = bounds(xyz)
    plan = plan_spatial(xyz, lower, upper, limit=1000, seed=1)
    assert plan.levels[0]["grid_shape"] == [1, 1, 1]
    assert plan.levels[0]["chunk_size"] == [u - lo for u, lo in zip(upper, lower, strict=True)]
    seen = np.zeros(n, dtype=np.int64)
    for li, level in enumerate(plan.levels):
        chunk = np.asarray(level["chunk_size"])
        for ijk in np.ndindex(*level["grid_shape"]):
            rows = plan.cell(li, ijk)
            seen[rows] += 1
            if li < len(plan.levels) - 1:
                assert len(rows) <= 1000
            lo = np.asarray(lower) + np.asarray(ijk) * chunk
            assert ((xyz[rows] >= lo) & (xyz[rows] < lo + chunk)).all()  # half-open
            assert (plan.level_of[rows] == li).all()
    assert (seen == 1).all()
    assert len(plan.cell(0, (0, 0, 0))) == 1000  # the coarsest level holds a sample up to the limit
    # the sample is random, not the file's first rows
    assert np.median(plan.cell(0, (0, 0, 0))) > n / 4
    with pytest.raises(AnnotationError):
        plan.cell(0, (1, 0, 0))


def test_many_points_at_one_spot_end_at_the_last_level():
    xyz = np.zeros((5000, 3), dtype=np.float32)
    xyz[0] = [100, 100, 100]
    plan = plan_spatial(xyz, *bounds(xyz), limit=10)
    assert len(plan.levels) == MAX_LEVELS
    assert np.bincount(plan.level_of, minlength=MAX_LEVELS).sum() == 5000


def test_cell_keys():
    level = {"grid_shape": [4, 2, 1]}
    assert parse_cell_key("3_1_0", level) == (3, 1, 0)
    assert cell_key((3, 1, 0)) == "3_1_0"
    for bad in ("4_0_0", "01_0_0", "-1_0_0", "1_0", "1_0_0_0", "a_b_c", "1_0_0 ", "+1_0_0", "1__0"):
        assert parse_cell_key(bad, level) is None


def test_id_lookup():
    seq = IdLookup(np.arange(1, 11, dtype=np.uint64))
    assert seq.row(1) == 0 and seq.row(10) == 9 and seq.row(0) is None and seq.row(11) is None
    scattered = IdLookup(np.array([50, 7, 2**63 + 5], dtype=np.uint64))
    assert scattered.row(7) == 1 and scattered.row(2**63 + 5) == 2 and scattered.row(8) is None
    assert scattered.row(-1) is None and scattered.row(2**64) is None


def test_decode_points_round_trip_and_damage():
    rng = np.random.default_rng(2)
    xyz = rng.random((7, 3)).astype(np.float32)
    cols = columns_for(7, rng)
    specs = order_properties(cols)
    info = annotation_info(*bounds(xyz), specs, [])
    data = encode_points(xyz, cols, specs, np.arange(7))
    ids, pts, props = decode_points(data, info)
    assert ids.tolist() == list(range(7)) and np.array_equal(pts, xyz)
    assert np.array_equal(props["depth"], cols["depth"])
    empty = encode_points(np.zeros((0, 3)), {k: v[:0] for k, v in cols.items()}, specs, np.zeros(0))
    assert empty == b"\0" * 8
    for bad in (data[:-1], data[:4]):
        with pytest.raises(AnnotationError):
            decode_points(bad, info)


def write_source(root, xyz, cols, ids, limit, by_id_rows):
    """The directory a server would serve: info, every cell of every level (empty ones too), some by_id."""
    specs = order_properties(cols)
    lower, upper = bounds(xyz)
    plan = plan_spatial(xyz, lower, upper, limit=limit)
    info = annotation_info(lower, upper, specs, plan.levels)
    root.mkdir()
    (root / "info").write_text(json.dumps(info))
    for li, level in enumerate(plan.levels):
        (root / level["key"]).mkdir()
        for ijk in np.ndindex(*level["grid_shape"]):
            rows = plan.cell(li, ijk)
            body = encode_points(xyz[rows], {k: v[rows] for k, v in cols.items()}, specs, ids[rows])
            (root / level["key"] / cell_key(ijk)).write_bytes(body)
    (root / "by_id").mkdir()
    for r in by_id_rows:
        (root / "by_id" / str(int(ids[r]))).write_bytes(
            encode_point_by_id(xyz[r], {k: v[r] for k, v in cols.items()}, specs)
        )
    return plan, info


def test_neuroglancer_reader_finds_every_point_once(tmp_path):
    rng = np.random.default_rng(11)
    n = 200_000
    xyz = (rng.random((n, 3)) * [2e6, 1e6, 5e5] + [1e5, 0, 3e3]).astype(np.float32)
    cols = columns_for(n, rng)
    ids = rng.permutation(np.arange(10**12, 10**12 + n, dtype=np.uint64))  # ids that are not rows
    by_id_rows = rng.choice(n, 300, replace=False)
    plan, info = write_source(tmp_path / "cells", xyz, cols, ids, 10_000, by_id_rows)
    assert len(plan.levels) >= 3

    reader = AnnotationReader(f"file://{tmp_path / 'cells'}/")
    assert [p.id for p in reader.properties] == ["intensity", "count", "depth", "label"]
    found = list(reader.get_within_spatial_bounds())
    got_ids = np.array([int(a.id) for a in found], dtype=np.uint64)
    assert len(got_ids) == n and len(np.unique(got_ids)) == n  # every row exactly once
    by_id_order = np.argsort(ids)
    rows = by_id_order[np.searchsorted(ids[by_id_order], got_ids)]
    assert np.array_equal(ids[rows], got_ids)
    points = np.array([a.point for a in found], dtype=np.float32)
    assert np.array_equal(points, xyz[rows])
    for k, name in enumerate(["intensity", "count", "depth", "label"]):
        values = np.array([a.props[k] for a in found])
        assert np.array_equal(values, cols[name][rows].astype(values.dtype))
    for r in by_id_rows[:50]:
        a = reader.by_id[int(ids[r])]
        assert np.array_equal(np.asarray(a.point, dtype=np.float32), xyz[r])
        assert float(a.props[0]) == float(np.float32(cols["intensity"][r]))
        assert int(a.props[1]) == cols["count"][r]


def test_clustered_points_and_empty_cells(tmp_path):
    """A dense cluster and two outliers: deep levels are mostly empty cells (8 zero bytes), read as empty."""
    rng = np.random.default_rng(1)
    n = 3000
    xyz = np.concatenate([rng.random((n - 2, 3)) * 300, [[1000, 1000, 1000], [999, 0, 0]]]).astype(np.float32)
    cols = columns_for(n, rng)
    ids = np.arange(1, n + 1, dtype=np.uint64)
    plan, _ = write_source(tmp_path / "cells", xyz, cols, ids, 300, [0, n - 1])
    empty = [p for p in (tmp_path / "cells").glob("spatial*/*") if p.read_bytes() == b"\0" * 8]
    assert len(plan.levels) >= 3 and len(empty) > 10
    reader = AnnotationReader(f"file://{tmp_path / 'cells'}/")
    found = sorted(int(a.id) for a in reader.get_within_spatial_bounds())
    assert found == list(range(1, n + 1))
    # a box query over the outliers' corner finds them and nothing else
    corner = [int(a.id) for a in reader.get_within_spatial_bounds(lower_bound=[900, 900, 900])]
    assert corner == [n - 1]
    assert np.array_equal(np.asarray(reader.by_id[n].point, dtype=np.float32), xyz[n - 1])


def test_plan_is_runs_of_one_permutation():
    """What the server keeps: one permutation and the key and start of each non-empty cell, increasing."""
    rng = np.random.default_rng(8)
    xyz = (rng.normal(0, 1, (20_000, 3)) ** 3 * 1000).astype(np.float32)  # clustered: many empty cells
    plan = plan_spatial(xyz, *bounds(xyz), limit=300)
    n = len(xyz)
    assert np.array_equal(np.sort(plan.order), np.arange(n)) and plan.order.dtype == np.int32
    assert (np.diff(plan.keys) > 0).all() and (np.diff(plan.starts) > 0).all()
    assert plan.starts[0] == 0 and plan.starts[-1] == n and len(plan.starts) == len(plan.keys) + 1
    total = 0
    for li, level in enumerate(plan.levels):
        g = level["grid_shape"]
        for c in np.flatnonzero((plan.keys >= plan.bases[li]) & (plan.keys < plan.bases[li] + int(np.prod(g)))):
            linear = int(plan.keys[c]) - plan.bases[li]
            ijk = (linear // (g[1] * g[2]), linear // g[2] % g[1], linear % g[2])
            rows = plan.cell(li, ijk)
            assert np.array_equal(rows, plan.order[plan.starts[c] : plan.starts[c + 1]])
            assert (plan.level_of[rows] == li).all() and (plan.cell_of[rows] == ijk).all()
            total += len(rows)
    assert total == n
    assert plan.nbytes == plan.order.nbytes + plan.keys.nbytes + plan.starts.nbytes
