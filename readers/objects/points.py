"""Point tables beside an image: CSV cell tables and Vaa3D ``.apo`` marker files, read into column arrays.

A CSV names its columns in a header: ``x,y,z`` in any case and order (``z,y,x`` too), an optional ``id``,
and any other numeric columns, which become properties. A Vaa3D ``.apo`` file is a CSV whose header starts
with ``##n`` and lists ``z,x,y`` among empty and space-prefixed names; the same rules read it.

Millions of rows are read by pandas' C reader (a dependency of the service: 2,000,000 rows in ~0.7 s CPU).
Tables it does not take, and tables with rows to drop, are read in blocks of bytes: plain decimals (the usual
content) by numpy over the whole block (readers/objects/decimals.py), other blocks by numpy's C parser, and
only odd blocks (quotes, ragged lines) through Python row by row. No Python object is kept per row. Rows
whose x, y or z is missing are dropped and reported with their line numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from readers.objects.decimals import parse_plain
from readers.objects.swc import Defect, is_float

BLOCK = 1 << 20  # bytes parsed at once: bounds the temporaries (about 40 bytes per input byte, per thread)
PARALLEL = 2  # blocks parsed at once
SAMPLE = 64 << 10  # bytes read to find the header and the numeric columns
MAX_DEFECTS = 20
USE_PANDAS = True  # when it is importable (a dependency); the tests and the benchmark also run numpy's path
PANDAS_FROM = 8 << 20  # smaller files skip pandas (importing it ~0.4 s CPU): at 8 MB both paths take ~0.5 s
_POW10 = 10 ** np.arange(19, dtype=np.int64)
_UNIT_SUFFIX = re.compile(r"\s*(\(.*\)|\[.*\]|_(um|µm|px|vox|voxel|nm))$")
_SAFE = re.compile(r"[^A-Za-z0-9_]+")
AXES = ("x", "y", "z")


class PointTableError(ValueError):
    """A file that gives no points (no x, y, z columns, not text): the reason, never a path."""


@dataclass
class PointTable:
    xyz: np.ndarray  # float64 (n, 3): x, y, z in the file's units
    ids: np.ndarray  # uint64 (n,): the 'id' column when present and valid, else 1..n
    columns: dict[str, np.ndarray]  # every other numeric column, by sanitised name
    defects: list[Defect] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # sanitised name -> the name in the file
    format: str = "csv"  # "csv" or "apo"


@dataclass
class _Layout:
    delimiter: str | None  # None: runs of whitespace
    names: list[str]  # as in the file (stripped)
    header_end: int  # byte offset of the first data line
    header_line: int  # 1-based line number of the header
    format: str


# --------------------------------------------------------------------------------------------- header


def _layout(head: bytes) -> _Layout:
    """Find the header line: the first non-empty line that is not a comment. A leading '#' run belongs to
    the header when the line names columns, as Vaa3D's '##n,...' does."""
    if b"\x00" in head:
        raise PointTableError("the file is not text (binary content)")
    pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    line_no = 0
    while pos < len(head):
        end = head.find(b"\n", pos)
        if end < 0:
            end = len(head)
        line_no += 1
        line = head[pos:end].decode("utf-8", errors="replace").strip()
        pos = end + 1
        if not line:
            continue
        body = line.lstrip("#").strip()
        delimiter = next((d for d in (",", "\t", ";") if d in body), None)
        names = [n.strip() for n in (body.split(delimiter) if delimiter else body.split())]
        if line.startswith("#") and not line.startswith("##") and not _names_xyz(names):
            continue  # an ordinary comment before the header
        return _Layout(delimiter, names, pos, line_no, "apo" if line.startswith("##") else "csv")
    raise PointTableError("the file has no header line")


def _canonical(name: str) -> str:
    return _UNIT_SUFFIX.sub("", name.strip().lower()).strip()


def _names_xyz(names: list[str]) -> bool:
    canon = [_canonical(n) for n in names]
    return all(a in canon for a in AXES)


def _sanitise(name: str, taken: set[str]) -> str:
    """A property id neuroglancer accepts: ^[a-z][a-zA-Z0-9_]*$, unique."""
    base = _SAFE.sub("_", name.strip()).strip("_") or "column"
    base = base[0].lower() + base[1:]
    if not base[0].isalpha() or not base[0].isascii():
        base = "p_" + base
    out, i = base, 2
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


# ------------------------------------------------------------------------------------------- parsing


