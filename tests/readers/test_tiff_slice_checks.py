"""A slice folder opened directly (no scan) still never serves an odd slice: an RGB slice the open's
sampled check missed is refused when read, not served as its first sample."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from readers.base import SourceError
from readers.registry import open_volume


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
