"""Parts of a level made from one-plane chunks (issue 22 item 14): each plane's exact 2x2 sums wait in the parts
cache for the next plane's, and the pair becomes one finished mean (a quarter of their bytes), so a level-1 chunk is
copies only; a group the cache let go is made again from its planes' kept blocks, and not put back (putting it back
evicted the group the next chunk needed, and every part was made twice)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tifffile

from readers.caching import Cache
from readers.registry import open_volume
from tests.helpers import reference_mean
from transformer.engine import downsample
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid


def _stack(tmp_path, shape, seed=3):
    volume = np.random.default_rng(seed).integers(0, 60000, shape, dtype=np.uint16)
    for z, plane in enumerate(volume):
        tifffile.imwrite(tmp_path / f"z{z:03d}.tif", plane)
    return volume, open_volume(tmp_path)[1]


def _counted(monkeypatch, name):
    calls = []
    original = getattr(downsample, name)

    def counted(*args):
        calls.append(args[0].shape)
        return original(*args)

    monkeypatch.setattr(downsample, name, counted)
    return calls


def _level0(pyramid, leaves):
    for index in np.ndindex(*pyramid.levels[0].spec.grid):
        pyramid.chunk(0, index)
    leaves.submit(lambda: None).result()  # one leaf thread: every part made


@pytest.mark.parametrize("shape", [(16, 256, 512), (15, 250, 510)])  # the odd one: a lone last plane, edge groups
def test_pairs_of_plane_parts_become_one_finished_mean(tmp_path, monkeypatch, shape):
    volume, source = _stack(tmp_path, shape)
    leaves = ThreadPoolExecutor(1)
    parts = Cache("parts", 64 << 20)
    engine = Engine(Cache("blocks", 64 << 20), parts, leaves)
    pyramid = Pyramid("t", source, engine, PyramidOptions.from_chunks("auto", overview="exact"))
    try:
        assert pyramid.levels[0].spec.chunks[2] == 1 and pyramid._part_factors(1) is not None  # flat: summed parts
        _level0(pyramid, leaves)
        level1 = pyramid.levels[1].spec
        # one finished uint16 group per pair of planes: a quarter of the two planes' int32 sums (before: 2 MiB)
        groups = -(-shape[0] // 2) * pyramid.levels[0].spec.grid[3]
        assert parts.used == np.prod(level1.shape) * 2 and len(parts) == groups
        means = _counted(monkeypatch, "mean_of_sums")
        expected = reference_mean(volume, pyramid.levels[1].factors)
        for index in np.ndindex(*level1.grid):
            t, c, z, y, x = level1.chunk_region(index)
            np.testing.assert_array_equal(pyramid.chunk(1, index), expected[z, y, x])
        assert [m for m in means if m[0] == 1] == []  # no mean finished while level 1 is served (before: one a chunk)
        assert pyramid.stats["source_reads"] == np.prod(pyramid.levels[0].spec.grid)
    finally:
        leaves.shutdown()
        source.close()


def test_a_group_the_share_let_go_is_made_again_from_kept_blocks(tmp_path, monkeypatch):
    volume, source = _stack(tmp_path, (16, 256, 512))
    leaves = ThreadPoolExecutor(1)
    group = 256 * 512 // 4 * 2  # a pair's finished mean, uint16
    parts = Cache("parts", int(8 * group * 0.6))  # room for 60 % of level 1's groups
    engine = Engine(Cache("blocks", 64 << 20), parts, leaves)
    pyramid = Pyramid("t", source, engine, PyramidOptions.from_chunks("auto", overview="exact"))
    try:
        _level0(pyramid, leaves)
        kept = sum(key[1] == "group" for key in parts._items)
        assert 0 < kept < 8
        sums = _counted(monkeypatch, "sums")
        spec = pyramid.levels[1].spec
        expected = reference_mean(volume, pyramid.levels[1].factors)
        for index in np.ndindex(*spec.grid):
            t, c, z, y, x = spec.chunk_region(index)
            np.testing.assert_array_equal(pyramid.chunk(1, index), expected[z, y, x])
        # level 1 is one chunk: the groups let go are summed again from their two planes' blocks, once each
        assert np.prod(spec.grid) == 1 and len([s for s in sums if s[0] == 1]) == 2 * (8 - kept)
        assert pyramid.stats["source_reads"] == 16  # no plane read twice
    finally:
        leaves.shutdown()
        source.close()
