"""Map a tifffile series (any axes string) onto the service's (t, c, z, y, x) model."""

from __future__ import annotations

import math
from dataclasses import dataclass

from readers.base import UnsupportedSource

# Axes tifffile uses for "a sequence of planes" whose meaning the file does not say.
_SEQUENCE_AXES = "QIRLHEVP"


@dataclass(frozen=True)
class SeriesLayout:
    """Where each (t, c, z) plane lives: frame index into ``series.pages`` plus sample and depth.

    ``frame_axes`` are the series axes that index pages, each with a role t/c/z; ``page_axes``
    are those inside one page (depth Z, samples S, then Y X).
    """

    shape: tuple[int, int, int, int, int]
    frame_axes: tuple[tuple[str, int], ...]  # (role, size) in series order
    samples: int  # channels stored as samples inside a page
    page_depth: int  # z planes stored inside one page (volumetric tiles)

    def locate(self, t: int, c: int, z: int) -> tuple[int, int, int]:
        """(frame index, sample, depth index within the page) for one plane."""
        sample = c % self.samples
        c_frame = c // self.samples
        z_frame, depth = divmod(z, self.page_depth)
        coords = {"t": t, "c": c_frame, "z": z_frame}
        index = 0
        for role, size in self.frame_axes:
            index = index * size + coords[role]
        return index, sample, depth


def layout_of(axes: str, shape: tuple[int, ...], page_axes: str) -> SeriesLayout:
    """Assign roles to the axes of a series whose pages have axes ``page_axes``."""
    if len(axes) != len(shape):
        raise UnsupportedSource(f"axes {axes!r} do not match shape {shape}")
    n_frame = len(axes) - len(page_axes)
    if n_frame < 0 or axes[n_frame:] != page_axes:
        raise UnsupportedSource(f"series axes {axes!r} do not end in page axes {page_axes!r}")
    sizes = dict(zip(axes, shape, strict=True))
    page = {a: sizes[a] for a in page_axes}
    if "Y" not in page or "X" not in page:
        raise UnsupportedSource(f"pages without Y and X axes ({page_axes!r}) are not images")
    unknown = set(page) - set("ZSYX")
    if unknown:
        raise UnsupportedSource(f"page axes {page_axes!r} not supported")

    roles: dict[str, int] = {}
    frame: list[tuple[str, int]] = []
    taken_by_page = {"z"} if "Z" in page else set()
    for axis in axes[:n_frame]:
        size = sizes[axis]
        role = {"T": "t", "C": "c", "Z": "z", "S": "c"}.get(axis)
        if role is None and axis in _SEQUENCE_AXES:
            role = next((r for r in ("z", "t") if r not in roles and r not in taken_by_page), None)
        if role is None or role in roles or role in taken_by_page:
            if size == 1:
                continue  # a singleton axis that means nothing here
            raise UnsupportedSource(f"cannot map axis {axis!r} of {axes!r} onto t, c, z")
        roles[role] = size
        frame.append((role, size))
    frame_axes = tuple(frame)
    samples = page.get("S", 1)
    depth = page.get("Z", 1)
    nt = roles.get("t", 1)
    nc = roles.get("c", 1) * samples
    nz = roles.get("z", 1) * depth
    if math.prod(s for _, s in frame_axes) != math.prod(shape[:n_frame]):
        raise UnsupportedSource(f"series {axes!r} {shape} has an inconsistent plane count")
    return SeriesLayout((nt, nc, nz, page["Y"], page["X"]), frame_axes, samples, depth)
