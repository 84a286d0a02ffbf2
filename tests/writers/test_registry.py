"""The view registry: built-ins in link order, lookup by name, clashes refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from writers.precomputed import Precomputed
from writers.registry import VIEWS, installed, register, view_named
from writers.zarr_v2 import ZarrV2


def test_built_in_views_in_link_order():
    assert [(v.name, v.prefix, v.suffix) for v in installed()][:3] == [
        ("zarr", "/zarr", ".ome.zarr"), ("zarr3", "/zarr3", ".ome.zarr"), ("precomputed", "/precomputed", "")]
    assert list(VIEWS) == ["zarr", "zarr3", "precomputed", "zarr3-sharded"]
    assert view_named("zarr3") is VIEWS["zarr3"]
    with pytest.raises(LookupError, match="no view named 'n5'"):
        view_named("n5")


def test_dataset_segments_name_their_dataset():
    zarr, pc = VIEWS["zarr"], VIEWS["precomputed"]
    assert zarr.dataset_segment("abc") == "abc.ome.zarr" and zarr.dataset_id("abc.ome.zarr") == "abc"
    assert zarr.dataset_id("abc") is None and str(zarr.naming_error()) == "zarr views are named {id}.ome.zarr"
    assert pc.dataset_segment("abc") == "abc" and pc.dataset_id("abc") == "abc"


def test_a_name_or_prefix_is_registered_once():
    views: dict = {}
    register(ZarrV2(), views)
    with pytest.raises(ValueError, match="clashes"):
        register(ZarrV2(), views)

    class Elsewhere(Precomputed):
        name = "zarr"
        prefix = "/elsewhere"

    with pytest.raises(ValueError, match="clashes"):
        register(Elsewhere(), views)
    with pytest.raises(TypeError):
        register(object(), views)  # type: ignore[arg-type]
    assert list(views) == ["zarr"]


def test_view_plugins_load_from_entry_points_and_broken_ones_are_skipped(tmp_path):
    """A package declaring ``transformer.views`` entry points (one good, one broken), in a fresh process."""
    import subprocess
    import sys
    import textwrap

    (tmp_path / "extra_view.py").write_text(textwrap.dedent('''
        from writers.precomputed import Precomputed

        class Mirror(Precomputed):
            name = "mirror"
            prefix = "/mirror"
    '''))
    info = tmp_path / "extra_view-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-view\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[transformer.views]\nmirror = extra_view:Mirror\nbroken = extra_view:NoSuchThing\n")
    code = "from writers.registry import installed; print([v.name for v in installed()])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(tmp_path), "PATH": ""}, cwd=Path(__file__).parents[2])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['zarr', 'zarr3', 'precomputed', 'zarr3-sharded', 'mirror']"
    assert "view plugin 'broken' failed to load; skipped" in run.stderr
