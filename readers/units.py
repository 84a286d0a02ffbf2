"""Length units to micrometres, the one table every reader converts voxel sizes with."""

from __future__ import annotations

#: micrometres per unit, by the spellings writers use (OME, ImageJ, Imaris, resolution tags)
UM_PER_UNIT = {
    "m": 1e6, "meter": 1e6, "metre": 1e6,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometre": 1.0,
    "\\u00b5m": 1.0,  # ImageJ writes the micro sign as this escape
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3,
    "Å": 1e-4, "pm": 1e-6, "inch": 25400.0,
}


def um_per_unit(unit: str) -> float | None:
    """Micrometres in one ``unit`` (case-insensitive where that is unambiguous), None if unknown."""
    name = unit.strip()
    return UM_PER_UNIT.get(name, UM_PER_UNIT.get(name.lower()))
