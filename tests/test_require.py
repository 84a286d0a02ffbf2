"""$TRANSFORMER_REQUIRE: a skip for a listed tool fails the run (what CI sets), an unlisted one still skips,
untagged skips are left alone, and a misspelt name is refused. A real pytest run in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SUITE = """
import pytest
from tests.require import module, skip_without, unavailable

def test_needs_nginx():
    unavailable("nginx", "nginx is not installed")

@skip_without("chromium", False, "no chromium")
def test_needs_chromium():
    pass

def test_needs_a_module():
    module("a_module_that_is_not_there")

@pytest.mark.skip(reason="not a tool: an opt-in measurement")
def test_opt_in():
    pass
"""

MODULE = """
from tests.require import module

glymur_like = module("a_module_that_is_not_there")

def test_never_collected():
    pass
"""


def run(tmp_path: Path, require: str | None, suite: str = "") -> subprocess.CompletedProcess:
    """pytest on ``suite`` (default: both files) with ``$TRANSFORMER_REQUIRE`` set to ``require``."""
    (tmp_path / "conftest.py").write_text(
        "from tests.require import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "test_tools.py").write_text(SUITE)
    (tmp_path / "test_module.py").write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMER_REQUIRE"}
    # no installed plugins (napari's takes seconds to load); wide lines, so the summary is not cut
    env.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", COLUMNS="400")
    if require is not None:
        env["TRANSFORMER_REQUIRE"] = require
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:warnings",
            str(tmp_path / suite),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def summary(run: subprocess.CompletedProcess) -> str:
    return run.stdout.strip().splitlines()[-1]


def test_nothing_required_everything_skips(tmp_path):
    done = run(tmp_path, None)
    assert done.returncode == 0, done.stdout
    assert summary(done).startswith("5 skipped") and "failed" not in summary(done)


def test_listed_names_fail_and_say_why(tmp_path):
    done = run(tmp_path, "nginx,modules", "test_tools.py")
    assert done.returncode == 1, done.stdout
    assert summary(done).startswith("2 failed, 2 skipped")
    assert (
        "TRANSFORMER_REQUIRE lists 'nginx', so this skip is a failure: [requires nginx] nginx is not installed"
        in done.stdout
    )
    assert "FAILED test_tools.py::test_needs_a_module" in done.stdout


def test_all_fails_every_tagged_skip_but_not_an_opt_in(tmp_path):
    done = run(tmp_path, "all", "test_tools.py")
    assert done.returncode == 1, done.stdout
    # a skip marker fails in the setup phase, which pytest counts as an error
    assert summary(done).startswith("2 failed, 1 skipped, 1 error")
    assert "ERROR test_tools.py::test_needs_chromium - TRANSFORMER_REQUIRE lists 'chromium'" in done.stdout
    assert "SKIPPED [1] test_tools.py" in done.stdout and "opt-in measurement" in done.stdout


def test_a_module_skipped_at_import_fails_its_collection(tmp_path):
    done = run(tmp_path, "modules", "test_module.py")
    assert done.returncode == 2, done.stdout  # pytest: interrupted by an error during collection
    assert "ERROR test_module.py - TRANSFORMER_REQUIRE lists 'modules', so this skip is a failure" in done.stdout


@pytest.mark.parametrize("value", ["ngnix", "nginx,chrome"])
def test_a_misspelt_name_is_refused(tmp_path, value):
    done = run(tmp_path, value)
    assert done.returncode != 0
    assert "TRANSFORMER_REQUIRE names unknown requirements" in done.stdout + done.stderr


#: skips that are about something other than a missing tool or data set (an opt-in, a platform, a data case)
NOT_TOOLS = ("TRANSFORMER_BENCH", "glibc only", "counts descriptors through /proc", "the demo has no neurons")
BARE_SKIP = re.compile(r"pytest\.(importorskip|skip)\(|pytest\.mark\.skipif\(")


def test_every_skip_for_a_tool_goes_through_require():
    """A new test that skips with pytest's own calls would pass CI green when its tool is missing."""
    bare = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        name = path.relative_to(REPO).as_posix()
        if name in ("tests/require.py", "tests/test_require.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if BARE_SKIP.search(line) and not any(reason in line for reason in NOT_TOOLS):
                bare.append(f"{name}:{number}: {line.strip()}")
    assert bare == [], "use tests.require.unavailable / skip_without / module:\n" + "\n".join(bare)
