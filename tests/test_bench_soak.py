"""The soak part of the benchmark runs end to end at a tiny size: its table and goals are written, and
its correctness facts hold (no errors, no 5xx among the fuzzed URLs). No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import main

pytestmark = pytest.mark.slow  # about 15 s: a server, a 5 s load and a tiny generated source


def test_soak_part_writes_its_table_and_goals(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    argv = ["--shape", "16,128,128", "--data", str(tmp_path / "data"), "--doc", str(doc), "--only", "soak",
            "--soak-seconds", "5", "--soak-clients", "8", "--soak-fuzz", "600", "--cache-mb", "64"]
    assert main(argv) == 0
    text = doc.read_text()
    body = text.split("## 9. Soak", 1)[1]
    header, _, row = (line for line in body.splitlines() if line.startswith("|"))
    cells = dict(zip((h.strip() for h in header.strip("|").split("|")),
                     (c.strip() for c in row.strip("|").split("|")), strict=True))
    assert int(cells["fuzzed"]) == 600 and int(cells["requests"]) > int(cells["fuzzed"])
    assert cells["errors"] == "0" and cells["fuzzed 5xx"] == "0"
    assert int(cells["healthz probes"]) > 0 and float(cells["peak anonymous RSS MB"]) > 0
    goals = {line.split("|")[2].strip(): line.split("|")[5].strip() for line in text.split("## Goals", 1)[1]
             .split("\n## ", 1)[0].splitlines() if line.startswith("| 9 ")}
    assert goals["soak: errors (requests + probes + server alive)"] == "met"
    assert goals["soak: 5xx in 600 fuzzed URLs"] == "met"
