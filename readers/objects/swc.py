"""A tolerant SWC reader (INCF SWC specification v1.0): arrays out, every defect reported with its line.

Files in the wild break the specification (several roots, children before parents, parents that do not
exist, zero radii, inline comments), so the parser keeps what it can and says what is wrong. Only a file
that cannot give a tree at all (a cycle, a duplicate id, no node line, an empty or binary file) is refused,
with the reason. Bad content never raises. Parsing is numpy over whole columns; only a file with broken
lines takes the per-line path.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

SWC_TYPE_NAMES: dict[int, str] = {
    0: "undefined",
    1: "soma",
    2: "axon",
    3: "basal_dendrite",
    4: "apical_dendrite",
    5: "custom",
    6: "unspecified_neurite",
    7: "glia",
}
MAX_PER_KIND = 20  # a broken file of a million lines must not produce a million defects
FIELDS = 7  # index type x y z radius parent


def type_name(t: int) -> str:
    return SWC_TYPE_NAMES.get(int(t), f"custom_{int(t)}")


@dataclass(frozen=True)
class Defect:
    line: int  # 1-based line of the file (0: the file as a whole)
    kind: str
    message: str
    fatal: bool = False

    def as_dict(self) -> dict:
        return {"line": self.line, "kind": self.kind, "message": self.message, "fatal": self.fatal}


@dataclass
class Morphology:
    ids: np.ndarray  # int64 (n,): SWC node ids in file order
    types: np.ndarray  # int32 (n,)
    xyz: np.ndarray  # float64 (n, 3): x, y, z as in the file
    radius: np.ndarray  # float32 (n,)
    parent: np.ndarray  # int64 (n,): row of the parent, -1 for a root
    header: list[str] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    refusal: str | None = None

    def edges(self) -> np.ndarray:
        """(m, 2) uint32 child row -> parent row, one per non-root node."""
        rows = np.flatnonzero(self.parent >= 0)
        return np.stack([rows, self.parent[rows]], axis=1).astype(np.uint32)

    def summary(self, scale_xyz: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> dict:
        """Node count, cable length and soma position in µm (``scale_xyz``: µm per file unit)."""
        scale = np.asarray(scale_xyz, dtype=np.float64)
        pts = self.xyz * scale
        e = self.edges().astype(np.int64)
        cable = float(np.linalg.norm(pts[e[:, 0]] - pts[e[:, 1]], axis=1).sum()) if len(e) else 0.0
        soma = self.types == 1
        soma_xyz = [float(v) for v in pts[soma].mean(axis=0)] if soma.any() else None
        return {
            "nodes": int(len(self.ids)),
            "cable_length_um": cable,
            "soma_xyz_um": soma_xyz,
            "types": sorted(int(t) for t in np.unique(self.types)),
            "roots": int((self.parent < 0).sum()),
        }


def _empty(header: list[str], defects: list[Defect], refusal: str) -> Morphology:
    return Morphology(
        np.zeros(0, np.int64),
        np.zeros(0, np.int32),
        np.zeros((0, 3)),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
        header,
        defects,
        refusal,
    )


def _refuse(
    kind: str, message: str, header: list[str] | None = None, defects: list[Defect] | None = None
) -> Morphology:
    found = list(defects or [])
    found.append(Defect(0, kind, message, True))
    return _empty(header or [], found, message)


def _decode(data: bytes) -> str | None:
    """The text of ``data``, or None when it is not text (NUL bytes, or many control characters)."""
    if b"\x00" in data:
        return None
    head = np.frombuffer(data[:65536], dtype=np.uint8)
    control = ((head < 32) & ~np.isin(head, (9, 10, 12, 13))) | (head == 127)
    if control.sum() > max(2, len(head) // 100):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # old tracing tools wrote latin-1 headers; the numbers are ASCII anyway
    return text.lstrip("\ufeff")


class _Report:
    """Defects, at most MAX_PER_KIND per kind, then one line saying how many more."""

    def __init__(self) -> None:
        self.defects: list[Defect] = []
        self.counts: dict[str, int] = {}

    def add(self, line: int, kind: str, message: str, fatal: bool = False) -> None:
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if n < MAX_PER_KIND:
            self.defects.append(Defect(line, kind, message, fatal))

    def many(self, lines: np.ndarray, kind: str, message, fatal: bool = False) -> None:
        """One defect per entry of ``lines`` (1-based), ``message(i)`` for the i-th; only the first few built."""
        for i in range(min(len(lines), MAX_PER_KIND)):
            self.add(int(lines[i]), kind, message(i), fatal)
        extra = len(lines) - MAX_PER_KIND
        if extra > 0:
            self.counts[kind] = self.counts.get(kind, 0) + extra

    def close(self) -> list[Defect]:
        out = list(self.defects)
        for kind, n in self.counts.items():
            if n > MAX_PER_KIND:
                fatal = any(d.fatal for d in self.defects if d.kind == kind)
                out.append(Defect(0, kind, f"{n - MAX_PER_KIND} more {kind} defects not listed", fatal))
        return out


def _fast_values(lines: list[str], rows: list[int]) -> np.ndarray | None:
    """All node lines as a float array in one call, or None when any line needs the careful path."""
    body = "\n".join([lines[i] for i in rows])
    if "#" in body:
        return None
    try:
        values = np.loadtxt(io.StringIO(body), dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        return None
    return values if values.shape[1] == FIELDS else None


def _careful_values(lines: list[str], rows: list[int], report: _Report) -> tuple[np.ndarray, list[int]]:
    """Line by line: strips inline comments, skips short or non-numeric lines (reported)."""
    kept_values: list[list[float]] = []
    kept_rows: list[int] = []
    for i in rows:
        text = lines[i]
        if "#" in text:
            report.add(i + 1, "inline_comment", "an inline comment after the node fields (ignored)")
            text = text.split("#", 1)[0].strip()
            if not text:
                continue
        fields = text.split()
        if len(fields) < FIELDS:
            report.add(i + 1, "too_few_fields", f"{len(fields)} fields, a node needs {FIELDS} (line skipped)")
            continue
        try:
            values = [float(f) for f in fields[:FIELDS]]
        except ValueError:
            bad = next(f for f in fields[:FIELDS] if not is_float(f))
            report.add(i + 1, "non_numeric", f"field {bad[:40]!r} is not a number (line skipped)")
            continue
        if len(fields) > FIELDS:
            report.add(
                i + 1,
                "extra_fields",
                f"{len(fields)} fields, the {len(fields) - FIELDS} after the {FIELDS}th are ignored",
            )
        kept_values.append(values)
        kept_rows.append(i)
    return np.array(kept_values, dtype=np.float64).reshape(-1, FIELDS), kept_rows


def is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_swc(data: bytes) -> Morphology:
    """Parse SWC bytes into arrays. Never raises on bad content: see ``defects`` and ``refusal``."""
    if not data.strip():
        return _refuse("empty", "the file is empty")
    text = _decode(data)
    if text is None:
        return _refuse("binary", "the file is not text (binary content)")
    newline = "\n" if "\n" in text or "\r" not in text else "\r"  # classic Mac files end lines with CR alone
    lines = [s.strip() for s in text.split(newline)]
    header = [s.lstrip("#").strip() for s in lines if s[:1] == "#"]
    header = [h for h in header if h]
    rows = [i for i, s in enumerate(lines) if s and s[0] != "#"]
    report = _Report()
    if not rows:
        return _refuse("empty", "the file has no node lines", header)

    values = _fast_values(lines, rows)
    if values is None:
        values, rows = _careful_values(lines, rows, report)
    line_no = np.asarray(rows, dtype=np.int64) + 1

    # id, type and parent must be integers; no field may be nan or infinite
    ints = values[:, [0, 1, 6]]
    with np.errstate(invalid="ignore"):
        bad = (
            ~np.isfinite(values).all(axis=1)
            | (ints != np.round(ints)).any(axis=1)
            | (np.abs(ints) >= 2.0**53).any(axis=1)  # past 2**53 a float64 no longer holds every integer
            | (np.abs(values[:, 1]) >= 2.0**31)  # a type is an int32
        )
    if bad.any():
        report.many(
            line_no[bad],
            "non_numeric",
            lambda i: "a field is not finite, or id/type/parent is not an integer (line skipped)",
        )
        values, line_no = values[~bad], line_no[~bad]
    if not len(values):
        return _refuse("empty", "no valid node line", header, report.close())

    ids = values[:, 0].astype(np.int64)
    types = values[:, 1].astype(np.int32)
    xyz = np.ascontiguousarray(values[:, 2:5])
    radius = values[:, 5].astype(np.float32)
    parent_ids = values[:, 6].astype(np.int64)
    n = len(ids)
    rows_idx = np.arange(n, dtype=np.int64)

    # duplicate ids: the tree is ambiguous, refuse (parents resolve to the first occurrence meanwhile)
    uniq, first = np.unique(ids, return_index=True)
    refusal = None
    if len(uniq) < n:
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        dup_rows = np.flatnonzero(dup)
        first_line = line_no[first[np.searchsorted(uniq, ids[dup_rows])]]
        report.many(
            line_no[dup_rows],
            "duplicate_id",
            lambda i: f"node id {ids[dup_rows[i]]} already defined on line {first_line[i]}",
            True,
        )
        refusal = f"duplicate node ids ({len(dup_rows)}), first id {ids[dup_rows[0]]} on line {line_no[dup_rows[0]]}"

    # parents: id -> row; a parent that does not exist makes its child a root
    pos = np.clip(np.searchsorted(uniq, parent_ids), 0, len(uniq) - 1)
    found = uniq[pos] == parent_ids
    declared_root = parent_ids < 0
    missing = ~declared_root & ~found
    parent = np.where(declared_root | missing, -1, first[pos]).astype(np.int64)
    if missing.any():
        m = np.flatnonzero(missing)
        report.many(
            line_no[m],
            "missing_parent",
            lambda i: f"parent {parent_ids[m[i]]} of node {ids[m[i]]} does not exist (node kept as a root)",
        )

    roots = np.flatnonzero(declared_root)
    if len(roots) > 1:
        report.many(
            line_no[roots[1:]],
            "several_roots",
            lambda i: f"node {ids[roots[i + 1]]} is another root ({len(roots)} roots in the file)",
        )

    cycle_msg = _cycles(parent, ids, line_no, report)
    if cycle_msg and refusal is None:
        refusal = cycle_msg

    decreasing = np.flatnonzero(ids[1:] < ids[:-1]) + 1  # equal ids are duplicates, reported above
    if len(decreasing):
        report.many(
            line_no[decreasing],
            "unsorted_ids",
            lambda i: f"node id {ids[decreasing[i]]} comes after id {ids[decreasing[i] - 1]}",
        )
    early = np.flatnonzero(parent > rows_idx)
    if len(early):
        report.many(
            line_no[early],
            "unsorted_ids",
            lambda i: f"node {ids[early[i]]} comes before its parent {parent_ids[early[i]]}",
        )

    nonpos = np.flatnonzero(radius <= 0)
    if len(nonpos):
        report.many(
            line_no[nonpos], "nonpositive_radius", lambda i: f"node {ids[nonpos[i]]} has radius {radius[nonpos[i]]:g}"
        )

    defects = sorted(report.close(), key=lambda d: (d.line == 0, d.line))
    return Morphology(ids, types, xyz, radius, parent, header, defects, refusal)


def _cycles(parent: np.ndarray, ids: np.ndarray, line_no: np.ndarray, report: _Report) -> str | None:
    """Report each parent cycle once (fatal); return the refusal text, or None without cycles.

    Pointer doubling: after ceil(log2 n) + 1 squarings every node that reaches a root points at the
    sentinel; the others lead into a cycle, and where they point is a node on it.
    """
    n = len(parent)
    anc = np.append(np.where(parent < 0, n, parent), n)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
        anc = anc[anc]
    stuck = np.flatnonzero(anc[:n] != n)
    if not len(stuck):
        return None
    on_cycle = np.unique(anc[stuck])
    seen: set[int] = set()
    first_msg = None
    for start in on_cycle.tolist():
        if start in seen:
            continue
        members = [start]
        node = int(parent[start])
        while node != start and len(members) <= n:
            members.append(node)
            node = int(parent[node])
        seen.update(members)
        low = members.index(min(members))
        members = members[low:] + members[:low]  # walk order, from the node listed first in the file
        shown = " -> ".join(str(ids[m]) for m in members[:8]) + (" ..." if len(members) > 8 else "")
        msg = f"a cycle of parents: node {shown} -> back to the first ({len(members)} node(s))"
        report.add(int(line_no[members[0]]), "cycle", msg, True)
        first_msg = first_msg or f"line {line_no[members[0]]}: {msg}"
    return first_msg