def _numeric_columns(sample_rows: list[list[str]], ncols: int) -> list[int]:
    """Columns whose sampled non-empty values are numbers, but for a stray one in ten (a note, a 'NA': it
    reads as missing)."""
    out = []
    for c in range(ncols):
        filled = [v for v in (r[c].strip() for r in sample_rows if c < len(r)) if v]
        numbers = sum(1 for v in filled if is_float(v))
        if numbers and len(filled) - numbers <= max(1, len(filled) // 10):
            out.append(c)
    return out


def _split_rows(text: str, delimiter: str | None) -> tuple[list[list[str]], list[int]]:
    """Rows of the non-blank lines, and the 0-based index of each one's line."""
    kept = [(i, ln) for i, ln in enumerate(text.split("\n")) if ln.strip()]
    lines = [ln for _, ln in kept]
    rows = [ln.split() for ln in lines] if delimiter is None else list(csv.reader(lines, delimiter=delimiter))
    return rows, [i for i, _ in kept]


def _has_empty(text: str, d: str) -> bool:
    return d + d in text or d + "\n" in text or "\n" + d in text or text.startswith(d)


def _fill_empty(text: str, d: str) -> str:
    """Empty fields spelled 'nan', so that the C parser reads them (as missing) instead of failing."""
    text = text.replace(d + d, d + "nan" + d).replace(d + d, d + "nan" + d)
    text = text.replace("\n" + d, "\nnan" + d).replace(d + "\n", d + "nan\n")
    return "nan" + text if text.startswith(d) else text


def _parse_fast(block: bytes, delimiter: str | None, wanted: list[int]) -> dict[int, np.ndarray] | None:
    """Columns ``wanted`` of a block of complete lines through numpy's C parser, or None when a field in them
    is not a number (the careful path then decides per field)."""
    text = block.decode("utf-8", errors="replace")
    if delimiter is not None and _has_empty(text, delimiter):
        text = _fill_empty(text, delimiter)
    try:
        values = np.loadtxt(
            io.StringIO(text),
            dtype=np.float64,
            delimiter=delimiter,
            usecols=wanted,
            ndmin=2,
            comments=None,
            quotechar='"',
        )
    except ValueError:
        return None
    return {c: values[:, i].copy() for i, c in enumerate(wanted)}


def _data_lines(block: bytes) -> np.ndarray:
    """0-based lines of the block that hold a row (numpy's parser skips blank lines)."""
    return np.asarray([i for i, ln in enumerate(block.split(b"\n")) if ln.strip()], dtype=np.int64)


def _parse_slow(block: bytes, delimiter: str | None, wanted: list[int]) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Any other block (quotes, ragged lines, whitespace-separated): Python per row, rare. Also returns the
    0-based line of each row within the block."""
    rows, line_of = _split_rows(block.decode("utf-8", errors="replace"), delimiter)
    out = {c: np.full(len(rows), np.nan) for c in wanted}
    for r, row in enumerate(rows):
        for c in wanted:
            if c < len(row):
                text = row[c].strip()
                if text:
                    try:
                        out[c][r] = float(text)
                    except ValueError:
                        pass
    return out, np.asarray(line_of, dtype=np.int64)


def _blocks(path: Path, start: int, strip_cr: bool = True):
    """Blocks of complete lines from ``start`` ('\\r' removed unless not ``strip_cr``), and the number of lines
    before each."""
    cr = b"\r" if strip_cr else b""
    lines_before = 0
    carry = b""
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            chunk = f.read(BLOCK)
            data = carry + chunk
            if not chunk:
                if data.strip():
                    data = data.rstrip() + b"\n"
                    yield data.replace(cr, b"") if cr else data, lines_before
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield data[:cut].replace(cr, b"") if cr else data[:cut], lines_before
            lines_before += data.count(b"\n", 0, cut)


def _parse_block(block: bytes, layout: _Layout, wanted: list[int]) -> tuple[dict[int, np.ndarray], np.ndarray | None]:
    """Columns ``wanted`` of one block: plain decimals by numpy over the bytes, else numpy's C parser, else
    Python per field; and each row's 0-based line in the block when the careful path read it."""
    if layout.delimiter is not None:
        table = parse_plain(block, layout.delimiter, len(layout.names))
        if table is not None:
            return {c: table[:, c].copy() for c in wanted}, None
    cols = _parse_fast(block, layout.delimiter, wanted)
    if cols is not None:
        return cols, None
    return _parse_slow(block, layout.delimiter, wanted)


def _parsed_blocks(path: Path, layout: _Layout, wanted: list[int]):
    """(columns, lines of rows or None, lines before the block, the block) in file order, PARALLEL blocks parsed
    at once (numpy releases the GIL), never more read ahead."""
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="points") as pool:
        pending: deque = deque()
        for block, lines_before in _blocks(path, layout.header_end):
            pending.append((pool.submit(_parse_block, block, layout, wanted), lines_before, block))
            if len(pending) > PARALLEL:
                future, before, done = pending.popleft()
                yield (*future.result(), before, done)
        while pending:
            future, before, done = pending.popleft()
            yield (*future.result(), before, done)


