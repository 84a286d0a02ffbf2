"""Point tables: CSV cell tables in their usual spellings, Vaa3D .apo files (real ones too), block edges."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from readers.objects import points
from readers.objects.points import PointTableError, read_points, sniff_points
from tests.helpers import real_data
from tests.require import module, unavailable


@pytest.fixture(autouse=True, params=["pandas", "numpy"])
def engine(request, monkeypatch):
    """Every test on both paths: pandas' reader (a dependency, for files from 8 MB), numpy's alone."""
    if request.param == "pandas":
        module("pandas")
    monkeypatch.setattr(points, "USE_PANDAS", request.param == "pandas")
    monkeypatch.setattr(points, "PANDAS_FROM", 0)  # the small files here too
    return request.param


def write(tmp_path, text: str, name: str = "cells.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_header_names_any_case_and_order(tmp_path):
    t = read_points(write(tmp_path, "Z,Y,X,Intensity\n3,2,1,0.5\n6,5,4,1.5\n"))
    assert t.xyz.tolist() == [[1, 2, 3], [4, 5, 6]]  # always x, y, z
    assert t.ids.tolist() == [1, 2] and t.ids.dtype == np.uint64
    assert list(t.columns) == ["intensity"] and t.columns["intensity"].tolist() == [0.5, 1.5]
    assert t.names == {"intensity": "Intensity"} and t.format == "csv" and t.defects == []


def test_id_column_and_properties(tmp_path):
    text = "id,x,y,z,Cell Type,Volume (um3),score\n10,1,2,3,neuron,4.5,-1\n7,4,5,6,glia,,2\n"
    t = read_points(write(tmp_path, text))
    assert t.ids.tolist() == [10, 7]
    assert list(t.columns) == ["volume_um3", "score"]  # the text column is not a property
    assert t.names["volume_um3"] == "Volume (um3)"
    assert t.columns["volume_um3"][0] == 4.5 and np.isnan(t.columns["volume_um3"][1])  # empty: missing
    assert t.columns["score"].tolist() == [-1, 2]


def test_unusable_ids_fall_back_to_row_numbers(tmp_path):
    t = read_points(write(tmp_path, "id,x,y,z\n5,1,1,1\n5,2,2,2\n"))
    assert t.ids.tolist() == [1, 2]
    assert [(d.kind, d.line) for d in t.defects] == [("bad_id", 0)]


def test_units_in_names_and_other_delimiters(tmp_path):
    t = read_points(write(tmp_path, "x_um\ty_um\tz_um\n1\t2\t3\n", "cells.tsv"))
    assert t.xyz.tolist() == [[1, 2, 3]]
    t = read_points(write(tmp_path, "x [um];y [um];z [um]\n1;2;3\n"))
    assert t.xyz.tolist() == [[1, 2, 3]]
    t = read_points(write(tmp_path, "# cells of brain 7\nx y z  r\n1 2  3 9\n4  5 6 8\n"))
    assert t.xyz.tolist() == [[1, 2, 3], [4, 5, 6]] and t.columns["r"].tolist() == [9, 8]


def test_quotes_blank_lines_crlf_and_exponents(tmp_path):
    text = 'name,x,y,z\r\n"a, b",1e3,2,3\r\n\r\n"c",4,-5.5,6E-1\r\nd,nan,1,1\r\n'
    t = read_points(write(tmp_path, text))
    assert t.xyz.tolist() == [[1000, 2, 3], [4, -5.5, 0.6]]
    assert [(d.line, d.kind) for d in t.defects] == [(5, "non_numeric")]  # the nan row, counted with the blank


def test_rows_without_coordinates_are_dropped_with_their_line(tmp_path, monkeypatch):
    """Tiny blocks: line numbers stay right across block edges, and the fast and careful paths agree."""
    monkeypatch.setattr(points, "BLOCK", 4096)
    rng = np.random.default_rng(4)
    n = 5000
    xyz = np.round(rng.random((n, 3)) * 1000, 3)
    lines = ["x,y,z,v"] + [f"{a},{b},{c},{i}" for i, (a, b, c) in enumerate(xyz)]
    lines[1234] = "1,,3,1233"  # empty y
    lines[4321] = "oops,2,3,4320"  # text in x: that block goes the careful way
    t = read_points(write(tmp_path, "\n".join(lines)))  # no newline at the end
    keep = np.ones(n, dtype=bool)
    keep[[1233, 4320]] = False
    assert np.array_equal(t.xyz, xyz[keep])
    assert np.array_equal(t.columns["v"], np.arange(n)[keep])
    assert [(d.line, d.kind) for d in t.defects] == [(1235, "non_numeric"), (4322, "non_numeric")]


def test_refusals(tmp_path):
    for text, reason in [
        ("", "empty"),
        ("a,b,c\n1,2,3\n", "no x, y, z"),
        ("x,y,z\nfoo,bar,baz\n", "not numeric"),
    ]:
        with pytest.raises(PointTableError, match=reason):
            read_points(write(tmp_path, text))
    path = tmp_path / "blob.csv"
    path.write_bytes(b"x,y,z\n\x00\x01\x02")
    with pytest.raises(PointTableError, match="binary"):
        read_points(path)


def test_sniff(tmp_path):
    small = write(tmp_path, "x,y,z,v\n1,2,3,4\n5,6,7,8\n")
    assert sniff_points(small) == {
        "format": "csv",
        "columns": ["x", "y", "z", "v"],
        "xyz": True,
        "rows_estimate": 2,
        "exact": True,
        "error": None,
    }
    big = write(tmp_path, "x,y,z\n" + "100.5,200.25,300.125\n" * 20000, "big.csv")
    facts = sniff_points(big)
    assert facts["exact"] is False and abs(facts["rows_estimate"] - 20000) < 200
    assert sniff_points(write(tmp_path, "", "e.csv"))["error"] == "the file has no header line"
    no_xyz = sniff_points(write(tmp_path, "a,b,c\n1,2,3\n", "n.csv"))
    assert no_xyz["xyz"] is False and no_xyz["error"] == "no x, y, z columns in the header"


def real_apo_files() -> list[str]:
    root = real_data()
    found = sorted(p.name for p in (root / "points").glob("*.apo")) if root else []
    return found or ["<real data missing>"]


@pytest.mark.parametrize("name", real_apo_files())
def test_real_vaa3d_apo(name):
    root = real_data()
    path = root / "points" / name if root else None
    if path is None or not path.is_file():
        unavailable("shared", "the real .apo samples are not in ../shared/data/real/points")
    t = read_points(path)
    assert t.format == "apo" and t.defects == []
    # the reference: the csv module, column by column (header '##n,...', columns z,x,y)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip().lstrip("#") for h in rows[0]]
    body = [r for r in rows[1:] if r]
    col = {name: header.index(name) for name in ("x", "y", "z", "color_b", "volsize")}
    expect = np.array([[float(r[col[a]]) for a in "xyz"] for r in body])
    assert np.array_equal(t.xyz, expect)
    assert t.columns["color_b"].tolist() == [float(r[col["color_b"]]) for r in body]
    assert t.columns["volsize"].tolist() == [float(r[col["volsize"]]) for r in body]
    # empty columns (orderinfo, name, comment, the unnamed ones) are not properties
    assert set(t.columns) == {"n", "pixmax", "intensity", "sdev", "volsize", "mass", "color_r", "color_g", "color_b"}
    assert t.names["pixmax"] == "pixmax"  # ' pixmax' in the file


def test_both_paths_number_the_rows_they_drop(tmp_path, engine):
    path = write(tmp_path, "x,y,z\n1,2,3\n\n4,,6\n7,8,9\n")
    if engine == "pandas":  # the plain table does take the pandas path
        assert points._read_pandas(path, points._layout(path.read_bytes()), [0, 1, 2]) is not None
    t = read_points(path)
    assert t.xyz.tolist() == [[1, 2, 3], [7, 8, 9]] and t.ids.tolist() == [1, 2]
    assert [(d.line, d.kind) for d in t.defects] == [(4, "non_numeric")]


def test_whitespace_lines_and_comments_never_crash(tmp_path):
    t = read_points(write(tmp_path, "x,y,z\n1,2,3\n   \n4,,6\n# note\n7,8,9\n"))
    assert t.xyz.tolist() == [[1, 2, 3], [7, 8, 9]]
    assert [(d.line, d.kind) for d in t.defects] == [(4, "non_numeric"), (5, "non_numeric")]


def test_no_warnings_from_either_path(tmp_path):
    """pandas 3.1 deprecated float_precision (every mode is the round-trip converter now): not passed there."""
    import warnings

    path = write(tmp_path, "x,y,z,v\n1.25,2,3,0.1\n4,5,6.5,0.2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = read_points(path)
    assert t.xyz.tolist() == [[1.25, 2, 3], [4, 5, 6.5]] and t.columns["v"].tolist() == [0.1, 0.2]


def test_small_files_skip_pandas(tmp_path, monkeypatch):
    """Importing pandas and its first read cost more than numpy's parser takes for a small table."""
    monkeypatch.setattr(points, "PANDAS_FROM", 8 << 20)

    def refuse(*args, **kwargs):
        raise AssertionError("pandas read a small file")

    monkeypatch.setattr(points, "_read_pandas", refuse)
    t = read_points(write(tmp_path, "x,y,z\n1,2,3\n4,5,6\n"))
    assert t.xyz.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize(
    ("text", "line", "reread"),
    [
        ("x,y,z\n1,2,3\n4,,6\n7,8,9\n", 3, False),
        ("x,y,z\r\n1,2,3\r\n4,,6\r\n7,8,9\r\n", 3, False),  # CRLF: still one line per row
        ("x,y,z\n1,2,3\n\n4,,6\n7,8,9\n", 4, True),  # a blank line: pandas skipped it, numpy counts it
        ("x,y,z\n1,2,3\n  \n4,,6\n7,8,9\n", 4, True),  # a line of spaces
        ('x,y,z,n\n1,2,3,"a\nb"\n4,,6,c\n7,8,9,d\n', None, True),  # a quoted newline: numpy's lines
        ("x,y,z\n1,2,3\r4,,6\n7,8,9\n", 0, True),  # a lone CR ends a row for pandas, not for numpy
    ],
)
@pytest.mark.parametrize("engine", ["pandas"], indirect=True)
def test_pandas_rows_to_drop_without_reading_again(tmp_path, monkeypatch, engine, text, line, reread):
    """With pandas, a table with rows to drop is read again by numpy only when its rows are not one per line."""
    assert engine == "pandas"  # parametrized indirectly: the pandas path only
    calls = []
    real = points._read_numpy
    monkeypatch.setattr(points, "_read_numpy", lambda *a: calls.append(1) or real(*a))
    t = read_points(write(tmp_path, text))
    assert bool(calls) == reread
    if line is not None:
        assert [d.line for d in t.defects] == ([line] if line else [])
