"""napari layer data (``(data, kwargs, layer_type)`` tuples) from the client's objects, without importing napari.

Frames: napari's world is (z, y, x) in µm, as the client's. An image's level 0 voxel ``i`` has its centre at
``translation + i * voxel_size`` (the zarr views' coordinateTransformations), so ``scale``/``translate`` of
every layer are level 0's; napari places coarser levels by their shape ratio (one transform per layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from transformer.client import RemoteDataset
from transformer.napari_plugin.arrays import chunked_multiscale

LayerData = tuple[Any, dict, str]

#: SWC structure types (INCF SWC v1.0) and their colours, after the common NeuroMorpho palette
SWC_COLOURS = {
    0: "#bfbfbf",  # undefined
    1: "#ffffff",  # soma
    2: "#4a90ff",  # axon
    3: "#ff4040",  # basal dendrite
    4: "#ff40ff",  # apical dendrite
    5: "#40ff40",  # custom
    6: "#ffc020",  # unspecified neurite
    7: "#40ffff",  # glia
}
OTHER_TYPE = "#ffa040"


def image_layers(ds: RemoteDataset) -> list[LayerData]:
    """One multiscale, lazy image layer per channel: its name, colour and contrast window from the record."""
    title = ds.record.get("title") or ds.id
    level0 = ds.levels[0]
    timed = ds.shape[0] > 1
    scale = ((1.0,) if timed else ()) + tuple(level0.voxel_size)
    translate = ((0.0,) if timed else ()) + tuple(level0.translation)
    out = []
    for c, channel in enumerate(ds.channels()):
        name = channel.get("name") or f"channel {c}"
        arrays = chunked_multiscale(ds.levels, c)
        kwargs = {
            "name": f"{title}: {name}",
            "multiscale": len(arrays) > 1,
            "scale": scale,
            "translate": translate,
            # napari computes missing limits by reading the data: the record's window spares that
            "contrast_limits": _window(channel, ds.dtype),
            "colormap": _colormap(channel.get("color")),
            "blending": "additive" if c else "translucent_no_depth",
            "metadata": {"dataset": ds.id, "server": ds.connection.base_url, "channel": c, "record": ds.record},
        }
        out.append((arrays if len(arrays) > 1 else arrays[0], kwargs, "image"))
    return out


def check_access(ds: RemoteDataset) -> None:
    """Unless the dataset is public, read the coarsest level's first chunk: an embargoed record is public, so a
    missing or refused token shows here, at open, instead of in napari's drawing later."""
    if ds.record.get("access", "public") == "public":
        return  # its voxels are everyone's: no round trip before the first frame
    level = ds.levels[-1]
    level.cutout(tuple(slice(0, min(c, n)) for c, n in zip(level.chunks, level.shape, strict=True)))


def _window(channel: dict, dtype: np.dtype) -> list[float]:
    window = channel.get("window")
    if window and window[1] > window[0]:
        return [float(window[0]), float(window[1])]
    if np.issubdtype(dtype, np.integer):
        return [float(np.iinfo(dtype).min), float(np.iinfo(dtype).max)]
    return [0.0, 1.0]


def _colormap(color: str | None) -> str:
    """The record's RRGGBB as a napari colormap: a ramp from black to the colour (white: gray)."""
    if not color or color.lower().lstrip("#") == "ffffff":
        return "gray"
    return "#" + color.lower().lstrip("#")


def type_colours(types: np.ndarray) -> np.ndarray:
    """An RGBA row per SWC type."""
    table = {t: _rgba(SWC_COLOURS.get(int(t), OTHER_TYPE)) for t in np.unique(types)}
    out = np.empty((len(types), 4), np.float32)
    for t, rgba in table.items():
        out[types == t] = rgba
    return out


def _rgba(hex_colour: str) -> tuple[float, float, float, float]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, 1.0)


def neuron_vectors(neurons: list, name: str = "neurons", width: float = 1.0) -> LayerData:
    """Every edge of ``neurons`` (client ``Neuron``: ``nodes`` µm z, y, x, ``edges`` child -> parent, ``types``)
    as one Vectors layer: a line from each node to its parent, coloured by the node's SWC type, with the
    neuron's ``id``, ``name`` and the ``type`` as features. (Vectors rather than Shapes paths: one array and
    one buffer instead of an object and a mesh per shape; bench/napari_open.py, docs/napari.md.)"""
    starts, vectors, types, ids, names = [], [], [], [], []
    for neuron in neurons:
        edges = np.asarray(neuron.edges, dtype=np.int64).reshape(-1, 2)
        nodes = np.asarray(neuron.nodes, dtype=np.float64)
        child, parent = edges[:, 0], edges[:, 1]
        starts.append(nodes[child])
        vectors.append(nodes[parent] - nodes[child])
        types.append(np.asarray(neuron.types)[child])
        ids.append(np.full(len(edges), str(neuron.id), dtype=object))
        names.append(np.full(len(edges), neuron.name or str(neuron.id), dtype=object))
    if starts:
        data = np.stack([np.concatenate(starts), np.concatenate(vectors)], axis=1)
        edge_types = np.concatenate(types).astype(np.int32)
    else:
        data, edge_types = np.zeros((0, 2, 3)), np.zeros(0, np.int32)
    features = {"id": np.concatenate(ids) if ids else np.zeros(0, object),
                "name": np.concatenate(names) if names else np.zeros(0, object), "type": edge_types}
    kwargs = {"name": name, "features": features, "edge_color": type_colours(edge_types), "edge_width": width,
              "vector_style": "line", "length": 1.0, "blending": "translucent_no_depth"}
    return data, kwargs, "vectors"


def cell_points(cells, name: str = "cells", size: float = 4.0) -> LayerData:
    """Cells (client ``Cells``: ``ids``, ``zyx`` µm, ``properties``) as one Points layer with the id and every
    property as features."""
    features = {"id": np.asarray(cells.ids), **{k: np.asarray(v) for k, v in cells.properties.items()}}
    kwargs = {"name": name, "features": features, "size": size, "face_color": "#ffd000", "border_width": 0,
              "blending": "translucent_no_depth"}
    return np.asarray(cells.zyx, dtype=np.float64).reshape(-1, 3), kwargs, "points"


def overlay_layers(ds: RemoteDataset, progress: Callable[..., Iterable] | None = None) -> Iterator[LayerData]:
    """The dataset's neurons (one Vectors layer) and cells (a Points layer per table), read through the
    client; ``progress``: napari's ``progress`` (an iterable wrapper showing a bar), or None."""
    from transformer.client_objects import listing  # issue 19's part of the client

    extent = max(n * v for n, v in zip(ds.shape[2:], ds.voxel_size, strict=True))
    found = listing(ds)  # neurons and cell tables in one request (ds.neurons() and cell_tables() are two)
    entries = found["neurons"] if "skeletons" in ds.record.get("links", {}) else []
    if entries:
        listed = progress(entries, desc=f"neurons of {ds.id}") if progress else entries
        neurons = [ds.neuron(entry["id"]) for entry in listed]
        yield neuron_vectors(neurons, f"{ds.record.get('title') or ds.id}: neurons", width=extent / 300)
    for table in found["cell_tables"]:
        cells = ds.cells(table=table["id"])
        yield cell_points(cells, f"{ds.record.get('title') or ds.id}: {table.get('name') or 'cells'}",
                          size=extent / 150)
