"""Parts of a level (its finer blocks reduced) when their cache share is a little too small: a part the cache
let go is reduced again for the chunk that needs it, and not put back, so the parts still kept are used (putting
it back evicted the part the next chunk needed, and every part was made twice: issue 22 item 14)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tifffile

from readers.caching import Cache
from readers.registry import open_volume
from tests.helpers import reference_mean
from transformer.engine import downsample
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid


def test_an_overflowing_parts_share_recomputes_only_what_it_let_go(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    volume = rng.integers(0, 60000, (16, 256, 512), dtype=np.uint16)
    for z, plane in enumerate(volume):
        tifffile.imwrite(tmp_path / f"z{z:03d}.tif", plane)
    _, source = open_volume(tmp_path)
    leaves = ThreadPoolExecutor(1)  # one thread: a task submitted last finishes last
    plane_part = 256 * 512 // 4 * 4  # a plane's 2x2 sums in int32
    parts = Cache("parts", int(16 * plane_part * 0.8))  # room for 80 % of level 0's parts
    engine = Engine(Cache("blocks", 64 << 20), parts, leaves)
    pyramid = Pyramid("t", source, engine, PyramidOptions.from_chunks("auto", overview="exact"))
    try:
        assert pyramid.levels[0].spec.chunks[2] == 1 and pyramid._part_factors(1) is not None  # flat: summed parts
        for index in np.ndindex(*pyramid.levels[0].spec.grid):
            pyramid.chunk(0, index)
        leaves.submit(lambda: None).result()  # every part of level 0 made (and the oldest let go)
        kept = sum((("t", "part", 1, *index) in parts) for index in np.ndindex(*pyramid.levels[0].spec.grid))
        assert 0 < kept < 16

        made = []
        sums = downsample.sums

        def counted(block, factors):
            if block.shape[0] == 1:  # a plane's part (a level-1 chunk's own reduction for level 2 is deeper)
                made.append(1)
            return sums(block, factors)

        monkeypatch.setattr(downsample, "sums", counted)
        spec = pyramid.levels[1].spec
        for index in np.ndindex(*spec.grid):
            t, c, z, y, x = spec.chunk_region(index)
            expected = reference_mean(volume, pyramid.levels[1].factors)[z, y, x]
            np.testing.assert_array_equal(pyramid.chunk(1, index), expected)
        # level 1 is one chunk here, so each part is used once: those let go are made again, the kept ones not
        # (before the fix a re-made part evicted the next one: all 16 were made again)
        assert np.prod(spec.grid) == 1 and len(made) == 16 - kept, (len(made), kept)
    finally:
        leaves.shutdown()
        source.close()
