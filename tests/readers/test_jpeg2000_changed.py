"""A JPEG2000 slice re-copied or replaced after its stack was opened is refused, never decoded under the
headers parsed from the old one (the server then reopens the dataset under a new version)."""

from __future__ import annotations

import numpy as np
import pytest

from readers.base import SourceError
from readers.registry import open_volume
from readers.resources import ReaderResources
from tests.require import module

glymur = module("glymur")


@pytest.mark.parametrize("backend", ["glymur", "imagecodecs"])
def test_a_replaced_slice_is_refused_and_the_others_still_read(tmp_path, backend):
    folder = tmp_path / "stack"
    folder.mkdir()
    for z in range(3):
        glymur.Jp2k(folder / f"s{z}.jp2", data=np.full((32, 32), 10 * z, np.uint8), numres=2)
    _, vol = open_volume(folder, resources=ReaderResources.create(jp2_backend=backend))
    with vol:
        level = vol.levels[0]
        np.testing.assert_array_equal(level.read(0, 0, slice(1, 2), slice(0, 8), slice(0, 8)), 10)
        # slices not decoded before (imagecodecs keeps whole decoded slices: those are the old content)
        glymur.Jp2k(folder / "s0.jp2", data=np.full((64, 64, 3), 99, np.uint8), numres=2)
        with pytest.raises(SourceError, match="s0.jp2: the file changed while being served"):
            level.read(0, 0, slice(0, 1), slice(8, 16), slice(0, 8))
        (folder / "s2.jp2").unlink()
        with pytest.raises(SourceError, match="s2.jp2: the file is gone"):
            level.read(0, 0, slice(2, 3), slice(8, 16), slice(0, 8))
        np.testing.assert_array_equal(level.read(0, 0, slice(1, 2), slice(8, 16), slice(0, 8)), 10)
