"""Neuroglancer layers for the objects beside an image: a segmentation layer drawing the neurons' skeletons and
an annotation layer per cell table, added to an image state made by writers/neuroglancer.py.

Pure: URLs and ids in, JSON-able dicts out. Skeleton vertices are nanometres with the identity transform and
annotation positions nanometres, in the image's physical frame: Neuroglancer converts both into the state's
global dimensions (one level-0 voxel per unit, voxel centres at integer coordinates), so no half-voxel
transform is needed here, unlike precomputed images (see writers/neuroglancer.py).
"""

from __future__ import annotations

#: neurons selected (drawn) when a state opens: more are picked from the layer's segment list
MAX_SELECTED = 200

#: colours by SWC type (the ``type`` vertex attribute, float32): soma white, axon blue, basal dendrite red,
#: apical dendrite magenta, anything else yellow
SKELETON_SHADER = """\
vec3 swcColour(float t) {
  int k = int(t + 0.5);
  if (k == 1) return vec3(1.0, 1.0, 1.0);
  if (k == 2) return vec3(0.25, 0.6, 1.0);
  if (k == 3) return vec3(1.0, 0.3, 0.3);
  if (k == 4) return vec3(1.0, 0.35, 1.0);
  return vec3(1.0, 0.85, 0.2);
}
void main() {
  emitRGB(swcColour(type));
}
"""

#: cells as small green points
CELL_SHADER = """\
void main() {
  setColor(vec3(0.2, 1.0, 0.4));
  setPointMarkerSize(5.0);
}
"""


def skeleton_layer(url: str, segments: list[str], name: str = "neurons") -> dict:
    """A segmentation layer showing the skeletons at ``url`` (the skeleton directory), ``segments`` selected."""
    return {
        "type": "segmentation",
        "name": name,
        "source": {"url": f"precomputed://{url.rstrip('/')}", "subsources": {"default": True, "properties": True}},
        "segments": [str(s) for s in segments[:MAX_SELECTED]],
        "skeletonRendering": {"mode2d": "lines", "lineWidth2d": 2.0, "mode3d": "lines", "lineWidth3d": 1.0},
        "skeletonShader": SKELETON_SHADER,
    }


def annotation_layer(url: str, name: str = "cells") -> dict:
    """An annotation layer drawing the points of the annotation directory at ``url``."""
    # the cross-section spacing: at its default the viewer drew a sample of each spatial cell even when
    # zoomed in on a few cells (2 of 3 measured); 1 draws them all up to about one per screen pixel
    return {
        "type": "annotation",
        "name": name,
        "source": f"precomputed://{url.rstrip('/')}",
        "shader": CELL_SHADER,
        "crossSectionAnnotationSpacing": 1,
    }


def add_object_layers(
    state: dict,
    skeletons: str | None,
    segments: list[str],
    tables: list[tuple[str, str]],
    focus_voxel: tuple[float, float, float] | None = None,
) -> dict:
    """``state`` with the neurons (``skeletons`` URL, ``segments`` selected) and each cell table (``(name,
    url)``) added after the image layers; ``focus_voxel`` (x, y, z in level-0 voxels) recentres the view (a
    neuron's soma). The image layers stay first and selected."""
    layers = list(state["layers"])
    if skeletons:
        layers.append(skeleton_layer(skeletons, segments))
    for name, url in tables:
        layers.append(annotation_layer(url, f"cells: {name}" if len(tables) > 1 else "cells"))
    out = {**state, "layers": layers}
    if focus_voxel is not None:
        position = list(state["position"])
        position[:3] = [float(v) for v in focus_voxel]
        out["position"] = position
    return out
