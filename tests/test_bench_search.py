"""Bench part 11 (catalog search) runs end to end on a small catalog; no timing is asserted."""

from __future__ import annotations

import pytest

from bench import search
from bench.common import Context, Settings

pytestmark = pytest.mark.slow  # a real server and some hundred searches: a few seconds


def test_search_part_measures_every_query(tmp_path):
    ctx = Context(Settings(data=tmp_path / "data"))
    try:
        part = search.run(ctx, size=300, repeats=2)
    finally:
        ctx.close()
    rows = [line for line in part.tables[0].splitlines()[2:]]
    assert len(rows) == len(search.QUERIES)
    matches = {row.split("|")[1].strip(): int(row.split("|")[3]) for row in rows}
    # 300 synthetic records, 270 listed (every 10th is private): the figures are about real matches
    assert matches["everything (first page)"] == 270 and matches["no match"] == 0
    assert 0 < matches["hyphenated words"] < matches["one word"] < 270
    assert part.goals[0].value > 0 and part.goals[0].met is not None
