"""Bench part 14 (warm chunks during a search flood) runs end to end at a tiny size; no timing is asserted."""

from __future__ import annotations

import pytest

from bench import search_stall
from bench.common import Context, Settings

pytestmark = pytest.mark.slow  # a real server, a second of warm chunks alone and a second during searches


def test_search_stall_part_measures_warm_chunks_alone_and_during_searches(tmp_path):
    ctx = Context(Settings(shape=(16, 128, 128), data=tmp_path / "data", formats=("tiff-raw",)))
    try:
        part = search_stall.run(ctx, size=300, seconds=1.0, flooders=2)
    finally:
        ctx.close()
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in part.tables[0].splitlines()[2:]]
    assert [row[0] for row in rows] == ["alone", "during 2 search clients"]
    assert all(int(row[1]) > 0 and float(row[3]) > 0 for row in rows)  # requests answered, a p99 measured
    assert int(rows[1][5].split()[0]) > 0  # searches were answered meanwhile
    assert part.goals[0].value > 0 and part.goals[0].met is not None
