"""The plain-decimal block parser: the same doubles as Python's float(), and None for anything not plain."""

from __future__ import annotations

import numpy as np
import pytest

from readers.objects import points
from readers.objects.decimals import parse_plain
from readers.objects.points import read_points


def random_fields(rng, n: int) -> list[str]:
    out = []
    for _ in range(n):
        kind = rng.integers(0, 7)
        if kind == 0:
            out.append(f"{rng.uniform(-1e6, 1e6):.{rng.integers(0, 9)}f}")
        elif kind == 1:
            out.append(str(rng.integers(-(10**15) + 1, 10**15)))  # 15 digits: the most parsed here
        elif kind == 2:
            out.append("")
        elif kind == 3:
            out.append("." + str(rng.integers(0, 10**9)).zfill(9))
        elif kind == 4:
            out.append("+" + str(rng.integers(0, 1000)) + ".")
        elif kind == 5:
            out.append(f"-0.{rng.integers(0, 10**12):012d}")
        else:
            out.append(str(np.float32(rng.uniform(1, 5e5))))  # what a float32 table writes (shortest digits)
    return out


def test_same_doubles_as_float():
    rng = np.random.default_rng(11)
    fields = random_fields(rng, 60_000)
    lines = [",".join(fields[i : i + 5]) for i in range(0, len(fields), 5)]
    values = parse_plain(("\n".join(lines) + "\n").encode(), ",", 5)
    expected = np.array([float(f) if f else np.nan for f in fields]).reshape(-1, 5)
    assert values is not None and values.shape == (12_000, 5)
    assert np.array_equal(values, expected, equal_nan=True)  # bit for bit, not approximately
    finite = np.isfinite(expected)
    assert (np.signbit(values[finite]) == np.signbit(expected[finite])).all()  # "-0.000" stays -0.0


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_delimiters_and_empty_fields(delimiter):
    block = delimiter.join(["1", "", "-2.5"]).encode() + b"\n" + delimiter.join(["", "007", "+.5"]).encode() + b"\n"
    values = parse_plain(block, delimiter, 3)
    assert np.array_equal(values, [[1, np.nan, -2.5], [np.nan, 7, 0.5]], equal_nan=True)


@pytest.mark.parametrize(
    "block",
    [
        b"1,2\n3\n",  # ragged
        b"1,2\n\n3,4\n",  # a blank line
        b"1,2\n3,4",  # no final newline (the reader cuts blocks at one)
        b"1-2,3\n",  # a sign inside a field
        b"--1,3\n",
        b"1.2.3,4\n",  # two dots
        b"-,1\n",  # no digit
        b".,1\n",
        b"1e3,1\n",  # exponent
        b"nan,1\n",
        b" 1,2\n",  # spaces
        b'"1",2\n',  # quotes
        b"1234567890123456,1\n",  # 16 digits: beyond the exact sum
    ],
)
def test_anything_not_plain_is_left_to_the_general_parser(block):
    assert parse_plain(block, ",", 2) is None


def test_read_points_uses_it_for_plain_tables(tmp_path, monkeypatch):
    """A plain table never reaches numpy's loadtxt path, and gives what it would have given."""
    rng = np.random.default_rng(3)
    xyz = np.round(rng.random((20_000, 3)) * 5000, 2)
    text = "x,y,z,area\n" + "".join(f"{a},{b},{c},{i % 97}\n" for i, (a, b, c) in enumerate(xyz))
    path = tmp_path / "cells.csv"
    path.write_text(text)
    monkeypatch.setattr(points, "USE_PANDAS", False)
    monkeypatch.setattr(points, "BLOCK", 64 << 10)  # many blocks, parsed two at a time
    careful = read_points(path)

    def refuse(*args, **kwargs):
        raise AssertionError("a plain block went to loadtxt")

    monkeypatch.setattr(points, "_parse_fast", refuse)
    table = read_points(path)
    assert np.array_equal(table.xyz, xyz) and np.array_equal(table.xyz, careful.xyz)
    assert table.columns["area"].tolist() == [i % 97 for i in range(20_000)]
    assert table.defects == []
