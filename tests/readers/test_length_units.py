"""The one table of length units every reader converts voxel sizes with."""

from __future__ import annotations

import pytest

from readers.imaris.metadata import unit_scale
from readers.units import um_per_unit


@pytest.mark.parametrize(("unit", "um"), [
    ("um", 1.0), ("µm", 1.0), ("\u03bcm", 1.0), ("\\u00B5m", 1.0), ("Microns", 1.0), (" micrometre ", 1.0),
    ("nm", 1e-3), ("mm", 1e3), ("CM", 1e4), ("m", 1e6), ("Å", 1e-4), ("pm", 1e-6), ("inch", 25400.0),
])
def test_known_units(unit, um):
    assert um_per_unit(unit) == um


@pytest.mark.parametrize("unit", ["pixel", "", "furlong", "å"])
def test_unknown_units_are_none(unit):
    assert um_per_unit(unit) is None


def test_imaris_takes_unknown_or_missing_units_as_micrometres():
    assert unit_scale("nm") == 1e-3
    assert unit_scale("\ufffdm") == 1.0  # a Latin-1 micro sign that did not decode
    assert unit_scale("pixel") == 1.0
    assert unit_scale(None) == 1.0
