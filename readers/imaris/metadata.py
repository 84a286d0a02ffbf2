"""Physical and display facts: voxel size, channel names, colours and contrast windows.

Imaris stores the image box in ``DataSetInfo/Image`` as ``ExtMin0-2``/``ExtMax0-2`` (X, Y, Z) on the
outer voxel *borders*, so a voxel is ``(max - min) / n`` wide, in ``Unit`` (default µm).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from readers.base import Channel, default_channels
from readers.imaris import attributes
from readers.imaris.layout import Layout
from readers.units import um_per_unit

log = logging.getLogger(__name__)

PERCENTILES = (0.1, 99.9)


def unit_scale(unit: str | None) -> float:
    """Micrometres per ``unit``; unknown or missing units are taken as µm (the Imaris default)."""
    if not unit:
        return 1.0
    scale = um_per_unit(unit.replace("\ufffd", "µ"))  # a micro sign in Latin-1 decodes as U+FFFD
    if scale is None:
        log.warning("unknown Imaris unit %r; assuming micrometres", unit)
        return 1.0
    return scale


def extent_um(info_attrs: Any, size_zyx: Sequence[int]) -> tuple[tuple[float, float], ...]:
    """(min, max) of the image box along z, y, x in µm.

    An axis whose ExtMin/ExtMax is missing or empty gets a 1 µm voxel starting at 0, so a file
    with broken metadata still opens.
    """
    scale = unit_scale(attributes.text(info_attrs, "Unit"))
    box = []
    for axis, n in zip((2, 1, 0), size_zyx, strict=True):  # Ext*0 is X, Ext*2 is Z
        lo = attributes.number(info_attrs, f"ExtMin{axis}")
        hi = attributes.number(info_attrs, f"ExtMax{axis}")
        if lo is None or hi is None or hi <= lo:
            box.append((0.0, float(n)))
        else:
            box.append((lo * scale, hi * scale))
    return tuple(box)


def voxel_size(box: Sequence[tuple[float, float]], size_zyx: Sequence[int]) -> tuple[float, float, float]:
    """Voxel size (z, y, x) in µm of a level of ``size_zyx`` spanning the level-0 ``box``."""
    # 12 significant digits: (6.3 - -0.1) / 32 gives 0.2, not 0.19999999999999998
    return tuple(float(f"{(hi - lo) / n:.12g}") for (lo, hi), n in zip(box, size_zyx, strict=True))


def color_hex(rgb: Sequence[float] | None) -> str | None:
    """``[1.0, 0.5, 0.0]`` (0-1 floats) as ``"FF8000"``."""
    if not rgb or len(rgb) < 3:
        return None
    return "".join(f"{round(min(max(v, 0.0), 1.0) * 255):02X}" for v in rgb[:3])


def histogram_window(
    counts: np.ndarray, lo: float, hi: float, percentiles: tuple[float, float] = PERCENTILES
) -> tuple[float, float] | None:
    """Contrast window from a histogram over [lo, hi]: the low and high percentiles' bin edges."""
    counts = np.asarray(counts, dtype=np.float64).ravel()
    total = counts.sum()
    if counts.size == 0 or not total > 0 or not hi > lo:
        return None
    cdf = np.cumsum(counts) / total
    width = (hi - lo) / counts.size
    first = int(np.searchsorted(cdf, percentiles[0] / 100.0, side="left"))
    last = int(np.searchsorted(cdf, percentiles[1] / 100.0, side="left"))
    start = lo + first * width
    end = lo + min(last + 1, counts.size) * width
    if not end > start:
        return None
    return (float(round(start, 6)), float(round(end, 6)))


def _window(h5file: Any, layout: Layout, c: int, info_attrs: Any) -> tuple[float, float] | None:
    """Window of channel position ``c`` from the level-0, first-time-point histogram, else
    ``ColorRange``. Failures only lose the window, never the file."""
    group_path = layout.levels[0].paths[0][c].rsplit("/", 1)[0]
    try:
        group = h5file[group_path]
        lo = attributes.number(group.attrs, "HistogramMin")
        hi = attributes.number(group.attrs, "HistogramMax")
        hist = group.get("Histogram")
        if hist is not None and lo is not None and hi is not None and hist.size <= 65536:
            window = histogram_window(hist[()], lo, hi)
            if window is not None:
                return window
    except (KeyError, OSError, RuntimeError, TypeError, ValueError):
        log.debug("histogram of channel %d unreadable", c, exc_info=True)
    color_range = attributes.numbers(info_attrs, "ColorRange")
    if color_range and len(color_range) >= 2 and color_range[1] > color_range[0]:
        return (color_range[0], color_range[1])
    return None


def channels(h5file: Any, layout: Layout) -> list[Channel]:
    """One :class:`Channel` per channel group, from ``DataSetInfo/Channel <n>``."""
    defaults = default_channels(len(layout.channels))
    out = []
    for pos, number in enumerate(layout.channels):
        group = h5file.get(f"DataSetInfo/Channel {number}")
        attrs = group.attrs if group is not None else {}
        name = attributes.text(attrs, "Name") or defaults[pos].name
        color = color_hex(attributes.numbers(attrs, "Color")) or defaults[pos].color
        out.append(Channel(name=name, color=color, window=_window(h5file, layout, pos, attrs)))
    return out


def describe(h5file: Any, info_attrs: Any, box: Sequence[tuple[float, float]]) -> dict:
    """Descriptive facts for the catalog (JSON-serialisable, no filesystem paths)."""
    meta: dict = {"origin_um": [lo for lo, _ in box]}
    for key, attr in (("name", "Name"), ("description", "Description"), ("recording_date", "RecordingDate")):
        value = attributes.text(info_attrs, attr)
        if value:
            meta[key] = value
    meta["unit"] = attributes.text(info_attrs, "Unit", "um")
    version = attributes.text(h5file.attrs, "ImarisVersion")
    if version:
        meta["imaris_version"] = version
    time_info = h5file.get("DataSetInfo/TimeInfo")
    if time_info is not None:
        stamps = []
        for i in range(1, 100_001):  # TimePoint1..N; stop at the first gap
            stamp = attributes.text(time_info.attrs, f"TimePoint{i}")
            if stamp is None:
                break
            stamps.append(stamp)
        if stamps:
            meta["time_points"] = stamps
    return meta
