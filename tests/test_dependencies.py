"""What the installed package imports is what pyproject.toml makes pip install.

`pip install brain-transformer` (or the docker image's `.[distributed]`) gets the core dependencies only: a
module-level import of anything else breaks a command for every user who did not also install the test extra
(`transformer prewarm` imported httpx, a test-only dependency, and failed in the compose stack's image). Imports
inside functions may also come from a feature extra (``distributed``), never from ``test`` or ``bench``.
Modules named ``testing.py`` are helpers for tests (they may import pytest).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("transformer", "readers", "writers", "catalog")
DEV_EXTRAS = {"test", "bench"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _third_party_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, top-level module, at module level) of every absolute import that is not stdlib or ours."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            root = name.split(".")[0]
            if root not in sys.stdlib_module_names and root not in {*PACKAGES, "__future__"}:
                found.append((node.lineno, root, id(node) in top))
    return found


def test_package_imports_are_declared_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    features = core | {_name(r) for extra, reqs in project["optional-dependencies"].items()
                       if extra not in DEV_EXTRAS for r in reqs}
    distributions = packages_distributions()
    wrong = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name == "testing.py":
                continue
            for line, module, module_level in _third_party_imports(path):
                provided = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
                if not provided & (core if module_level else features):
                    wrong.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert wrong == []
