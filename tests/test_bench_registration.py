"""bench/registration.py runs end to end at a tiny size: the hard-linked stack registers as one dataset
of every slice, and a fresh server opens it. No timing asserted."""

from __future__ import annotations

import os

from bench.registration import MASTERS, main, measure, slice_stack
from tests.require import module


def test_registration_bench_runs(tmp_path, capsys):
    module("glymur")
    stack = slice_stack(tmp_path, slices=12, size=64, tile=32)
    names = sorted(os.listdir(stack))
    assert len(names) == 12 and len({os.stat(stack / n).st_ino for n in names}) == MASTERS  # links, not copies
    figures = measure(stack, tmp_path)
    assert set(figures) == {"scan", "open", "total"} and all(v > 0 for v in figures.values())
    assert main(["--slices", "8", "--size", "64", "--data", str(tmp_path), "--runs", "1"]) == 0
    assert len(os.listdir(stack)) == 8  # a smaller run removes the extra links
    assert "8 slices of 64²" in capsys.readouterr().out
