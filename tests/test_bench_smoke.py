"""The benchmark suite runs end to end at a tiny size, so it cannot rot. No timing is asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import main
from bench.loadgen import missing_tools

TINY = ["--shape", "16,128,128", "--samples", "4", "--duration", "1", "--concurrency", "1,8", "--jp2-cap", "30"]
TITLES = {
    "overhead": "## 1. Cold chunk overhead",
    "pyramid": "## 2. Pyramid cost",
    "throughput": "## 3. Warm throughput",
    "first_view": "## 4. Time to first view",
    "jp2": "## 5. JPEG2000 coarse levels",
    "memory": "## 6. Memory",
    "peer": "## 7. A peer on the same data",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


def run_parts(parts: list[str], data: Path, doc: Path) -> str:
    assert main([*TINY, "--data", str(data), "--doc", str(doc), "--only", ",".join(parts)]) == 0
    return doc.read_text()


def check(text: str, parts: list[str]) -> None:
    assert "## Goals" in text and "- machine: " in text and "- command: " in text
    for name in parts:
        section = text.split(TITLES[name], 1)[1].split("\n## ", 1)[0]
        assert "Skipped" not in section, section
        assert "|---|" in section, section  # a table was printed
    goals = text.split("## Goals", 1)[1].split("\n## ", 1)[0]
    assert "MISSED" in goals or "met" in goals


def test_parts_needing_no_external_tool(data: Path, tmp_path: Path) -> None:
    parts = ["overhead", "pyramid", "first_view", "jp2"]
    check(run_parts(parts, data, tmp_path / "benchmarks.md"), parts)


def test_parts_needing_wrk_and_nginx(data: Path, tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): throughput, memory not run")
    parts = ["throughput", "memory"]
    check(run_parts(parts, data, tmp_path / "benchmarks.md"), parts)


def test_peer_part(data: Path, tmp_path: Path) -> None:
    missing = missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/system-deps.sh --all): peer part not run")
    pytest.importorskip("chunkmirage", reason="the peer, chunkmirage, is in the bench extra: pip install -e '.[bench]'")
    check(run_parts(["peer"], data, tmp_path / "benchmarks.md"), ["peer"])
