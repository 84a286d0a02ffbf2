"""A TIFF cut short by a copy holds fewer images than its own metadata declares: refused with the
reason, never registered as what tifffile could still parse (a 64-plane stack cut to 40 % was one plane)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from readers.base import UnsupportedSource
from readers.registry import open_volume


@pytest.mark.parametrize("kind", ["shaped", "imagej"])
def test_a_truncated_stack_is_refused_not_shrunk(tmp_path, kind):
    path = tmp_path / "stack.tif"
    data = np.random.default_rng(0).integers(0, 255, (64, 128, 128), dtype=np.uint8)
    if kind == "shaped":
        tifffile.imwrite(path, data, tile=(64, 64), compression="zlib")
    else:
        tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    _, whole = open_volume(path)
    with whole:
        assert whole.shape == (1, 1, 64, 128, 128)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * 0.4)])
    with pytest.raises(UnsupportedSource, match="stack.tif: holds fewer images than its metadata declares"):
        open_volume(path)
