"""Pure units: pyramid planning, block means, zarr v2 keys (caches and handles: test_caching.py)."""

from __future__ import annotations

import numpy as np
import pytest

from readers.caching import Cache
from tests.helpers import reference_mean
from transformer.engine.downsample import mean, mode
from transformer.engine.pyramid import plan_factors
from writers import zarr_v2
from writers.codecs import compressor
from writers.spec import ChannelSpec, ImageSpec, LevelSpec


@pytest.mark.parametrize("shape,voxel,expected", [
    ((100, 1000, 1000), (4.0, 1.0, 1.0), (1, 2, 2)),
    ((100, 500, 500), (4.0, 2.0, 2.0), (1, 2, 2)),
    ((100, 250, 250), (4.0, 4.0, 4.0), (2, 2, 2)),
    ((100, 250, 250), (3.0, 2.0, 2.0), (2, 2, 2)),  # within 1.5x: near-isotropic
    ((1, 250, 250), (1.0, 1.0, 1.0), (1, 2, 2)),  # a 2-D image never halves z
    ((50, 1, 1), (1.0, 1.0, 1.0), (2, 1, 1)),
    ((1, 1, 1), (1.0, 1.0, 1.0), (1, 1, 1)),
])
def test_plan_factors(shape, voxel, expected):
    assert plan_factors(shape, voxel) == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
@pytest.mark.parametrize("shape", [(8, 8, 8), (5, 7, 9), (1, 3, 3)])
def test_mean_matches_reference(dtype, shape):
    rng = np.random.default_rng(1)
    a = (rng.random(shape) * 200).astype(dtype)
    for f in ((2, 2, 2), (1, 2, 2)):
        np.testing.assert_allclose(mean(a, f), reference_mean(a, f), rtol=1e-6)


def _loop_mean(a: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """The plain triple loop reference_mean replaced: the oracle for it, on tiny arrays only."""
    out_shape = tuple(-(-n // f) for n, f in zip(a.shape, factors, strict=True))
    out = np.empty(out_shape, dtype=np.float64)
    fz, fy, fx = factors
    for k in range(out_shape[0]):
        for j in range(out_shape[1]):
            rows = a[k * fz : (k + 1) * fz, j * fy : (j + 1) * fy].astype(np.float64)
            for i in range(out_shape[2]):
                out[k, j, i] = rows[:, :, i * fx : (i + 1) * fx].mean()
    if np.issubdtype(a.dtype, np.integer):
        return np.rint(out).astype(a.dtype)
    return out.astype(a.dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.uint32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 3), (5, 7, 9), (3, 11, 2), (8, 8, 8), (7, 1, 13)])
@pytest.mark.parametrize("factors", [(1, 1, 1), (1, 2, 2), (2, 2, 2), (3, 2, 4), (1, 4, 3)])
def test_reference_mean_equals_the_plain_loop(dtype, shape, factors):
    rng = np.random.default_rng(sum(shape) + sum(factors))
    a = (rng.random(shape) * 250 - (50 if np.issubdtype(dtype, np.signedinteger) else 0)).astype(dtype)
    got, expected = reference_mean(a, factors), _loop_mean(a, factors)
    assert got.dtype == expected.dtype == a.dtype and got.shape == expected.shape
    if np.issubdtype(dtype, np.integer):
        np.testing.assert_array_equal(got, expected)
    else:  # the same sums added in another order: equal to rounding
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_reference_mean_rounds_half_to_even():
    a = np.array([[[1, 2, 2, 3, 3, 4]]], dtype=np.uint8)  # pair means 1.5, 2.5, 3.5
    np.testing.assert_array_equal(reference_mean(a, (1, 1, 2)), [[[2, 2, 4]]])
    np.testing.assert_array_equal(reference_mean(np.array([[[1, 2, 4]]], np.uint8), (1, 1, 2)), [[[2, 4]]])


def test_mode_picks_most_frequent_label():
    a = np.array([[[1, 1], [2, 3]], [[1, 4], [5, 6]]], dtype=np.uint32)
    assert mode(a, (2, 2, 2)).item() == 1


def _spec() -> ImageSpec:
    level = LevelSpec((1, 2, 10, 100, 130), (1, 1, 10, 64, 64), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    return ImageSpec("x", "uint16", (level,), (ChannelSpec("a", "FFFFFF", (0, 1), (0, 1)),) * 2)


def test_edge_chunks_are_padded_to_full_size():
    spec = _spec()
    comp = compressor("none")
    body = zarr_v2.encode_chunk(np.ones((10, 36, 2), np.uint16), spec.levels[0], comp)
    chunk = np.frombuffer(body, "<u2").reshape(1, 1, 10, 64, 64)
    assert chunk[0, 0, :, :36, :2].all() and not chunk[0, 0, :, 36:, :].any()


@pytest.mark.parametrize("name", ["blosc-zstd", "blosc-lz4", "zstd", "gzip", "none"])
def test_compressors_round_trip(name):
    import numcodecs

    comp = compressor(name)
    data = np.arange(1000, dtype=np.uint16)
    body = comp.encode(data)
    config = comp.v2_config()
    decoded = body if config is None else numcodecs.get_codec(config).decode(body)
    np.testing.assert_array_equal(np.frombuffer(decoded, np.uint16), data)


def test_ngff_04_attrs_validate():
    from ome_zarr_models.v04.image import ImageAttrs

    from writers.ngff import zattrs_v04

    ImageAttrs.model_validate(zattrs_v04(_spec()))


class _CountingLevel:
    """An in-memory native level that counts source reads."""

    def __init__(self, data: np.ndarray) -> None:
        from readers.base import Level, LevelGeometry

        self.data, self.reads = data, 0
        outer = self

        class _L(Level):
            def _read(self, t, c, z, y, x):
                outer.reads += 1
                return outer.data[t, c, z, y, x].copy()

        self.level = _L(LevelGeometry(data.shape, data.dtype, (1.0, 1.0, 1.0), (1, data.shape[3], data.shape[4])))


def test_coarser_levels_never_reread_level0_even_after_eviction():
    from concurrent.futures import ThreadPoolExecutor

    from readers.base import Channel, Volume
    from transformer.engine.options import Engine
    from transformer.engine.pyramid import Pyramid

    data = np.random.default_rng(0).integers(0, 4000, (1, 1, 150, 200, 170), dtype=np.uint16)
    counting = _CountingLevel(data)
    leaves = ThreadPoolExecutor(2)
    cache = Cache("blocks", 1 << 30)
    pyr = Pyramid("k", Volume([counting.level], [Channel("c")], "mem"), Engine(cache, leaves=leaves))
    grid0 = pyr.levels[0].spec.grid
    for idx in np.ndindex(*grid0):
        pyr.chunk(0, idx)
    leaves.shutdown(wait=True)  # the background reductions have landed
    reads = counting.reads
    cache.drop_where(lambda key: key[1] == 0)  # level-0 blocks gone, as under memory pressure
    pyr.leaves = None
    expected = reference_mean(data[0, 0], pyr.levels[1].factors)
    got = pyr.region(1, 0, 0, *(slice(0, n) for n in pyr.levels[1].spec.shape[2:]))
    np.testing.assert_array_equal(got, expected)
    assert counting.reads == reads
    for level in range(2, len(pyr.levels)):
        pyr.region(level, 0, 0, *(slice(0, n) for n in pyr.levels[level].spec.shape[2:]))
    assert counting.reads == reads
