"""Neuroglancer viewer states for a served dataset, and links that open them.

Pure: an ``ImageSpec`` and the URL of one served view in, a JSON-able state dict out.

State shape (``viewer_state``):

- ``dimensions``: the global coordinate space in physical units, one level-0 voxel per unit:
  ``{"x": [vx, "m"], "y": [vy, "m"], "z": [vz, "m"]}`` (micrometres from the spec, written in metres), plus
  ``"t": [dt, "s"]`` for the zarr views, whose OME axes include time.
- ``displayDimensions`` ``["x", "y", "z"]``: without it neuroglancer takes the first three dimensions of the
  source, which for OME order (t, c, z, y, x) would put z-y in the "xy" panel.
- ``position``: the centre of the voxel at the volume centre, in ``dimensions`` order (level-0 voxel units);
  ``crossSectionScale`` (finest voxels per screen pixel) fits the xy extent into one panel of a laptop-sized
  window (600 x 300 pixels); ``layout`` is "4panel", or "xy" for a single plane (1200 x 600 pixels).
- ``layers``: one image layer per channel, all reading the same source. The channel is chosen by the layer's
  ``localPosition`` on the local dimension ``c'``: the OME reader names the channel axis ``c'``; the
  precomputed reader names it ``c^`` (a shader channel dimension) and the source ``transform`` renames it
  ``c'`` so both kinds select a channel the same way. Each layer's shader carries the channel colour and
  contrast window (``#uicontrol vec3 color`` and ``#uicontrol invlerp normalized(range=[start, end])``,
  ``emitRGB(color * normalized())``); layers of a multichannel image blend additively. Label images get one
  segmentation layer.

Half-voxel rule (measured with neuroglancer 2.41.2 in headless Chromium, see docs/neuroglancer.md):

- The service's OME metadata puts the centre of level-0 voxel ``i`` at ``i * voxel_size`` (translation 0).
  Neuroglancer's OME reader honours that: it subtracts half a voxel from every OME transform, so in its
  coordinates voxel ``i`` spans ``[i - 0.5, i + 0.5)`` on every axis (channel and time included).
- Precomputed has no such convention: voxel ``i`` spans ``[i, i + 1)`` (``voxel_offset`` 0), so without
  compensation the precomputed view of the same data lands half a voxel away: at position z = 19.75 the
  zarr view shows plane 20 and the uncompensated precomputed view plane 19, and at 1 px/voxel its image
  is one pixel off in x and y for half of all positions.
- Rule: **every served view puts voxel centres at integer coordinates (the OME convention).** The state
  gives precomputed sources a ``transform`` translating by -0.5 voxel on every axis; zarr sources need none.
  ``voxel_offset`` cannot do it (precomputed offsets are integers), and the OME translation stays what the
  NGFF spec says. A plane ``z = k`` of any view is therefore displayed at position ``z = k``, the voxel's
  centre, and the zarr and precomputed layers of one dataset overlay voxel for voxel.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from writers.spec import ImageSpec

HALF_VOXEL = -0.5  # translation of precomputed sources, in voxels, on every axis (see the module docstring)
_URL_SAFE = "~@#$&()*!+=:;,.?/'"  # what neuroglancer's own to_url leaves unescaped


@dataclass(frozen=True)
class Source:
    """How Neuroglancer opens one kind of served view (each view in writers/ carries one)."""

    scheme: str  #: e.g. ``zarr2://``
    #: OME axes: time and channel are dimensions of the source and voxel centres sit at integer coordinates.
    #: Otherwise (precomputed) voxel ``i`` spans ``[i, i + 1)``, the URL names one time point and the
    #: channel is a dimension only for more than one channel.
    ome_axes: bool


def source_spec(spec: ImageSpec, source: Source, url: str) -> dict | str:
    """The layer ``source``: ``{scheme}{url}``, with the half-voxel transform where voxels are not centred."""
    text = source.scheme + url.rstrip("/")
    if source.ome_axes:
        return text
    vz, vy, vx = spec.levels[0].voxel_size
    outputs = {"x": [vx * 1e-6, "m"], "y": [vy * 1e-6, "m"], "z": [vz * 1e-6, "m"]}
    if len(spec.channels) > 1:
        outputs["c'"] = [1, ""]  # the precomputed channel dimension c^, renamed local like the OME one
    rank = len(outputs)
    matrix = [[1.0 if col == row else 0.0 for col in range(rank)] + [HALF_VOXEL] for row in range(rank)]
    return {"url": text, "transform": {"outputDimensions": outputs, "matrix": matrix}}


def viewer_state(spec: ImageSpec, source: Source, url: str, t: int = 0) -> dict:
    """A neuroglancer state showing the served view ``url`` (opened as ``source``) of ``spec`` at time ``t``.

    Without OME axes (precomputed), ``url`` must already name time point ``t`` (``.../t/{t}``); OME views
    carry time as a dimension and the state's position selects it.
    """
    level = spec.levels[0]
    _, _, nz, ny, nx = level.shape
    vz, vy, vx = level.voxel_size
    dims: dict[str, list] = {"x": [vx * 1e-6, "m"], "y": [vy * 1e-6, "m"], "z": [vz * 1e-6, "m"]}
    position: list[float] = [float(nx // 2), float(ny // 2), float(nz // 2)]
    layer_source = source_spec(spec, source, url)
    if source.ome_axes:
        dims["t"] = [spec.time_interval or 1.0, "s"]
        position.append(float(t))
    unit = min(vx, vy, vz) if nz > 1 else min(vx, vy)  # neuroglancer's zoom unit: the finest displayed voxel
    flat = nz == 1
    panel = (1200, 600) if flat else (600, 300)  # roughly one panel of a laptop-sized window, in pixels
    state: dict = {
        "title": spec.name,
        "dimensions": dims,
        "displayDimensions": ["x", "y", "z"],
        "position": position,
        "crossSectionScale": _round(max(nx * vx / panel[0], ny * vy / panel[1]) / unit),
        "projectionScale": _round(max(nx * vx, ny * vy, nz * vz) * 1.5 / unit),
        "layers": _layers(spec, layer_source, local=source.ome_axes or len(spec.channels) > 1),
        "layout": "xy" if flat else "4panel",
    }
    state["selectedLayer"] = {"layer": state["layers"][0]["name"], "visible": False}
    return state


def _layers(spec: ImageSpec, source: dict | str, local: bool) -> list[dict]:
    """``local``: the source has the local channel dimension c' (zarr always; precomputed with channels)."""
    if spec.kind == "labels":
        layer = {"type": "segmentation", "name": spec.name or "labels", "source": source}
        return [{**layer, "localPosition": [0]} if local else layer]
    layers = []
    names: set[str] = set()
    for k, ch in enumerate(spec.channels):
        name = ch.label or f"channel {k}"
        if name in names:
            name = f"{name} ({k})"
        names.add(name)
        layer = {"type": "image", "name": name, "source": source, "opacity": 1.0, "shader": shader(ch.color, ch.window)}
        if local:
            layer["localPosition"] = [k]
        if len(spec.channels) > 1:
            layer["blend"] = "additive"
        layers.append(layer)
    return layers


def shader(color: str, window: tuple[float, float]) -> str:
    """A one-channel shader: the contrast window as an invlerp control, tinted with ``color`` (RRGGBB)."""
    start, end = (_number(v) for v in window)
    return (
        f'#uicontrol vec3 color color(default="#{color.lower()}")\n'
        f"#uicontrol invlerp normalized(range=[{start}, {end}])\n"
        "void main() {\n"
        "  emitRGB(color * normalized());\n"
        "}\n"
    )


def state_url(state: dict, viewer_base: str) -> str:
    """``{viewer_base}#!{url-encoded JSON}``, encoded as neuroglancer's own ``to_url`` does."""
    text = json.dumps(state, separators=(",", ":"), allow_nan=False)
    return f"{viewer_base.split('#', 1)[0]}#!{urllib.parse.quote(text, safe=_URL_SAFE)}"


def state_from_url(url: str) -> dict:
    """The state in a link made by ``state_url`` (for tests and tools)."""
    fragment = urllib.parse.urlsplit(url).fragment
    if not fragment.startswith("!"):
        raise ValueError("not a neuroglancer state link (expected #!{...})")
    return json.loads(urllib.parse.unquote(fragment[1:]))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _round(value: float) -> float:
    return float(f"{value:.3g}")
