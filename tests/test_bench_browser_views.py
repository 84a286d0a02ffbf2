"""bench/browser_views.py's pure helpers: the screen position, reading chunk keys from an access log, the
per-level cross-check against the view model, the answer timeline and the in-process floor. No browser."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest
import tifffile

from bench.browser_views import (
    centre,
    fetched_chunks,
    in_process_seconds,
    per_level,
    register,
    summarise,
    timeline,
)
from bench.views import screen_box, view_keys
from transformer.testing import Server
from writers.errors import MalformedKey

LOG = """INFO:     127.0.0.1:5790 - "GET /viewer/ HTTP/1.1" 200 OK
INFO:     127.0.0.1:5790 - "GET /precomputed/gad-miv%406c9f/info HTTP/1.1" 200 OK
INFO:     127.0.0.1:5791 - "GET /precomputed/gad-miv%406c9f/1/0-512_0-512_5000-5001 HTTP/1.1" 200 OK
INFO:     127.0.0.1:5792 - "GET /precomputed/gad-miv%406c9f/0/1536-2048_1536-2048_5000-5001 HTTP/1.1" 200 OK
INFO:     127.0.0.1:5790 - "GET /precomputed/gad-miv%406c9f/0/0-512_0-512_1-2 HTTP/1.1" 404 Not Found
INFO:     127.0.0.1:5790 - "GET /zarr/gad-miv.ome.zarr/0/0/0/0/0/0 HTTP/1.1" 200 OK"""


def test_centre_puts_the_one_pixel_per_voxel_screen_on_the_view_model_box():
    size = [4096, 4096, 10000]
    x, y, z = centre(size)
    # pixel centres at position + i + 0.5 - width / 2 lie in voxel floor(w + 0.5) (the half-voxel rule)
    first_x, first_y = math.floor(x + 0.5 - 500 + 0.5), math.floor(y + 0.5 - 400 + 0.5)
    (x0, x1), (y0, y1), (z0, z1) = screen_box(size, "xy")
    assert (first_x, first_y, math.floor(z + 0.5)) == (x0, y0, z0) == (1548, 1648, 5000)
    assert (x1 - x0, y1 - y0, z1 - z0) == (1000, 800, 1)


def test_fetched_chunks_reads_precomputed_chunk_keys_and_statuses():
    keys, statuses = fetched_chunks(LOG)
    assert keys == ["1/0-512_0-512_5000-5001", "0/1536-2048_1536-2048_5000-5001", "0/0-512_0-512_1-2"]
    assert statuses == {200: 2, 404: 1}


def test_per_level_reports_set_differences_finest_first():
    info = {"scales": [
        {"key": "0", "size": [4096, 4096, 10000], "resolution": [1, 1, 1], "chunk_sizes": [[512, 512, 1]]},
        {"key": "1", "size": [2048, 2048, 5000], "resolution": [2, 2, 2], "chunk_sizes": [[512, 512, 1]]}]}
    model, _ = view_keys(info, "xy")
    fetched = [k for k in model if k != "0/1536-2048_1536-2048_5000-5001"] + ["1/0-512_0-512_5000-5001"]
    rows = per_level(fetched, model)
    assert [r[0] for r in rows] == ["0", "1"]
    assert rows[0] == ("0", 3, 4, [], ["0/1536-2048_1536-2048_5000-5001"])
    assert rows[1][1:4] == (5, 4, ["1/0-512_0-512_5000-5001"]) and rows[1][4] == []


def test_timeline_of_stamped_answers():
    lines = [(10.0 + i, line) for i, line in enumerate(LOG.splitlines())]
    got = timeline(lines, 10.5, 14.5)  # the first line is before the page load, the last two after
    assert got == {"info_s": 0.5, "first_chunk_s": 1.5, "last_chunk_s": 3.5, "chunks": 3}
    assert math.isnan(timeline(lines, 15.5, 20)["info_s"])


def test_the_in_process_floor_computes_every_chunk_of_the_view(tmp_path):
    """The floor computes exactly the view model's chunks (every level, each orientation's chunk size) in a
    fresh pyramid: a key it could not compute raises, it is never timed as free."""
    stack = tmp_path / "stack"
    stack.mkdir()
    for z in range(40):
        tifffile.imwrite(stack / f"z{z:02d}.tif", np.full((96, 128), z, np.uint16))
    db, dataset_id = register(stack, tmp_path)
    with Server(db) as srv:
        info = httpx.get(f"{srv.url}/precomputed/{dataset_id}/info").json()
    assert info["scales"][0]["size"] == [128, 96, 40]
    for view in ("xy", "xz"):
        keys, _ = view_keys(info, view)
        assert len(keys) >= len(info["scales"])  # one chunk or more at every level
        assert in_process_seconds(db, dataset_id, keys, 2) > 0
    with pytest.raises(MalformedKey, match="not aligned"):
        in_process_seconds(db, dataset_id, ["0/0-7_0-7_0-1"], 2)  # no chunk of any size


def test_the_summary_compares_the_medians_of_every_run_a_timeout_being_a_miss():
    row = summarise("jpeg2000", "xy", [1.5, 1.2, 3.0], [0.9, 0.6, 1.0])
    assert row[:3] == ("jpeg2000", "xy", "3 of 3") and (row[3], row[4]) == (1.5, 0.9)
    assert math.isclose(row[5], 1.5 / 0.9) and row[6:] == ("met", "met")
    # a timed-out run is not dropped: with it the median cold is the slower of the middle two
    row = summarise("jpeg2000", "xy", [1.5, 1.2, 3.0, None], [0.9, 0.6, 1.0, None])
    assert row[2] == "3 of 4" and row[3] == (1.5 + 3.0) / 2 and row[4] == (0.9 + 1.0) / 2
    # two of three timed out: the median is a timeout, both goals missed (dropping them would say 1.2 s, met)
    row = summarise("jpeg2000", "xy", [None, 1.2, None], [None, 0.6, None])
    assert row[2:] == ("1 of 3", math.inf, math.inf, math.inf, "missed", "missed")
    assert summarise("jpeg2000", "xz", [60.0], [1.0])[6:] == ("missed", "–")  # the cold goal is xy's
    assert summarise("jpeg2000", "xy", [12.0], [8.0])[6:] == ("met", "missed")  # ratio 1.5, but 12 s > 10 s cold
    assert summarise("jpeg2000", "xz", [], [])[6] == "missed"  # nothing run: never met
