"""Bench part napari (bench/napari_open.py) runs end to end at a tiny size: a napari child opens a stack of
hard-linked JPEG2000 slices through the plugin and draws it, and another draws neuron edges as Vectors and
as Shapes."""

from __future__ import annotations

import pytest

from bench import napari_open
from bench.common import Context, Settings
from tests.require import module
from tests.xdisplay import display, require_xcb  # noqa: F401 - display: a fixture (a virtual X server for GLX)

pytestmark = pytest.mark.slow  # two napari children (≈ 10 s)


def test_the_napari_part_times_a_first_frame_and_both_layer_types(tmp_path, display):  # noqa: F811
    module("glymur")
    require_xcb(display)  # the display fixture skipped already without Xvfb
    ctx = Context(Settings(data=tmp_path / "data"))
    try:
        part = napari_open.run(ctx, slices=40, size=512, edge_count=2_000)
    finally:
        ctx.close()
    assert part.skipped is None
    frame, edges = part.tables
    assert "| 40 JPEG2000 slices of 512² |" in frame
    assert "| Vectors (one line per edge) | 2000 | 2000 |" in edges
    assert [goal.name for goal in part.goals] == ["first frame of a 40-slice stack", "2,000 edges drawn (Vectors)"]
