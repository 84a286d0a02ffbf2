"""The benchmark suite runs end to end at a tiny size, so it cannot rot. No timing is asserted here: every
table has its rows with measured (positive) ratios, and the correctness facts the run records hold."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bench.cutout
import bench.pyramid_cost
from bench.__main__ import main
from bench.loadgen import missing_tools
from tests.require import module, unavailable

pytestmark = pytest.mark.slow  # about a minute: the benchmark run at a tiny size

TINY = ["--shape", "16,128,128", "--samples", "4", "--duration", "1", "--concurrency", "1,8", "--jp2-cap", "30"]
TITLES = {
    "overhead": "## 1. Cold chunk overhead",
    "pyramid": "## 2. Pyramid cost",
    "throughput": "## 3. Warm throughput",
    "first_view": "## 4. Time to first view",
    "jp2": "## 5. JPEG2000 coarse levels",
    "memory": "## 6. Memory",
    "peer": "## 7. A peer on the same data",
    "cutout": "## 8. Data for analysis",
    "scaleout": "## 12. Scale-out",
    "s3": "## 15. S3 facade",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


def run_parts(parts: list[str], data: Path, doc: Path) -> str:
    assert main([*TINY, "--data", str(data), "--doc", str(doc), "--only", ",".join(parts)]) == 0
    return doc.read_text()


def section(text: str, title: str) -> str:
    return text.split(title, 1)[1].split("\n## ", 1)[0]


def tables(text: str) -> list[list[list[tuple[str, str]]]]:
    """Every markdown table in ``text``: a list of rows, each a list of (column header, cell)."""
    found, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|---") and i > 0 and lines[i - 1].startswith("| "):
            header = [h.strip() for h in lines[i - 1].strip("|").split("|")]
            rows = []
            for row in lines[i + 1 :]:
                if not row.startswith("| "):
                    break
                cells = [c.strip() for c in row.strip("|").split("|")]
                assert len(cells) == len(header), row
                rows.append(list(zip(header, cells, strict=True)))
            assert rows, f"a table without rows under {header}"
            found.append(rows)
    return found


def is_ratio(header: str) -> bool:
    return "÷" in header or header.endswith("×")  # not a shape such as "z×y×x"


def check(text: str, parts: list[str], counts: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
    """``counts``: goals whose value counts events (0 is a measurement), every other value is positive."""
    assert "## Goals" in text and "- machine: " in text and "- command: " in text
    for name in parts:
        body = section(text, TITLES[name])
        assert "Skipped" not in body, body
        assert tables(body), body  # a table was printed
        for rows in tables(body):
            for row in rows:
                ratios = [(h, c) for h, c in row if is_ratio(h)]
                for header, cell in ratios:  # every ratio was measured: a positive number
                    assert float(cell) > 0, (name, header, row)
    goals = tables(section(text, "## Goals"))[0]
    by_goal = {dict(row)["goal"]: dict(row) for row in goals}
    for row in by_goal.values():
        assert (float(row["value"]) >= 0 if row["goal"] in counts else float(row["value"]) > 0), row
        assert row["verdict"] in ("met", "MISSED"), row
    done = {TITLES[name].split(".")[0].removeprefix("## ") for name in parts}
    assert {row["part"] for row in by_goal.values()} >= done  # every part run has its goals row
    return by_goal


def test_parts_needing_no_external_tool(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # two interleaved pairs at the small shape only: the 128 × 1024² case is for `make bench`
    monkeypatch.setattr(bench.pyramid_cost, "REPEATS", 2)
    monkeypatch.setattr(bench.pyramid_cost, "EXTRA_SHAPES", ())
    parts = ["overhead", "pyramid", "first_view", "jp2"]
    text = run_parts(parts, data, tmp_path / "benchmarks.md")
    goals = check(text, parts)
    # a correctness goal, not a timing: no computed level reads the source again
    reread = goals["no level re-reads level 0 (source reads ÷ level-0 chunks)"]
    assert float(reread["value"]) == 1 and reread["verdict"] == "met"
    pyramid_runs = tables(section(text, TITLES["pyramid"]))[0]
    assert [dict(row)["reads ÷ level-0 chunks"] for row in pyramid_runs] == ["1.00"] * 4
    first_view = tables(section(text, TITLES["first_view"]))[0]
    assert [dict(row)["format"] for row in first_view] == ["tiff-raw", "tiff-zstd", "jpeg2000", "imaris"]
    for row in map(dict, first_view):  # the probes' 404s leave connections open; nothing is written
        assert row["404s / connections reset after them"].endswith(" / 0") and row["extra bytes on disk"] == "0"


def test_parts_needing_wrk_and_nginx(data: Path, tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        unavailable(missing[0],
                    f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): throughput, memory not run")
    parts = ["throughput", "memory"]
    text = run_parts(parts, data, tmp_path / "benchmarks.md")
    check(text, parts)
    for row in map(dict, tables(section(text, TITLES["throughput"]))[0]):
        assert row["errors"] == "0" and float(row["service req/s"]) > 0 and float(row["nginx req/s"]) > 0
    assert "Chunks the service computed during the wrk runs: 0 " in text  # warm means cache hits only
    memory = [dict(row) for row in tables(section(text, TITLES["memory"]))[0]]
    assert memory and all(row["VmHWM within"] == "yes" for row in memory), memory


def test_peer_part(data: Path, tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        unavailable(missing[0], f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): peer part not run")
    module("chunkmirage", "the peer, chunkmirage, is in the bench extra: pip install -e '.[bench]'")
    text = run_parts(["peer"], data, tmp_path / "benchmarks.md")
    check(text, ["peer"])
    assert "- First chunk decoded from both servers identical: yes." in text


def test_cutout_part(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one cold pair per row: repeats only steady the figures, and each one starts two servers
    monkeypatch.setattr(bench.cutout, "PAIRS", 1)
    text = run_parts(["cutout"], data, tmp_path / "benchmarks.md")
    check(text, ["cutout"])
    exports = tables(section(text, TITLES["cutout"]))[2]
    assert [dict(row)["same voxels"] for row in exports] == ["True"]  # the export equals the source


def test_scaleout_part(data: Path, tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        unavailable(missing[0],
                    f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): scale-out part not run")
    duplicates = "duplicate computations, viewer pattern"
    text = run_parts(["scaleout"], data, tmp_path / "benchmarks.md")
    goals = check(text, ["scaleout"], counts=frozenset({duplicates}))
    warm, cold = tables(section(text, TITLES["scaleout"]))
    assert [dict(row)["connections"] for row in warm] == ["1", "8", "500"]  # TINY's concurrency, then webKnossos'
    assert all(dict(row)["errors"] == "0" for row in warm), warm
    assert [dict(row)["workers"] for row in cold] == ["1", "2"]
    assert all(float(dict(row)["cold chunks/s"]) > 0 for row in cold)
    assert "chunks the workers computed during the warm runs: 0." in text  # warm means nginx or worker cache hits
    assert float(goals[duplicates]["value"]).is_integer()


def test_s3_part(data: Path, tmp_path: Path) -> None:
    missing = missing_tools() + ([] if shutil.which("rclone") else ["rclone"])
    if missing:
        unavailable(missing[0], f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): s3 part not run")
    text = run_parts(["s3"], data, tmp_path / "benchmarks.md")
    check(text, ["s3"])
    listing, copies = tables(section(text, TITLES["s3"]))
    assert [dict(row)["requests"] for row in listing] == ["60", "60"]
    by_name = {dict(row)["rclone copy"].split(" (")[0]: dict(row) for row in copies}
    s3, nginx, sharded = (by_name[k] for k in ("/s3/ warm", "nginx, the same files as S3 objects",
                                                  "/s3/ zarr3-sharded warm, the same voxels in shards"))
    assert s3["objects"] == nginx["objects"] and s3["MB"] == nginx["MB"]  # the same files on both sides
    assert int(sharded["objects"]) < int(s3["objects"]) and float(sharded["MB/s"]) > 0
