"""A slice folder opened directly (no scan) still never serves an odd slice: an RGB slice the open's
sampled check missed is refused when read, not served as its first sample."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from readers.base import SourceError
from readers.registry import open_volume
from readers.resources import ReaderResources


def test_an_rgb_slice_missed_by_the_sampled_check_is_refused_when_read(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    for z in range(40):
        tifffile.imwrite(folder / f"z{z}.tif", np.full((8, 8), z, np.uint8))
    tifffile.imwrite(folder / "z17.tif", np.full((8, 8, 3), 200, np.uint8), photometric="rgb")
    _, vol = open_volume(folder)  # checks every 2nd-to-16th slice and the last: z17 is not among them
    with vol:
        level = vol.levels[0]
        assert level.shape == (1, 1, 40, 8, 8)
        np.testing.assert_array_equal(level.read(0, 0, slice(16, 17), slice(0, 8), slice(0, 8)), 16)
        with pytest.raises(SourceError, match="slice z17.tif differs in size, type or samples"):
            level.read(0, 0, slice(17, 18), slice(0, 8), slice(0, 8))


def test_a_view_across_more_slices_than_open_files_parses_each_slice_once(tmp_path):
    """An xz view reads one row of every slice under the screen (~800): slices have a pool of their own, so
    300 slices with 8 shared handles are each opened (parsed) once over three passes, and the shared pool,
    which big single files need, is left alone."""
    folder = tmp_path / "stack"
    folder.mkdir()
    for z in range(300):
        tifffile.imwrite(folder / f"z{z:03d}.tif", np.full((16, 32), z, np.uint16))
    resources = ReaderResources.create(max_open_files=8)
    _, vol = open_volume(folder, resources=resources)
    with vol:
        level = vol.levels[0]
        opened = resources.slices.stats()["misses"]
        for x in (slice(0, 16), slice(16, 32), slice(0, 32)):  # three chunk columns of one xz view
            rows = level.read(0, 0, slice(0, 300), slice(5, 6), x)
            np.testing.assert_array_equal(rows[:, 0, 0], np.arange(300))
        assert resources.slices.stats()["misses"] - opened == 300 - opened  # each slice opened once
        assert len(resources.handles) == 0
    assert len(resources.slices) == 0  # closing the volume lets its slices go
