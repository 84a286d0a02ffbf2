"""The client's view of the objects beside an image: neurons and cells as numpy arrays in µm, z, y, x (the
image's axis order and physical frame: voxel ``(k, j, i)`` is centred at ``(k vz, j vy, i vx)`` µm).

Used through :class:`transformer.client.RemoteDataset`: ``ds.neurons()``, ``ds.neuron(id)``,
``ds.cells(box=...)``. A neuron is read as its Neuroglancer skeleton (binary, a few bytes per node); cells
as an npy box query.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from writers.skeletons import decode_skeleton, skeleton_info


@dataclass
class Neuron:
    """One neuron: node positions ``nodes`` (n, 3) µm z, y, x; ``edges`` (m, 2) child row -> parent row;
    ``radius`` (n,) µm; ``types`` (n,) SWC types; ``summary`` (nodes, cable length, soma, warnings)."""

    id: str
    name: str
    nodes: np.ndarray
    edges: np.ndarray
    radius: np.ndarray
    types: np.ndarray
    summary: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Neuron {self.id} {self.name!r} nodes={len(self.nodes)}>"

    @property
    def soma(self) -> np.ndarray | None:
        """Mean position (µm, z, y, x) of the soma nodes (type 1), or None."""
        soma = self.types == 1
        return self.nodes[soma].mean(axis=0) if soma.any() else None


@dataclass
class Cells:
    """Cells of one table: ``ids`` (n,) uint64, ``zyx`` (n, 3) µm, and each numeric column in ``properties``."""

    ids: np.ndarray
    zyx: np.ndarray
    properties: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"<Cells n={len(self)} properties={list(self.properties)}>"


def listing(ds, parse: bool | None = None) -> dict:
    """The dataset's objects in one request: ``neurons`` (as :func:`neuron_list`) and ``cell_tables``."""
    value = "auto" if parse is None else int(parse)
    return ds.connection.json(f"/api/datasets/{ds.id}/neurons?parse={value}")


def neuron_list(ds, parse: bool | None = None) -> list[dict]:
    """Each neuron's ``id``, ``name``, ``label`` and summary. ``parse``: True makes the server parse every neuron
    it has not parsed yet (minutes for 1,000 large ones), False lists what it knows, None (default) parses when
    that is at most 64 MiB of SWC."""
    return listing(ds, parse)["neurons"]


def cell_tables(ds) -> list[dict]:
    return listing(ds, False)["cell_tables"]


def read_neuron(ds, neuron_id: str | int, summary: dict | None = None) -> Neuron:
    """One neuron's arrays (µm, z, y, x), read as its precomputed skeleton (positions in nm, x, y, z)."""
    neuron_id = str(neuron_id)
    body = ds.connection.get(f"/objects/{ds.id}/skeletons/{neuron_id}")
    arrays = decode_skeleton(body, skeleton_info())
    nodes = arrays["positions"][:, ::-1].astype(np.float64) / 1000.0
    known = summary or {}
    name = next((e["name"] for e in ds.record.get("attached", []) if e["id"] == neuron_id), "")
    return Neuron(
        neuron_id,
        known.get("name", name),
        nodes,
        np.asarray(arrays["edges"], dtype=np.uint32),
        arrays["radius"].astype(np.float64) / 1000.0,
        arrays["type"].astype(np.int32),
        known,
    )


def _axis(value, size: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, slice):
        if value.step not in (None, 1):
            raise ValueError("a cells box takes slices without a step")
        return f"{'' if value.start is None else value.start}:{'' if value.stop is None else value.stop}"
    a, b = value
    return f"{a}:{b}"


def read_cells(ds, box=None, table: str | None = None) -> Cells:
    """The cells whose position lies in ``box``: (z, y, x) slices, ints or (start, stop) pairs of level-0
    voxels, half-open (None: the whole table)."""
    params = ["format=npy"]
    if box is not None:
        if len(box) != 3:
            raise ValueError("box is (z, y, x)")
        params += [f"{axis}={_axis(v)}" for axis, v in zip("zyx", box, strict=True) if _axis(v)]
    if table:
        params.append(f"table={table}")
    body = ds.connection.get(f"/api/datasets/{ds.id}/cells?{'&'.join(params)}")
    rows = np.load(io.BytesIO(body), allow_pickle=False)
    zyx = np.column_stack([rows["z"], rows["y"], rows["x"]]) if len(rows) else np.zeros((0, 3))
    properties = {name: np.asarray(rows[name]) for name in rows.dtype.names if name not in ("id", "z", "y", "x")}
    return Cells(np.asarray(rows["id"], dtype=np.uint64), zyx.astype(np.float64), properties)