def _read_numpy(path: Path, layout: _Layout, wanted: list[int], axes: list[int]) -> tuple[dict, np.ndarray]:
    """Columns ``wanted`` block by block, and (row, line) pairs for the blocks holding a row without x, y, z."""
    parts: dict[int, list[np.ndarray]] = {c: [] for c in wanted}
    line_parts: list[np.ndarray] = []
    rows = 0
    for cols, line_of, lines_before, block in _parsed_blocks(path, layout, wanted):
        for c in wanted:
            parts[c].append(cols[c])
        if not all(np.isfinite(cols[c]).all() for c in axes):  # rare: map its rows to lines
            line_of = _data_lines(block) if line_of is None else line_of
            first = layout.header_line + 1 + lines_before
            line_parts.append(np.stack([np.arange(len(line_of)) + rows, line_of + first], axis=1))
        rows += len(cols[wanted[0]])
    data = {c: np.concatenate(parts[c]) if parts[c] else np.zeros(0) for c in wanted}
    return data, np.concatenate(line_parts) if line_parts else np.zeros((0, 2), dtype=np.int64)


def _read_pandas(path: Path, layout: _Layout, wanted: list[int]) -> dict[int, np.ndarray] | None:
    """pandas' C reader, about 2.5x numpy's, when the table is plain: one-character delimiter, numbers or
    empty fields in the wanted columns. Parsed exactly (round trip; pandas >= 3.1 always is), with only the
    empty field as missing, so it gives what the numpy path gives; None otherwise. Imported here: 0.4 s that
    only a served cell table pays."""
    try:
        import pandas as pd
    except ImportError:  # an install from before pandas was a dependency
        return None
    if layout.delimiter is None:
        return None
    version = tuple(int(v) for v in re.findall(r"\d+", pd.__version__)[:2])
    exact = {} if version >= (3, 1) else {"float_precision": "round_trip"}  # deprecated in 3.1: the default
    try:
        frame = pd.read_csv(
            path,
            sep=layout.delimiter,
            header=None,
            skiprows=layout.header_line,
            usecols=wanted,
            dtype=np.float64,
            engine="c",
            quotechar='"',
            skip_blank_lines=True,
            keep_default_na=False,
            na_values=[""],
            **exact,
            encoding="utf-8",
            encoding_errors="replace",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    return {c: frame[c].to_numpy(dtype=np.float64) for c in wanted}


_BLANK_LINE = re.compile(rb"(?:^|\n)[ \t]*\n")


def _one_line_per_row(path: Path, layout: _Layout) -> bool:
    """True when every line after the header is one row: no blank line (pandas skips those), no quote (a
    quoted field may hold a newline), no lone '\\r' (pandas ends a line there too). A pass over the bytes,
    ~20x cheaper than parsing them again."""
    for raw, _ in _blocks(path, layout.header_end, strip_cr=False):
        block = raw.replace(b"\r\n", b"\n")
        if b'"' in block or b"\r" in block or block.startswith(b"\n") or b"\n\n" in block:
            return False
        if (b" " in block or b"\t" in block) and _BLANK_LINE.search(block):  # the regex is slow: only then
            return False
    return True


def read_points(path: Path) -> PointTable:
    """Read a CSV or .apo point table. Raises PointTableError when it has no usable x, y, z columns."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(SAMPLE)
    if not head.strip():
        raise PointTableError("the file is empty")
    layout = _layout(head)
    canon = [_canonical(n) for n in layout.names]
    axis_col = {a: canon.index(a) for a in AXES if a in canon}
    if len(axis_col) < 3:
        raise PointTableError(f"no x, y, z columns in the header (found: {', '.join(layout.names)[:200]})")
    ncols = len(layout.names)
    sample_text = head[layout.header_end :].decode("utf-8", errors="replace").replace("\r", "")  # as _blocks
    if len(head) == SAMPLE:
        sample_text = sample_text[: sample_text.rfind("\n") + 1]
    sample, _ = _split_rows(sample_text, layout.delimiter)
    numeric = [c for c in _numeric_columns(sample, ncols) if layout.names[c]]
    missing_axes = [a for a, c in axis_col.items() if c not in numeric and sample]
    if missing_axes:
        raise PointTableError(f"column {missing_axes[0]!r} is not numeric")
    wanted = sorted(set(numeric) | set(axis_col.values()))

    axes = [axis_col[a] for a in AXES]
    big = path.stat().st_size >= PANDAS_FROM
    data = _read_pandas(path, layout, wanted) if USE_PANDAS and big else None
    row_line = np.zeros((0, 2), dtype=np.int64)
    if data is not None and not all(np.isfinite(data[c]).all() for c in axes):
        if _one_line_per_row(path, layout):  # row r is on line header_line + 1 + r: no need to read again
            bad_rows = np.flatnonzero(~np.all([np.isfinite(data[c]) for c in axes], axis=0))
            row_line = np.stack([bad_rows, bad_rows + layout.header_line + 1], axis=1)
        else:
            data = None
    if data is None:  # numpy's path (also for a table with rows to drop: it knows each row's line)
        data, row_line = _read_numpy(path, layout, wanted, axes)
    xyz = np.empty((len(data[axes[0]]), 3))
    for i, c in enumerate(axes):  # column by column: np.stack is 4x slower here
        xyz[:, i] = data[c]

    defects: list[Defect] = []
    finite = all(np.isfinite(data[c]).all() for c in axes)  # reducing (n, 3) along its short axis is slow
    bad = np.zeros(0, dtype=bool) if finite else ~np.isfinite(xyz).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        for r in rows[:MAX_DEFECTS].tolist():
            line = row_line[np.searchsorted(row_line[:, 0], r), 1] if len(row_line) else 0
            defects.append(Defect(int(line), "non_numeric", "x, y or z is missing or not a number (row skipped)"))
        if len(rows) > MAX_DEFECTS:
            defects.append(Defect(0, "non_numeric", f"{len(rows) - MAX_DEFECTS} more rows without x, y, z skipped"))
        xyz = xyz[~bad]
        data = {c: v[~bad] for c, v in data.items()}

    ids = np.arange(1, len(xyz) + 1, dtype=np.uint64)
    id_col = canon.index("id") if "id" in canon and canon.index("id") in data else None
    if id_col is not None:
        raw = data[id_col]
        valid = (
            np.isfinite(raw).all()
            and (raw >= 0).all()
            and (raw == np.round(raw)).all()
            and (raw < 2**53).all()  # float64 holds every integer below 2**53
            and len(np.unique(raw)) == len(raw)
        )
        if valid:
            ids = raw.astype(np.uint64)
        else:
            defects.append(Defect(0, "bad_id", "the id column is not unique non-negative integers: ids 1..n used"))

    taken: set[str] = set()
    columns: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    skip = set(axis_col.values()) | ({id_col} if id_col is not None else set())
    for c in wanted:
        if c in skip:
            continue
        key = _sanitise(layout.names[c], taken)
        columns[key] = data[c]
        names[key] = layout.names[c]
    return PointTable(xyz, ids, columns, defects, names, layout.format)


def sniff_points(path: Path) -> dict:
    """Cheap facts for a scan: the columns, whether x, y, z are there, and the row count (exact when the file
    fits in the sample, else estimated from the sample's mean line length). Never raises on content."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(SAMPLE)
    try:
        layout = _layout(head)
    except PointTableError as exc:
        return {"format": None, "columns": [], "xyz": False, "rows_estimate": 0, "error": str(exc)}
    body = head[layout.header_end :]
    complete = len(head) < SAMPLE
    if not complete:
        body = body[: body.rfind(b"\n") + 1]
    rows = sum(1 for ln in io.BytesIO(body) if ln.strip())
    if not complete and rows:
        rows = int(round((size - layout.header_end) / (len(body) / rows)))
    xyz = _names_xyz(layout.names)
    return {
        "format": layout.format,
        "columns": [n for n in layout.names if n],
        "xyz": xyz,
        "rows_estimate": rows,
        "exact": complete,
        "error": None if xyz else "no x, y, z columns in the header",
    }
