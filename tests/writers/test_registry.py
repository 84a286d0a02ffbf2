"""The view registry: built-ins in link order, lookup by name, clashes refused."""

from __future__ import annotations

import pytest

from writers.precomputed import Precomputed
from writers.registry import VIEWS, installed, register, view_named
from writers.zarr_v2 import ZarrV2


def test_built_in_views_in_link_order():
    assert [(v.name, v.prefix, v.suffix) for v in installed()][:3] == [
        ("zarr", "/zarr", ".ome.zarr"), ("zarr3", "/zarr3", ".ome.zarr"), ("precomputed", "/precomputed", "")]
    assert list(VIEWS) == ["zarr", "zarr3", "precomputed"]
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
