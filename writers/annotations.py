"""Neuroglancer precomputed annotations (POINT): the info, the multilevel spatial index, record bytes.

What the released readers need (see the facts in OBJECTS.md §3):
- properties are listed in the info already grouped 4-byte, then 2-byte, then 1-byte: the browser
  reorders them itself, the Python readers (neuroglancer, cloud-volume) decode in info order;
- no uint32 property: the released neuroglancer package pads it wrongly after another 4-byte one;
- ``relationships``, ``by_id`` and ``spatial`` are always present; ``annotation_type`` is "POINT"
  (cloud-volume rejects the lower case that neuroglancer's own writer spells).

The spatial index is a plan over arrays (a level and a cell per point, and one permutation grouping the
points by cell), so 2,000,000 points cost a few arrays, never a Python object per point. Level 0 is one
cell over the whole box; every level keeps a random sample of at most ``limit`` points per cell and pushes
the rest down to the next level, whose cells halve the larger dimensions. Cells are half-open, so each
point lies in exactly one cell of exactly one level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAX_LEVELS = 16  # many points at one spot never thin out: the last level takes them all
FINE_BITS = 20  # cells per axis resolved at most: 2**20
_SIZES = {"float32": 4, "int32": 4, "uint32": 4, "int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "rgb": 1, "rgba": 1}
_DTYPES = {
    "float32": ("<f4", ()),
    "int32": ("<i4", ()),
    "uint32": ("<u4", ()),
    "int16": ("<i2", ()),
    "uint16": ("<u2", ()),
    "int8": ("i1", ()),
    "uint8": ("u1", ()),
    "rgb": ("u1", (3,)),
    "rgba": ("u1", (4,)),
}
_INT_CHOICES = (
    ("uint8", 0, 255),
    ("int8", -128, 127),
    ("uint16", 0, 65535),
    ("int16", -32768, 32767),
    ("int32", -(2**31), 2**31 - 1),
)
_CELL_KEY = re.compile(r"^(0|[1-9][0-9]{0,9})_(0|[1-9][0-9]{0,9})_(0|[1-9][0-9]{0,9})$")
PROPERTY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")


class AnnotationError(ValueError):
    """Arrays or bytes that do not fit the given info or plan."""


# ---------------------------------------------------------------------------------------------- info


def order_properties(columns: dict[str, np.ndarray]) -> list[dict]:
    """Property specs for numeric columns (names already valid ids): the smallest type that holds every
    value exactly (integers that fit 8, 16 or 32 bits, else float32), listed 4-byte, 2-byte, then 1-byte."""
    specs = []
    for name, values in columns.items():
        if not PROPERTY_ID.match(name):
            raise AnnotationError(f"property id {name!r} does not match {PROPERTY_ID.pattern}")
        specs.append({"id": name, "type": _smallest_type(np.asarray(values))})
    return sorted(specs, key=lambda s: -_SIZES[s["type"]])  # stable: file order within a size


def _smallest_type(values: np.ndarray) -> str:
    if values.dtype.kind == "b":
        return "uint8"
    if values.dtype.kind not in "iuf" or not len(values):
        return "float32"
    if values.dtype.kind == "f" and (not np.isfinite(values).all() or (values != np.round(values)).any()):
        return "float32"
    low, high = values.min(), values.max()
    for name, lo, hi in _INT_CHOICES:
        if lo <= low and high <= hi:
            return name
    return "float32"


def annotation_info(
    lower,
    upper,
    properties: list[dict],
    spatial: list[dict],
    dimensions_nm: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> dict:
    """The ``info`` of a POINT annotation source in x, y, z (``dimensions_nm``: nm per stored unit)."""
    for spec in properties:
        if spec["type"] == "uint32":
            raise AnnotationError("uint32 properties are decoded wrongly by the released neuroglancer package")
    sizes = [_SIZES[s["type"]] for s in properties]
    if sizes != sorted(sizes, reverse=True):
        raise AnnotationError("properties must be listed 4-byte, then 2-byte, then 1-byte")
    return {
        "@type": "neuroglancer_annotations_v1",
        "dimensions": {axis: [float(d) * 1e-9, "m"] for axis, d in zip("xyz", dimensions_nm, strict=True)},
        "lower_bound": [float(v) for v in lower],
        "upper_bound": [float(v) for v in upper],
        "annotation_type": "POINT",
        "properties": [dict(s) for s in properties],
        "relationships": [],
        "by_id": {"key": "by_id"},
        "spatial": [dict(level) for level in spatial],
    }


def bounds(xyz_nm: np.ndarray) -> tuple[list[float], list[float]]:
    """Lower (floor of the minimum) and exclusive upper (floor of the maximum + 1) of the float32 points."""
    pts = np.asarray(xyz_nm, dtype=np.float32).reshape(-1, 3)
    if not len(pts):
        return [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    return (
        [float(v) for v in np.floor(pts.min(axis=0))],
        [float(v) for v in np.floor(pts.max(axis=0).astype(np.float64)) + 1],
    )


# ------------------------------------------------------------------------------------- spatial index


@dataclass
class SpatialPlan:
    levels: list[dict]  # {"key", "grid_shape", "chunk_size", "limit"}, coarsest first
    level_of: np.ndarray  # int8 (n,)
    cell_of: np.ndarray  # int32 (n, 3)
    order: np.ndarray  # int64 (n,): rows grouped by (level, cell), random order within a cell
    _sorted_keys: np.ndarray  # int64 (n,): the cell key of order[i]
    _bases: list[int]  # first key of each level

    def _key(self, level: int, ijk) -> int:
        g = self.levels[level]["grid_shape"]
        i, j, k = (int(v) for v in ijk)
        return self._bases[level] + (i * g[1] + j) * g[2] + k

    def cell(self, level: int, ijk: tuple[int, int, int]) -> np.ndarray:
        """The rows of the points stored in one cell (possibly none), in random order."""
        if not 0 <= level < len(self.levels):
            raise AnnotationError(f"no spatial level {level}")
        g = self.levels[level]["grid_shape"]
        if len(ijk) != 3 or not all(0 <= int(v) < s for v, s in zip(ijk, g, strict=True)):
            raise AnnotationError(f"cell {tuple(ijk)} is outside the grid {g}")
        key = self._key(level, ijk)
        lo, hi = np.searchsorted(self._sorted_keys, [key, key + 1])
        return self.order[lo:hi]

    def level_named(self, key: str) -> int | None:
        for i, level in enumerate(self.levels):
            if level["key"] == key:
                return i
        return None


def plan_spatial(xyz_nm: np.ndarray, lower, upper, limit: int = 10000, seed: int = 0) -> SpatialPlan:
    """Assign every point to one cell of one level (see the module docstring)."""
    if limit < 1:
        raise AnnotationError("limit must be at least 1")
    pts = np.asarray(xyz_nm, dtype=np.float32).reshape(-1, 3)  # the coordinates as served
    n = len(pts)
    lo = np.asarray(lower, dtype=np.float64)
    extent = np.maximum(np.asarray(upper, dtype=np.float64) - lo, 1.0)
    # Work in a random permutation of the points: increasing positions are then a random order, so the
    # first k points of a cell are a random sample, without gathering or shuffling at every level.
    perm = np.random.default_rng(seed).permutation(n)
    fine = _fine_cells(pts[perm], lo, extent)
    halvings = np.zeros(3, dtype=np.int64)
    taken: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per level: permuted positions, cells, linear
    bases: list[int] = []
    remaining = np.arange(n)
    levels: list[dict] = []
    while True:
        level = len(levels)
        grid = 1 << halvings
        chunk = extent / grid
        levels.append(
            {
                "key": f"spatial{level}",
                "grid_shape": [int(v) for v in grid],
                "chunk_size": [float(v) for v in chunk],
                "limit": int(limit),
            }
        )
        bases.append(bases[-1] + int(np.prod(levels[-2]["grid_shape"])) if level else 0)
        if not len(remaining):
            break
        if level == 0:  # one cell: its sample is the first `limit` points of the random order
            chosen = np.arange(min(limit, len(remaining)))
            ijk = np.zeros((len(chosen), 3), dtype=fine.dtype)
            linear = np.zeros(len(chosen), dtype=np.int64)
            taken.append((remaining[chosen], ijk, linear))
            remaining = remaining[len(chosen) :]
            if not len(remaining):
                break
            halvings = halvings + (extent >= extent.max() / 2)
            continue
        ijk = fine[remaining] >> (FINE_BITS - halvings).astype(fine.dtype)
        linear = (ijk[:, 0].astype(np.int64) * grid[1] + ijk[:, 1]) * grid[2] + ijk[:, 2]
        chosen = _choose(linear, int(grid.prod()), limit, last=level == MAX_LEVELS - 1)
        taken.append((remaining[chosen], ijk[chosen], linear[chosen]))
        keep = np.ones(len(remaining), dtype=bool)
        keep[chosen] = False
        remaining = remaining[keep]  # still increasing: still a random order
        if not len(remaining):
            break
        sizes = extent / (1 << halvings)
        halvings = halvings + (sizes >= sizes.max() / 2)
        if halvings.max() > FINE_BITS:
            raise AnnotationError("the spatial index needs more levels than its coordinates resolve")
    # grouped by (level, cell); a stable sort per level keeps the random (permuted) order inside each cell
    order_parts, key_parts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    cell_parts, level_parts = [np.zeros((0, 3), dtype=np.int32)], [np.zeros(0, dtype=np.int8)]
    for level, (rows, ijk, linear) in enumerate(taken):
        by_cell = _stable_order(linear)
        order_parts.append(perm[rows[by_cell]])
        key_parts.append(bases[level] + linear[by_cell])
        cell_parts.append(ijk[by_cell].astype(np.int32))
        level_parts.append(np.full(len(rows), level, dtype=np.int8))
    order = np.concatenate(order_parts)
    level_of = np.empty(n, dtype=np.int8)
    level_of[order] = np.concatenate(level_parts)
    cell_of = np.empty((n, 3), dtype=np.int32)
    cell_of[order] = np.concatenate(cell_parts)
    return SpatialPlan(levels, level_of, cell_of, order, np.concatenate(key_parts), bases)


def _stable_order(linear: np.ndarray) -> np.ndarray:
    """A stable argsort; cell numbers below 2**16 sort as uint16, which numpy radix-sorts."""
    small = len(linear) and int(linear.max()) < 65536
    return np.argsort(linear.astype(np.uint16) if small else linear, kind="stable")


def _fine_cells(pts: np.ndarray, lo: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """Each point's cell on a 2**FINE_BITS grid per axis; a level with h halvings of an axis is this >> (FINE_BITS - h).

    floor(x * 2**h) == floor(x * 2**FINE_BITS) >> (FINE_BITS - h), and scaling by a power of two is exact in
    floating point, so this is the cell that ``chunk_size`` in the info describes (half-open).
    """
    out = np.empty(pts.shape, dtype=np.int32)
    for axis in range(3):
        x = (pts[:, axis].astype(np.float64) - lo[axis]) / extent[axis] * float(1 << FINE_BITS)
        np.clip(np.floor(x), 0, (1 << FINE_BITS) - 1, out=x)
        out[:, axis] = x
    return out


def _choose(linear: np.ndarray, cells: int, limit: int, last: bool) -> np.ndarray:
    """Positions (increasing) kept at this level: per cell, its first floor(count * limit / max count) points.

    The points are in random order, so a cell's first k points are a random sample, and they all lie in a
    prefix of about fraction x n positions: only that prefix is sorted (doubled when it falls short).
    """
    n = len(linear)
    uniq = None
    if cells <= 4 * n + 64:
        counts = np.bincount(linear, minlength=cells)
    else:
        uniq, counts = np.unique(linear, return_counts=True)
    top = int(counts.max())
    if last or top <= limit:
        return np.arange(n)  # everything left fits: the last level
    fraction = limit / top
    take = np.floor(counts * fraction + 1e-9).astype(np.int64)
    need = int(take.sum())
    prefix = min(n, int(n * fraction * 1.25) + 1024)
    while True:
        head = linear[:prefix]
        by_cell = _stable_order(head)
        in_order = head[by_cell]
        starts = np.flatnonzero(np.r_[True, in_order[1:] != in_order[:-1]])
        rank = np.arange(prefix) - np.repeat(starts, np.diff(np.r_[starts, prefix]))
        quota = take[in_order] if uniq is None else take[np.searchsorted(uniq, in_order)]
        chosen = by_cell[rank < quota]
        if len(chosen) == need or prefix == n:
            return np.sort(chosen)
        prefix = min(n, prefix * 2)


def cell_key(ijk) -> str:
    return "_".join(str(int(v)) for v in ijk)


def parse_cell_key(key: str, level: dict) -> tuple[int, int, int] | None:
    """``"i_j_k"`` (canonical decimals) inside ``level``'s grid, else None."""
    m = _CELL_KEY.match(key)
    if not m:
        return None
    ijk = tuple(int(v) for v in m.groups())
    if not all(v < s for v, s in zip(ijk, level["grid_shape"], strict=True)):
        return None
    return ijk  # type: ignore[return-value]


