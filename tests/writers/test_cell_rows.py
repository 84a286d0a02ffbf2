"""The box query's cell rows: CSV and npy encode/decode, and numpy's own readers agree."""

from __future__ import annotations

import io

import numpy as np
import pytest

from writers.cell_rows import decode_cell_rows, encode_cell_rows


@pytest.mark.parametrize("fmt", ["csv", "npy"])
def test_cell_rows_round_trip(fmt):
    ids = np.array([3, 1, 2**40], dtype=np.uint64)
    xyz_nm = np.array([[1000, 2000, 3000], [1500, 0, 250], [7, 8, 9]], dtype=np.float32)
    props = {"intensity": np.array([10.0, 20.5, 0.0]), "size": np.array([1, 2, 3])}
    rows = decode_cell_rows(encode_cell_rows(ids, xyz_nm, props, fmt), fmt)
    assert rows.dtype.names == ("id", "z", "y", "x", "intensity", "size")
    assert rows["id"].tolist() == ids.tolist()
    np.testing.assert_allclose(np.column_stack([rows["x"], rows["y"], rows["z"]]), xyz_nm / 1000.0, rtol=1e-7)
    np.testing.assert_array_equal(rows["intensity"], props["intensity"])


def test_csv_is_plain_csv_and_empty_box_is_a_header():
    body = encode_cell_rows(np.array([5], dtype=np.uint64), np.array([[1000.0, 2000.0, 3000.0]]), {}, "csv")
    assert body.decode().splitlines() == ["id,z,y,x", "5,3,2,1"]
    empty = encode_cell_rows(np.zeros(0, np.uint64), np.zeros((0, 3)), {"a": np.zeros(0)}, "csv")
    assert empty == b"id,z,y,x,a\n"
    npy = np.load(io.BytesIO(encode_cell_rows(np.zeros(0, np.uint64), np.zeros((0, 3)), {}, "npy")))
    assert len(npy) == 0
