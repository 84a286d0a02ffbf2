"""Physical voxel size of a TIFF, from OME-XML, ImageJ metadata or resolution tags (micrometres)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from readers.units import um_per_unit


def to_micrometres(value: float, unit: str | None, default_unit: str = "µm") -> float | None:
    factor = um_per_unit(unit or default_unit)
    if factor is None or not math.isfinite(value) or value <= 0:  # nan and inf say nothing either
        return None
    return float(value) * factor


def voxel_size(tif, page) -> tuple[tuple[float, float, float], str]:
    """(z, y, x) in µm and where it came from; (1, 1, 1) "default" when the file says nothing."""
    found = _from_ome(tif) or _from_imagej(tif, page) or _from_tags(page)
    if found:
        return found
    return (1.0, 1.0, 1.0), "default"


def _from_ome(tif) -> tuple[tuple[float, float, float], str] | None:
    xml = tif.ome_metadata
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.endswith("}Pixels") or el.tag == "Pixels":
            sizes = []
            for axis in "ZYX":
                v = el.get(f"PhysicalSize{axis}")
                sizes.append(
                    to_micrometres(float(v), el.get(f"PhysicalSize{axis}Unit")) if v else None
                )
            z, y, x = sizes
            if x is None and y is None:
                return None
            x = x or y
            y = y or x
            return (z or x, y, x), "ome-xml"
    return None


def _resolution(page) -> tuple[float | None, float | None]:
    """Pixel size in resolution units along x and y, from the XResolution/YResolution tags."""
    out = []
    for name in ("XResolution", "YResolution"):
        tag = page.tags.get(name)
        if tag is None:
            out.append(None)
            continue
        num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
        out.append(den / num if num else None)
    return out[0], out[1]


def _from_imagej(tif, page) -> tuple[tuple[float, float, float], str] | None:
    meta = tif.imagej_metadata
    if not meta:
        return None
    unit = meta.get("unit")
    x, y = _resolution(page)
    if unit in (None, "pixel", "pixels", "") or x is None:
        return None
    xs = to_micrometres(x, unit)
    ys = to_micrometres(y or x, unit)
    if not xs:
        return None
    spacing = meta.get("spacing")
    zs = to_micrometres(float(spacing), unit) if spacing else xs
    return (zs or xs, ys or xs, xs), "imagej"


def _from_tags(page) -> tuple[tuple[float, float, float], str] | None:
    unit_tag = page.tags.get("ResolutionUnit")
    # Only centimetre units count: inch resolutions are almost always a 72/96/300 dpi placeholder.
    unit = {3: "cm"}.get(int(unit_tag.value) if unit_tag else 2)
    if unit is None:
        return None
    x, y = _resolution(page)
    if x is None or x == 1.0:  # 1 pixel per unit is every writer's placeholder, not a measurement
        return None
    xs = to_micrometres(x, unit)
    ys = to_micrometres(y or x, unit)
    if not xs or _is_dpi_placeholder(xs):
        return None
    return (xs, ys or xs, xs), "resolution-tags"


def _is_dpi_placeholder(size_um: float) -> bool:
    """Office and scanner defaults (72 dpi ...) written by tools that know nothing of the optics."""
    return any(abs(25400.0 / size_um - dpi) < 0.5 for dpi in (72, 96, 150, 200, 300, 600, 1200))