class IdLookup:
    """Row of an annotation id (ids as served in by_id), without a dict of Python ints."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.uint64)
        self._sequential = bool(len(self.ids) and (self.ids == np.arange(1, len(self.ids) + 1)).all())
        self._order = None if self._sequential else np.argsort(self.ids, kind="stable")
        self._sorted = None if self._order is None else self.ids[self._order]

    def row(self, annotation_id: int) -> int | None:
        if annotation_id < 0 or annotation_id >= 2**64:
            return None
        if self._sequential:
            return annotation_id - 1 if 1 <= annotation_id <= len(self.ids) else None
        i = int(np.searchsorted(self._sorted, np.uint64(annotation_id)))
        if i < len(self._sorted) and int(self._sorted[i]) == annotation_id:
            return int(self._order[i])
        return None


# ---------------------------------------------------------------------------------------------- bytes


def _field(spec: dict) -> str:
    return "p:" + spec["id"]  # never collides with "geometry" or the padding fields


def record_dtype(specs: list[dict]) -> np.dtype:
    """One POINT record: f32 x, y, z, then the properties in ``specs`` order (aligned), padded to 4 bytes."""
    fields: list[tuple] = [("geometry", "<f4", (3,))]
    offset = 12
    for i, spec in enumerate(specs):
        code, shape = _DTYPES[spec["type"]]
        align = np.dtype(code).itemsize
        if offset % align:
            pad = align - offset % align
            fields.append((f"_pad{i}", "u1", (pad,)))
            offset += pad
        fields.append((_field(spec), code, shape))
        offset += np.dtype((code, shape)).itemsize if shape else np.dtype(code).itemsize
    if offset % 4:
        fields.append(("_pad_end", "u1", (4 - offset % 4,)))
    return np.dtype(fields)


def _records(xyz_nm: np.ndarray, properties: dict[str, np.ndarray], specs: list[dict]) -> np.ndarray:
    pts = np.asarray(xyz_nm, dtype=np.float32).reshape(-1, 3)
    out = np.zeros(len(pts), dtype=record_dtype(specs))
    out["geometry"] = pts
    for spec in specs:
        values = np.asarray(properties[spec["id"]])
        if len(values) != len(pts):
            raise AnnotationError(f"property {spec['id']!r} has {len(values)} values for {len(pts)} points")
        out[_field(spec)] = values
    return out


def encode_points(xyz_nm: np.ndarray, properties: dict[str, np.ndarray], specs: list[dict], ids: np.ndarray) -> bytes:
    """A spatial cell (or relationship list): u64 count, the records, then the u64 ids."""
    records = _records(xyz_nm, properties, specs)
    ids = np.asarray(ids, dtype="<u8").reshape(-1)
    if len(ids) != len(records):
        raise AnnotationError("one id per point")
    return np.array([len(records)], dtype="<u8").tobytes() + records.tobytes() + ids.tobytes()


def encode_point_by_id(xyz_nm, props: dict, specs: list[dict]) -> bytes:
    """One annotation at ``by_id/<id>``: its record (no relationships: the info declares none)."""
    row = {k: np.asarray([v]) for k, v in props.items()}
    return _records(np.asarray(xyz_nm).reshape(1, 3), row, specs).tobytes()


def decode_points(data: bytes, info: dict) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """ids (k,) uint64, xyz (k, 3) float32 and each property (k,) of a spatial cell's bytes."""
    dtype = record_dtype(info["properties"])
    if len(data) < 8:
        raise AnnotationError("shorter than the 8-byte count")
    count = int(np.frombuffer(data, dtype="<u8", count=1)[0])
    if len(data) != 8 + count * (dtype.itemsize + 8):
        raise AnnotationError(f"{len(data)} bytes do not hold {count} points")
    records = np.frombuffer(data, dtype=dtype, count=count, offset=8)
    ids = np.frombuffer(data, dtype="<u8", count=count, offset=8 + count * dtype.itemsize)
    return ids, records["geometry"], {s["id"]: records[_field(s)] for s in info["properties"]}


def decode_point_by_id(data: bytes, info: dict) -> tuple[np.ndarray, dict]:
    """xyz (3,) float32 and the property values of one ``by_id`` annotation."""
    dtype = record_dtype(info["properties"])
    if len(data) != dtype.itemsize:
        raise AnnotationError(f"{len(data)} bytes, a record has {dtype.itemsize}")
    record = np.frombuffer(data, dtype=dtype, count=1)[0]
    return record["geometry"], {s["id"]: record[_field(s)] for s in info["properties"]}
