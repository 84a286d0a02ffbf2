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

import numpy as np

MAX_LEVELS = 16  # many points at one spot never thin out: the last level takes them all
FINE_BITS = 20  # cells per axis resolved at most: 2**20
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
#: each type's alignment (its component's size): properties are listed by it, largest first
_SIZES = {name: np.dtype(code).itemsize for name, (code, _) in _DTYPES.items()}
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
    # column by column: numpy reduces an (n, 3) array along its long axis ten times slower
    return (
        [float(np.floor(pts[:, a].min())) for a in range(3)],
        [float(np.floor(np.float64(pts[:, a].max()))) + 1 for a in range(3)],
    )


# ------------------------------------------------------------------------------------- spatial index


class SpatialPlan:
    """The plan as arrays: ``order`` lists the points grouped by (level, cell), and each non-empty cell is one
    run of it, found by its key (``bases[level]`` + the cell's linear index in the level's grid)."""

    def __init__(self, levels: list[dict], order: np.ndarray, keys: np.ndarray, starts: np.ndarray) -> None:
        self.levels = levels  # {"key", "grid_shape", "chunk_size", "limit"}, coarsest first
        self.order = order  # int32 (int64 past 2**31 points): rows, random order within a cell
        self.keys = keys  # int64 (m,): the key of each non-empty cell, increasing
        self.starts = starts  # int64 (m + 1,): cell c is order[starts[c]:starts[c + 1]]
        sizes = [int(np.prod(level["grid_shape"])) for level in levels]
        self.bases = [0, *np.cumsum(sizes, dtype=np.int64).tolist()][: len(levels)]
        self._level_of: np.ndarray | None = None
        self._cell_of: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return int(self.order.nbytes + self.keys.nbytes + self.starts.nbytes)

    def _key(self, level: int, ijk) -> int:
        g = self.levels[level]["grid_shape"]
        i, j, k = (int(v) for v in ijk)
        return self.bases[level] + (i * g[1] + j) * g[2] + k

    def cell(self, level: int, ijk: tuple[int, int, int]) -> np.ndarray:
        """The rows of the points stored in one cell (possibly none), in random order."""
        if not 0 <= level < len(self.levels):
            raise AnnotationError(f"no spatial level {level}")
        g = self.levels[level]["grid_shape"]
        if len(ijk) != 3 or not all(0 <= int(v) < s for v, s in zip(ijk, g, strict=True)):
            raise AnnotationError(f"cell {tuple(ijk)} is outside the grid {g}")
        key = self._key(level, ijk)
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or int(self.keys[at]) != key:
            return self.order[:0]
        return self.order[self.starts[at] : self.starts[at + 1]]

    def level_named(self, key: str) -> int | None:
        for i, level in enumerate(self.levels):
            if level["key"] == key:
                return i
        return None

    @property
    def level_of(self) -> np.ndarray:
        """int8 (n,): each point's level (computed on first use: serving needs only ``cell``)."""
        if self._level_of is None:
            self._fill()
        return self._level_of  # type: ignore[return-value]

    @property
    def cell_of(self) -> np.ndarray:
        """int32 (n, 3): each point's cell in its level's grid (computed on first use)."""
        if self._cell_of is None:
            self._fill()
        return self._cell_of  # type: ignore[return-value]

    def _fill(self) -> None:
        level = np.searchsorted(np.asarray(self.bases), self.keys, side="right") - 1
        grids = np.asarray([lv["grid_shape"] for lv in self.levels], dtype=np.int64).reshape(-1, 3)[level]
        linear = self.keys - np.asarray(self.bases, dtype=np.int64)[level]
        plane = grids[:, 1] * grids[:, 2]
        ijk = np.stack([linear // plane, linear // grids[:, 2] % grids[:, 1], linear % grids[:, 2]], axis=1)
        counts = np.diff(self.starts)
        self._level_of = np.empty(len(self.order), dtype=np.int8)
        self._level_of[self.order] = np.repeat(level.astype(np.int8), counts)
        self._cell_of = np.empty((len(self.order), 3), dtype=np.int32)
        self._cell_of[self.order] = np.repeat(ijk.astype(np.int32), counts, axis=0)


def plan_spatial(xyz_nm: np.ndarray, lower, upper, limit: int = 10000, seed: int = 0) -> SpatialPlan:
    """Assign every point to one cell of one level (see the module docstring)."""
    if limit < 1:
        raise AnnotationError("limit must be at least 1")
    pts = np.asarray(xyz_nm, dtype=np.float32).reshape(-1, 3)  # the coordinates as served
    n = len(pts)
    index_type = np.int32 if n < 2**31 else np.int64
    lo = np.asarray(lower, dtype=np.float64)
    extent = np.maximum(np.asarray(upper, dtype=np.float64) - lo, 1.0)
    # Work in a random permutation of the points: increasing positions are then a random order, so the
    # first k points of a cell are a random sample. The remaining points' rows and fine cells (one int64 each)
    # are compacted after each level (in order, so still random), never gathered again.
    rows = np.random.default_rng(seed).permutation(n).astype(index_type)
    code = _fine_code(pts, lo, extent)[rows]
    halvings = np.zeros(3, dtype=np.int64)
    taken: list[tuple[np.ndarray, np.ndarray]] = []  # per level: rows taken, their cells' linear index
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
        if not len(rows):
            break
        if level == 0:  # one cell: its sample is the first `limit` points of the random order
            k = min(limit, len(rows))
            taken.append((rows[:k], np.zeros(k, dtype=np.int64)))
            rows, code = rows[k:], code[k:]
        else:
            linear = _level_cells(code, halvings)
            chosen = _choose(linear, int(grid.prod()), limit, last=level == MAX_LEVELS - 1)
            if chosen is None:  # everything left fits: the last level
                taken.append((rows, linear))
                break
            taken.append((rows[chosen], linear[chosen]))
            keep = np.ones(len(rows), dtype=bool)
            keep[chosen] = False
            rows, code = rows[keep], code[keep]
        if not len(rows):
            break
        sizes = extent / (1 << halvings)
        halvings = halvings + (sizes >= sizes.max() / 2)
        if halvings.max() > FINE_BITS:
            raise AnnotationError("the spatial index needs more levels than its coordinates resolve")
    # grouped by (level, cell); a stable sort per level keeps the random order inside each cell
    order = np.empty(n, dtype=index_type)
    keys = np.empty(n, dtype=np.int64)
    base, at = 0, 0
    for level, (taken_rows, linear) in enumerate(taken):
        by_cell = _stable_order(linear)
        order[at : at + len(by_cell)] = taken_rows[by_cell]
        keys[at : at + len(by_cell)] = linear[by_cell]
        keys[at : at + len(by_cell)] += base
        at += len(by_cell)
        base += int(np.prod(levels[level]["grid_shape"]))
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if n else np.zeros(0, dtype=np.int64)
    return SpatialPlan(levels, order, keys[starts], np.r_[starts, n].astype(np.int64))


def _stable_order(linear: np.ndarray) -> np.ndarray:
    """A stable argsort; cell numbers below 2**16 sort as uint16, which numpy radix-sorts."""
    small = len(linear) and int(linear.max()) < 65536
    return np.argsort(linear.astype(np.uint16) if small else linear, kind="stable")


def _fine_code(pts: np.ndarray, lo: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """Each point's cell on a 2**FINE_BITS grid per axis, packed x, y, z into one int64 (FINE_BITS each).

    A level with h halvings of an axis has cell floor(x * 2**h) == floor(x * 2**FINE_BITS) >> (FINE_BITS - h)
    along it (x in [0, 1) of the extent): scaling by a power of two is exact in floating point, so this is the
    cell that ``chunk_size`` in the info describes (half-open).
    """
    code = np.zeros(len(pts), dtype=np.int64)
    for axis in range(3):
        v = pts[:, axis].astype(np.float64)
        v -= lo[axis]
        v /= extent[axis]
        v *= float(1 << FINE_BITS)
        np.floor(v, out=v)
        np.clip(v, 0, (1 << FINE_BITS) - 1, out=v)
        code <<= FINE_BITS
        code |= v.astype(np.int64)
    return code


def _level_cells(code: np.ndarray, halvings: np.ndarray) -> np.ndarray:
    """The linear index (i * gy + j) * gz + k of each packed fine cell in the grid of ``halvings``."""
    hx, hy, hz = (int(h) for h in halvings)
    linear = code >> (2 * FINE_BITS + FINE_BITS - hx)
    for axis, h in ((1, hy), (2, hz)):
        shift = (2 - axis) * FINE_BITS + FINE_BITS - h
        linear <<= h
        linear |= (code >> shift) & ((1 << h) - 1)
    return linear


def _choose(linear: np.ndarray, cells: int, limit: int, last: bool) -> np.ndarray | None:
    """Positions (increasing) kept at this level: per cell, its first floor(count * limit / max count) points;
    None when every point is kept (the last level).

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
        return None  # everything left fits: the last level
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
        align = _SIZES[spec["type"]]
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
