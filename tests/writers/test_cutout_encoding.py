"""writers/cutout.py without a server: range grammar, slabs bounded by SLAB_BYTES whatever the box, and the
streamed .npy byte for byte what numpy.save writes (``npy_chunks`` yields exactly the pieces the cutout route
sends, and ``npy_bytes`` is its Content-Length)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from writers import cutout
from writers.cutout import Box, npy_chunks, parse_box, parse_range, slabs
from writers.errors import MalformedKey, NoSuchKey


@pytest.mark.parametrize(("raw", "expected"), [
    (None, slice(0, 50)), ("", slice(0, 50)), (":", slice(0, 50)), ("3", slice(3, 4)), ("3:9", slice(3, 9)),
    (":9", slice(0, 9)), ("7:", slice(7, 50)), ("40:99", slice(40, 50)), (" 2 : 5 ", slice(2, 5)),
])
def test_ranges(raw, expected):
    assert parse_range("z", raw, 50) == expected


@pytest.mark.parametrize(("raw", "error"), [
    ("a", MalformedKey), ("1:2:3", MalformedKey), ("-1:4", MalformedKey), ("5:5", MalformedKey),
    ("9:3", MalformedKey), ("50", NoSuchKey), ("50:60", NoSuchKey),
])
def test_bad_ranges(raw, error):
    with pytest.raises(error):
        parse_range("z", raw, 50)


def test_slabs_stay_within_the_budget_and_cover_the_box(monkeypatch):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 5 * 30 * 40 * 2)  # five planes of 30 × 40 uint16
    box = parse_box(0, {"t": "0:2", "c": "1:3", "z": "3:20", "y": "0:30", "x": "10:50"}, (2, 3, 40, 30, 60))
    pieces = list(slabs(box, np.uint16))
    assert all(z.stop - z.start <= 5 and y == slice(0, 30) for _, _, z, y in pieces)
    covered = [(t, c, zi) for t, c, z, _ in pieces for zi in range(z.start, z.stop)]
    assert covered == [(t, c, z) for t in (0, 1) for c in (1, 2) for z in range(3, 20)]


def test_a_plane_over_the_budget_is_cut_into_bands_of_rows(monkeypatch):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 7 * 40 * 2)  # seven rows of 40 uint16
    box = parse_box(0, {"z": "3:5", "y": "0:30", "x": "10:50"}, (1, 1, 40, 30, 60))
    pieces = list(slabs(box, np.uint16))
    assert all(z.stop - z.start == 1 and y.stop - y.start <= 7 for _, _, z, y in pieces)
    covered = [(z.start, yi) for _, _, z, y in pieces for yi in range(y.start, y.stop)]
    assert covered == [(z, y) for z in (3, 4) for y in range(30)]


@pytest.mark.parametrize("budget", [3 * 7 * 11 * 4, 2 * 11 * 4])  # three planes; two rows
def test_streamed_npy_is_what_numpy_saves(monkeypatch, budget):
    monkeypatch.setattr(cutout, "SLAB_BYTES", budget)
    volume = np.arange(2 * 2 * 13 * 7 * 11, dtype=np.float32).reshape(2, 2, 13, 7, 11)
    box = Box(0, (slice(0, 2), slice(0, 2), slice(0, 13), slice(0, 7), slice(0, 11)))
    pieces = list(npy_chunks(box, volume.dtype, lambda t, c, z, y: volume[t, c, z, y]))
    assert max(len(p) for p in pieces[1:]) <= cutout.SLAB_BYTES
    expected = io.BytesIO()
    np.save(expected, volume)
    assert b"".join(pieces) == expected.getvalue()
    assert cutout.npy_bytes(box, volume.dtype) == len(expected.getvalue())


@pytest.mark.parametrize("budget", [1 << 20, 300])  # whole planes; bands of rows (tiled TIFF)
def test_tiff_and_h5_files_equal_the_box(monkeypatch, tmp_path, budget):
    import h5py
    import tifffile

    monkeypatch.setattr(cutout, "SLAB_BYTES", budget)
    monkeypatch.setattr(cutout, "TIFF_TILE", 16)
    volume = np.random.default_rng(1).integers(0, 60000, (1, 2, 5, 37, 41), dtype=np.uint16)
    box = Box(0, tuple(slice(0, n) for n in volume.shape))
    meta = cutout.Physical((2.0, 0.5, 0.5), (0.0, 0.0, 0.0), ("a", "b"), "test")

    def read(t, c, z, y):
        return volume[t, c, z, y]

    cutout.write_tiff(tmp_path / "b.ome.tif", box, volume.dtype, read, meta)
    with tifffile.TiffFile(tmp_path / "b.ome.tif") as tif:
        assert tif.pages[0].is_tiled == (budget == 300)
        np.testing.assert_array_equal(tif.series[0].asarray().reshape(volume.shape), volume)
    cutout.write_h5(tmp_path / "b.h5", box, volume.dtype, read, meta)
    with h5py.File(tmp_path / "b.h5", "r") as f:
        np.testing.assert_array_equal(f["data"][...], volume)
