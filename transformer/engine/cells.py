"""A cell table read once and kept compact: positions (nm, float32), ids, numeric properties in their served
types, and the multilevel spatial index as one permutation plus the key and start of each non-empty cell.

No Python object per point or per cell: 2,000,000 cells with one property weigh about 36-60 MB here (24 MB of
positions, 8 MB of the permutation, 2-8 MB per property, and 24 MB of ids and their sorted order only when the
table has an id column that is not 1..n); the reader's float64 columns are dropped once the index is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from writers.annotations import (
    SpatialPlan,
    annotation_info,
    bounds,
    encode_point_by_id,
    encode_points,
    order_properties,
    plan_spatial,
)

#: most cells one spatial cell of a coarse level holds (the rest are pushed to finer levels)
SPATIAL_LIMIT = 10_000


@dataclass
class CellTable:
    name: str
    xyz_nm: np.ndarray  # (n, 3) float32, x, y, z in the image's physical frame
    ids: np.ndarray | None  # (n,) uint64; None when they are 1..n (a table without an id column): row + 1
    props: dict[str, np.ndarray]  # spec id -> (n,) values in the spec's type
    specs: list[dict]
    info: dict
    index: SpatialPlan  # rows grouped by (level, cell), and where each non-empty cell's run starts
    by_id: np.ndarray | None  # rows sorted by id (for by_id lookups); None with ids 1..n
    defects: list = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        arrays = [self.xyz_nm, self.ids, self.by_id, *self.props.values()]
        return int(sum(a.nbytes for a in arrays if a is not None)) + self.index.nbytes + 4096

    def __len__(self) -> int:
        return len(self.xyz_nm)

    def ids_of(self, rows: np.ndarray) -> np.ndarray:
        return (rows.astype(np.uint64) + np.uint64(1)) if self.ids is None else self.ids[rows]

    def level(self, key: str) -> tuple[int, dict] | None:
        """(index, level dict) of a spatial key such as ``spatial0``."""
        for i, level in enumerate(self.info["spatial"]):
            if level["key"] == key:
                return i, level
        return None

    def spatial_bytes(self, level: int, ijk: tuple[int, int, int]) -> bytes:
        """The body of one spatial cell (an empty cell is a valid body with count 0)."""
        rows = self.index.cell(level, ijk)
        return encode_points(
            self.xyz_nm[rows], {k: v[rows] for k, v in self.props.items()}, self.specs, self.ids_of(rows)
        )

    def row_of(self, object_id: int) -> int | None:
        if self.ids is None:
            return object_id - 1 if 1 <= object_id <= len(self) else None
        ids = self.ids[self.by_id]
        at = int(np.searchsorted(ids, np.uint64(object_id)))
        return int(self.by_id[at]) if at < len(ids) and int(ids[at]) == object_id else None

    def by_id_bytes(self, row: int) -> bytes:
        return encode_point_by_id(self.xyz_nm[row], {k: v[row] for k, v in self.props.items()}, self.specs)

    def within(self, lower_um: np.ndarray, upper_um: np.ndarray) -> np.ndarray:
        """Rows whose position (µm, x, y, z) lies in [lower, upper) on every axis, in file order."""
        xyz_um = self.xyz_nm.astype(np.float64) / 1000.0
        inside = np.all((xyz_um >= lower_um) & (xyz_um < upper_um), axis=1)
        return np.flatnonzero(inside)


def build_cell_table(path: Path, scale_xyz: tuple[float, float, float], limit: int = SPATIAL_LIMIT) -> CellTable:
    """Read the table at ``path`` (file units times ``scale_xyz`` are µm) and index it (blocking)."""
    from readers.objects.points import read_points  # numpy's CSV machinery: loaded when a table is first read

    table = read_points(path)
    xyz_nm = np.empty((len(table.xyz), 3), dtype=np.float32)
    for axis in range(3):  # column by column: broadcasting over (n, 3) is 10x slower
        xyz_nm[:, axis] = np.asarray(table.xyz[:, axis], dtype=np.float64) * (float(scale_xyz[axis]) * 1000.0)
    ids = np.asarray(table.ids, dtype=np.uint64)
    specs = order_properties(table.columns)
    props = {spec["id"]: np.asarray(table.columns[spec["id"]]).astype(spec["type"]) for spec in specs}
    del table
    lower, upper = bounds(xyz_nm)  # upper exclusive
    plan = plan_spatial(xyz_nm, lower, upper, limit=limit)
    info = annotation_info(lower, upper, specs, plan.levels)
    if len(ids) and ids[0] == 1 and ids[-1] == len(ids) and (ids == np.arange(1, len(ids) + 1, dtype=np.uint64)).all():
        return CellTable(path.name, xyz_nm, None, props, specs, info, plan, None)  # 24 MB fewer per 2M
    by_id = np.argsort(ids, kind="stable").astype(plan.order.dtype)
    return CellTable(path.name, xyz_nm, ids, props, specs, info, plan, by_id)
