"""Bench part 13 (views) runs end to end at a tiny size: every row is there with positive figures, and the
view model picks the flat chunk size for xy and a deeper one for xz of a slice stack. No timing asserted."""

from __future__ import annotations

import pytest

from bench.__main__ import main
from bench.views import decoded_bytes, pick_position, screen_box, view_keys, view_scales

pytestmark = pytest.mark.slow  # ~20 s: a fresh server per row


def test_view_model_picks_the_chunk_size_with_the_largest_cross_section():
    sizes = [[512, 512, 1], [64, 64, 64]]
    assert sizes[pick_position(sizes, "xy")] == [512, 512, 1] and sizes[pick_position(sizes, "xz")] == [64, 64, 64]
    assert screen_box([4096, 4096, 10000], "xy") == [(1548, 2548), (1648, 2448), (5000, 5001)]
    info = {"scales": [{"key": "0", "size": [4096, 4096, 10000], "resolution": [1, 1, 1], "chunk_sizes": sizes}]}
    keys, level0 = view_keys(info, "xy")
    assert keys == ["0/1536-2048_1536-2048_5000-5001", "0/1536-2048_2048-2560_5000-5001",
                    "0/2048-2560_1536-2048_5000-5001", "0/2048-2560_2048-2560_5000-5001"]
    assert len(view_keys(info, "xz")[1]) == 16 * 14  # x 1548-2548 and z 4600-5400 over 64³ chunks


def test_view_model_reads_the_finest_scales_position_at_every_scale():
    """As Neuroglancer does: the position is chosen by the finest scale, and a scale whose list is shorter than
    that position is left out (the lists are transposed), whatever the coarser scales' own sizes would suit."""
    scales = [{"key": "0", "chunk_sizes": [[512, 512, 1], [64, 64, 64], [512, 1, 64]]},
              {"key": "1", "chunk_sizes": [[256, 256, 1], [256, 256, 2], [64, 64, 64]]},
              {"key": "2", "chunk_sizes": [[128, 128, 1], [64, 64, 64]]}]
    assert [(s["key"], c) for s, c in view_scales(scales, "xz")] == [("0", [512, 1, 64]), ("1", [64, 64, 64])]
    assert [c for _, c in view_scales(scales, "xy")] == [[512, 512, 1], [256, 256, 1], [128, 128, 1]]


def test_decoded_bytes_counts_cached_units_once_and_raw_rows_per_chunk():
    """Two 512² chunks side by side in one plane: 256² tiles are decoded once each (8 tiles of 2 bytes);
    2048-wide raw rows read whole are read by both chunks; rows read by column span cost the voxels."""
    chunks = [[0, 512, 0, 512, 0, 1], [512, 1024, 0, 512, 0, 1]]
    assert decoded_bytes(chunks, (1, 256, 256), 2) == 8 * 256 * 256 * 2
    assert decoded_bytes(chunks, (1, 1, 2048), 2, cached=False) == 2 * 512 * 2048 * 2
    assert decoded_bytes(chunks, (1, 1, 1), 2, cached=False) == 2 * 512 * 512 * 2
    full_rows = [[0, 2048, 0, 128, 0, 1], [0, 2048, 128, 256, 0, 1]]  # --chunks auto for such rows
    assert decoded_bytes(full_rows, (1, 1, 2048), 2, cached=False) == 256 * 2048 * 2


def test_views_part_runs(tmp_path, capsys):
    args = ["--shape", "16,128,128", "--formats", "tiff-zstd,jpeg2000", "--only", "views",
            "--data", str(tmp_path / "data"), "--doc", str(tmp_path / "b.md")]
    assert main(args) == 0
    text = (tmp_path / "b.md").read_text()
    assert "## 13. Views, not chunks" in text
    rows = [line for line in text.splitlines() if line.startswith(("| tiff-zstd | ", "| jpeg2000 | "))]
    assert len(rows) == 2 * 2 * 2 + 2 * 2  # per format: 2 layouts x 2 views, then 2 speedup rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(float(c) > 0 for c in cells[3:]), row
