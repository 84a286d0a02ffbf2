"""Plugin discovery through entry points: ordering, broken plugins, refusal and fallback.

The entry points are real ``importlib.metadata.EntryPoint`` objects naming objects in
:mod:`tests.readers.sample_plugins`; only the list the registry reads is replaced (``installed``).
"""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from readers import registry
from readers.base import UnsupportedSource
from readers.testing import ReaderTests
from tests.helpers import REPO
from tests.readers.sample_plugins import MODULE


def test_plugins_are_asked_by_priority_then_name(installed):
    installed(npy=f"{MODULE}:NPY", eager=f"{MODULE}:EAGER", flaky=f"{MODULE}:FLAKY", buggy=f"{MODULE}:BUGGY")
    assert [p.name for p in registry.plugins()] == ["buggy", "npy-eager", "flaky", "npy"]


def test_broken_and_foreign_plugins_are_logged_and_skipped(installed, caplog):
    installed(npy=f"{MODULE}:NPY", missing_module="tests.readers.no_such_module:PLUGIN",
              missing_name=f"{MODULE}:NO_SUCH_NAME", foreign=f"{MODULE}:NOT_A_PLUGIN")
    with caplog.at_level(logging.ERROR, logger="readers.registry"):
        assert [p.name for p in registry.plugins()] == ["npy"]
    skipped = {r.args[0]: r.exc_info[0] for r in caplog.records if "failed to load" in r.getMessage()}
    assert skipped == {"missing_module": ModuleNotFoundError, "missing_name": AttributeError,
                       "foreign": TypeError}


def test_a_sniff_that_fails_does_not_claim(installed, npy_file):
    installed(npy=f"{MODULE}:NPY", flaky=f"{MODULE}:FLAKY")
    path, _ = npy_file((3, 4, 5))
    assert [p.name for p in registry.claimants(path)] == ["npy"]


def test_the_first_claimant_that_opens_wins_and_refusals_fall_through(installed, npy_file):
    installed(npy=f"{MODULE}:NPY", eager=f"{MODULE}:EAGER")
    path, data = npy_file((3, 4, 5))
    plugin, volume = registry.open_volume(path)
    with volume:
        assert plugin.name == "npy-eager"
    path, data = npy_file((1, 4, 5))
    plugin, volume = registry.open_volume(path)
    with volume:
        assert plugin.name == "npy"  # npy-eager refused a single plane
        np.testing.assert_array_equal(volume.levels[0].read(0, 0, slice(0, 1), slice(0, 4), slice(0, 5)), data)


def test_a_plugin_bug_at_open_is_a_refusal_naming_the_error(installed, npy_file):
    installed(npy=f"{MODULE}:NPY", buggy=f"{MODULE}:BUGGY")
    path, _ = npy_file((2, 4, 5))
    assert registry.open_volume(path)[0].name == "npy"  # the buggy one is asked first, then skipped
    with pytest.raises(UnsupportedSource, match=r"buggy: 2x4x5.npy: cannot be read \(AttributeError: "):
        registry.open_volume(path, "buggy")


def test_impossible_geometry_is_refused_at_open_with_the_reason(installed, npy_file):
    installed(zero=f"{MODULE}:ZERO_VOXEL")
    path, _ = npy_file((2, 4, 5))
    with pytest.raises(UnsupportedSource) as info:
        registry.open_volume(path)
    assert str(info.value) == ("zero-voxel: 2x4x5.npy: cannot be read (InvalidGeometry: voxel_size must be "
                               "positive finite numbers, got (1.0, 0.0, 1.0))")


def test_nothing_to_open(installed, npy_file, tmp_path):
    installed(npy=f"{MODULE}:NPY", eager=f"{MODULE}:EAGER")
    with pytest.raises(UnsupportedSource, match="no reader plugin named 'tiff'"):
        registry.open_volume(tmp_path / "a.tif", "tiff")
    (tmp_path / "a.txt").write_text("text")
    with pytest.raises(UnsupportedSource, match="no reader recognises 'a.txt'"):
        registry.open_volume(tmp_path / "a.txt")
    path, _ = npy_file((2, 3))
    with pytest.raises(UnsupportedSource, match=r"npy-eager: 2x3.npy: 2-D, not \(z, y, x\); npy: 2x3.npy: 2-D"):
        registry.open_volume(path)


def test_the_built_in_plugins_are_installed():
    registry.plugins.cache_clear()
    assert {"tiff", "jpeg2000", "imaris"} <= {p.name for p in registry.plugins()}


class TestSamplePluginConformance(ReaderTests):
    """A plugin from outside the readers package passes the shipped suite, as a third-party one would."""

    reader_name = "npy"

    @pytest.fixture(autouse=True)
    def _install(self, installed):
        installed(npy=f"{MODULE}:NPY")

    @pytest.fixture(params=[(1, 5, 7), (6, 9, 4)])
    def case(self, request, npy_file):
        path, data = npy_file(request.param)
        return path, data[None, None]


def test_the_readers_command_lists_the_installed_plugins():
    out = subprocess.run([sys.executable, "-m", "transformer.cli", "readers"], capture_output=True, text=True,
                         check=True, cwd=REPO)
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in out.stdout.splitlines()}
    assert rows["tiff"][0] == "priority 50" and ".ome.tiff" in rows["tiff"][1].split()
    assert rows["imaris"] == ["priority 50", ".ims"]
    assert rows["jpeg2000"] == ["priority 100", ".jp2 .j2k .j2c .jpx .jph"]


def test_preload_imports_what_opening_needs_and_survives_a_broken_plugin():
    """Discovery imports nothing heavy; preload (the service calls it at start-up) imports the built-in
    readers' libraries, and a plugin whose preload raises is logged, not fatal. In a child process, where
    nothing was imported before."""
    code = (
        "import logging, sys\n"
        "from readers import registry\n"
        "from readers.base import ReaderPlugin\n"
        "heavy = ('glymur', 'tifffile', 'h5py')\n"
        "registry.plugins()\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "class Broken(ReaderPlugin):\n"
        "    name = 'broken'\n"
        "    def claims(self, path): return False\n"
        "    def open(self, path, resources=None): raise AssertionError\n"
        "    def preload(self): raise ImportError('no such library')\n"
        "registry.plugins = lambda found=registry.plugins(): (*found, Broken())\n"
        "logging.basicConfig()\n"
        "registry.preload()\n"
        "assert all(m in sys.modules for m in heavy), [m for m in heavy if m not in sys.modules]\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert "'broken' failed to preload" in done.stderr
