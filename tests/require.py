"""Skips for a missing tool or data set, in one place, and the switch that makes them failures.

A test that cannot run without nginx, Chromium, Xvfb, wrk, curl, the real samples in ../shared or an
installed Python package skips through :func:`unavailable` (at run time) or :func:`skip_without` (as a
marker), both of which tag the reason with the requirement's name. ``TRANSFORMER_REQUIRE=nginx,chromium,...``
(``.ci/run`` sets it; ``all`` means every name) lists what must be there: the conftest hook
:func:`pytest_runtest_makereport` turns a tagged skip for a listed name into a failure, so a CI run whose
system-deps step failed goes red instead of green-with-skips.
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType
from typing import NoReturn

import pytest

#: every requirement a test may name (``TRANSFORMER_REQUIRE=all`` means these)
KNOWN = frozenset({"nginx", "wrk", "chromium", "xvfb", "curl", "rclone", "s3cmd", "openjpeg", "shared", "modules",
                   "docker"})
ENV = "TRANSFORMER_REQUIRE"
_TAG = re.compile(r"\[requires (\w+)\]")


def required() -> frozenset[str]:
    """The names ``$TRANSFORMER_REQUIRE`` lists (an unknown name is an error: a typo must not pass)."""
    names = {n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()}
    if "all" in names:
        return KNOWN
    unknown = names - KNOWN
    if unknown:
        raise pytest.UsageError(f"{ENV} names unknown requirements {sorted(unknown)}; known: {sorted(KNOWN)}")
    return frozenset(names)


def _reason(name: str, reason: str) -> str:
    if name not in KNOWN:
        raise ValueError(f"unknown requirement {name!r}")
    return f"[requires {name}] {reason}"


def unavailable(name: str, reason: str) -> NoReturn:
    """Skip the running test because ``name`` is missing (a failure when ``name`` is required)."""
    pytest.skip(_reason(name, reason), allow_module_level=True)


def skip_without(name: str, present: bool, reason: str) -> pytest.MarkDecorator:
    """A ``skipif`` marker for a test that needs ``name`` (a failure when ``name`` is required)."""
    return pytest.mark.skipif(not present, reason=_reason(name, reason))


def module(name: str, reason: str = "") -> ModuleType:
    """``pytest.importorskip`` for an installed dependency, under the requirement ``modules``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable("modules", reason or f"{name} is not importable ({exc}): pip install -e '.[test,bench]'")


def fail_required_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn ``report``, a skip tagged with a required name, into a failure that says what was missing."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = (longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)).removeprefix("Skipped: ")
    match = _TAG.search(reason)
    if match and match.group(1) in required():
        report.outcome = "failed"
        report.longrepr = f"{ENV} lists {match.group(1)!r}, so this skip is a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001 - the hook's signature
    outcome = yield
    fail_required_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The same for a whole module skipped while it is imported (``glymur = module("glymur")``)."""
    outcome = yield
    fail_required_skip(outcome.get_result())
