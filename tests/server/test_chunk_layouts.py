"""--chunks auto: slice stacks get flat chunks at full resolution, and precomputed offers cubic ones too;
every layout serves exactly the source's voxels (zarr v2 through zarr-python-equivalent decoding, every
precomputed chunk size). A JPEG2000 slice that disagrees with the stack at an index the open did not
sample is a 500 naming it on the first read that needs it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import product

import imagecodecs
import numpy as np
import pytest
import tifffile

from bench.views import view_scales
from catalog.scan import scan
from catalog.store import Catalog
from readers.base import Channel, Level, LevelGeometry, Volume
from readers.caching import Cache
from tests.helpers import in_process, reference_mean
from tests.require import module
from tests.server.test_cutout import zarr_level
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import SAMPLED_DEPTH, Pyramid, auto_chunks
from writers import precomputed


def _stack(root, n=9, shape=(70, 90)):
    rng = np.random.default_rng(5)
    vol = rng.integers(0, 60000, (n, *shape), dtype=np.uint16)
    root.mkdir(parents=True)
    for z in range(n):
        tifffile.imwrite(root / f"s{z}.tif", vol[z])
    return vol


@pytest.fixture
def served(tmp_path):
    vol = _stack(tmp_path / "data" / "stack")
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(tmp_path / "data", catalog)
    (record,) = catalog.all()
    with in_process(db, cache_mb=32, chunks="auto") as client:
        yield client, record.id, vol
    catalog.close()


def test_auto_layout_is_flat_and_serves_the_source(served):
    client, ds, vol = served
    zarray = client.get(f"/zarr/{ds}.ome.zarr/0/.zarray").json()
    assert zarray["chunks"] == [1, 1, 1, 70, 90]  # one plane per chunk (clipped to the plane)
    np.testing.assert_array_equal(zarr_level(client, ds, 0)[0, 0], vol)


def test_precomputed_offers_flat_cubic_and_thin_chunks_with_the_same_voxels(served):
    """Flat for xy, the cube, one row thin for xz and one column thin for yz (x, y, z)."""
    client, ds, vol = served
    info = client.get(f"/precomputed/{ds}/info").json()
    assert info["scales"][0]["chunk_sizes"] == [[90, 70, 1], [64, 64, 9], [90, 1, 9], [1, 70, 9]]
    for cx, cy, cz in info["scales"][0]["chunk_sizes"]:
        got = np.empty_like(vol)
        for z0, y0, x0 in product(range(0, 9, cz), range(0, 70, cy), range(0, 90, cx)):
            z1, y1, x1 = min(z0 + cz, 9), min(y0 + cy, 70), min(x0 + cx, 90)
            r = client.get(f"/precomputed/{ds}/0/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}")
            assert r.status_code == 200
            got[z0:z1, y0:y1, x0:x1] = np.frombuffer(r.content, "<u2").reshape(z1 - z0, y1 - y0, x1 - x0)
        np.testing.assert_array_equal(got, vol)
    assert client.get(f"/precomputed/{ds}/0/0-64_0-64_0-2").status_code == 400  # a chunk of neither size


@pytest.mark.parametrize(("unit", "chunks"), [
    ((1, 1, 2048), (1, 1, 1, 128, 2048)),  # narrow raw rows, read whole: full rows, 512²'s bytes, no row read twice
    ((1, 1, 1), (1, 1, 1, 512, 512)),  # wide raw rows, read by column span
    ((1, 512, 512), (1, 1, 1, 512, 512)),  # a 512 tile
    ((1, 1024, 1024), (1, 1, 1, 1024, 1024)),  # a tile up to twice the budget's side: one tile per chunk
    ((1, 256, 256), (1, 1, 1, 512, 512)),  # small tiles: a multiple
    ((1, 2048, 2048), (1, 1, 1, 512, 512)),  # a compressed whole-plane strip is cut, its decode cached
    ((1, 8192, 8192), (1, 1, 1, 512, 512)),  # never one 128 MiB chunk
    ((1, 1, 400_000), (1, 1, 1, 512, 512)),  # rows so wide a budget's worth is under MIN_ROWS: cut too
])
def test_auto_chunks_follow_the_read_unit_within_the_byte_budget(unit, chunks):
    assert auto_chunks((256, 8192, 8192), (64, 64, 64), 1, unit) == chunks


def test_a_sampled_level_is_capped_in_depth_and_as_wide_as_the_budget_allows():
    """Each plane of a sampled level is one more source slice to decode: 313 planes standing for 32 source
    planes each are cut 16 deep and 128² wide (uncapped: 32 deep, 64² wide, so four chunks per plane)."""
    assert auto_chunks((313, 128, 128), (64, 64, 64), 32, None, fill=True, max_depth=16) == (1, 1, 16, 128, 128)
    assert auto_chunks((40, 16, 16), (64, 64, 64), 256, None, fill=True, max_depth=16) == (1, 1, 16, 16, 16)
    assert auto_chunks((313, 128, 128), (64, 64, 64), 32, None, fill=True) == (1, 1, 32, 64, 64)
    data = np.zeros((1, 1, 512, 32, 32), np.uint16)
    for overview, deepest in (("sampled", SAMPLED_DEPTH), ("exact", 64)):
        volume = Volume([_Stack(data)], [Channel("c")], "mem")
        pyr = Pyramid("k", volume, Engine(Cache("b", 1 << 20)), PyramidOptions((64, 64, 64), overview=overview,
                                                                              auto=True, top=1))
        assert max(plan.spec.chunks[2] for plan in pyr.levels) == deepest


def test_a_raw_stack_of_2048_wide_rows_gets_full_row_chunks_with_the_same_voxels(tmp_path):
    vol = _stack(tmp_path / "data" / "stack", n=3, shape=(300, 2048))
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(tmp_path / "data", catalog)
    (record,) = catalog.all()
    with in_process(db, cache_mb=64, chunks="auto") as client:
        zarray = client.get(f"/zarr/{record.id}.ome.zarr/0/.zarray").json()
        assert zarray["chunks"] == [1, 1, 1, 128, 2048]
        np.testing.assert_array_equal(zarr_level(client, record.id, 0)[0, 0], vol)
    catalog.close()


def test_fixed_chunks_setting_keeps_one_grid(tmp_path):
    _stack(tmp_path / "data" / "stack")
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(tmp_path / "data", catalog)
    (record,) = catalog.all()
    with in_process(db, cache_mb=16, chunks="4,32,32") as client:
        assert client.get(f"/zarr/{record.id}.ome.zarr/0/.zarray").json()["chunks"] == [1, 1, 4, 32, 32]
        sizes = client.get(f"/precomputed/{record.id}/info").json()["scales"][0]["chunk_sizes"]
        assert sizes == [[32, 32, 4]]
    catalog.close()


def test_a_bad_jpeg2000_slice_the_open_did_not_sample_is_a_500_naming_it(tmp_path):
    module("glymur")
    root = tmp_path / "data" / "jp2"
    root.mkdir(parents=True)
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 4000, (5, 40, 48), dtype=np.uint16)
    for z in range(5):
        (root / f"s{z}.j2k").write_bytes(imagecodecs.jpeg2k_encode(grey[z], level=0, codecformat="j2k"))
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(tmp_path / "data", catalog)  # the scan checks every slice: s1 turns RGB after it
    rgb = np.stack([grey[1]] * 3, axis=-1)
    (root / "s1.j2k").write_bytes(imagecodecs.jpeg2k_encode(rgb, level=0, codecformat="j2k"))
    (record,) = catalog.all()
    with in_process(db, cache_mb=16, chunks="auto") as client:  # the open parses slices 0, 2 and 4 only
        base = f"/zarr/{record.id}.ome.zarr/0/0/0"
        assert client.get(f"{base}/0/0/0").status_code == 200
        bad = client.get(f"{base}/1/0/0")
        assert bad.status_code == 500 and "s1.j2k" in bad.json()["reason"]
        assert str(tmp_path) not in bad.text
        assert client.get(f"{base}/2/0/0").status_code == 200  # the other slices keep serving
    catalog.close()


class _Stack(Level):
    """An in-memory slice stack (one plane per read unit) that counts its source reads."""

    def __init__(self, data: np.ndarray) -> None:
        super().__init__(LevelGeometry(data.shape, data.dtype, (1.0, 1.0, 1.0), (1, 1, data.shape[4])))
        self.data, self.reads = data, 0

    def _read(self, t, c, z, y, x):
        self.reads += 1
        return self.data[t, c, z, y, x].copy()

    def _read_sampled(self, t, c, z, y, x):
        self.reads += 1
        return self.data[t, c, z, y, x].copy()


def _pyramid(data: np.ndarray, cache: Cache, leaves=None, **options) -> tuple[Pyramid, _Stack]:
    stack = _Stack(data)
    volume = Volume([stack], [Channel("c")], "mem")
    return Pyramid("k", volume, Engine(cache, leaves=leaves), PyramidOptions((8, 8, 8), **options)), stack


def _whole(pyr: Pyramid, level: int, layout: int = 0) -> np.ndarray:
    return pyr.region(level, 0, 0, *(slice(0, n) for n in pyr.levels[level].spec.shape[2:]), layout=layout)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_every_layout_of_every_level_is_the_block_mean_of_the_finer_level(dtype):
    """Flat chunks (1 plane at level 0), the cubic and thin alternates, odd sizes at every edge: each level is the
    block mean of the one above, whichever chunk shape serves it (integers: level 1 from summed parts)."""
    data = np.random.default_rng(4).integers(0, 60000, (1, 1, 21, 75, 53)).astype(dtype)
    pyr, _ = _pyramid(data, Cache("blocks", 1 << 30), auto=True)
    assert pyr.levels[0].spec.chunks == (1, 1, 1, 16, 16) and pyr.levels[1].spec.alternates
    assert pyr.levels[0].spec.alternates == ((1, 1, 8, 8, 8), (1, 1, 8, 1, 53), (1, 1, 8, 64, 1))
    assert {shape[3:].count(1) for shape in pyr.levels[1].spec.alternates} == {0, 1}  # cube and thin, computed
    assert pyr._reduces_by_parts(1) == (dtype == np.uint16)
    fixed, _ = _pyramid(data, Cache("blocks", 1 << 30))
    expected = data[0, 0]
    for level, plan in enumerate(pyr.levels):
        if level:
            expected = reference_mean(expected, plan.factors)
        for layout in range(len(plan.spec.layouts)):
            np.testing.assert_array_equal(_whole(pyr, level, layout), expected, f"level {level} layout {layout}")
        np.testing.assert_array_equal(_whole(fixed, level), expected)


def test_every_level_lists_one_chunk_size_per_orientation_in_the_same_order():
    """Neuroglancer picks a position in ``chunk_sizes`` by the finest scale's sizes and reads that position at
    every scale: each position is one orientation at every level (xy: one plane deep, also where the level's
    own chunks are deeper; xz: one row thin; yz: one column thin), and each reads one strided source read per
    chunk at a sampled level, the same voxels as the level's own chunks."""
    data = np.random.default_rng(8).integers(0, 4000, (1, 1, 40, 64, 64), dtype=np.uint16)
    pyr, stack = _pyramid(data, Cache("blocks", 1 << 30), auto=True, overview="sampled", top=8)
    info = precomputed.info(pyr.image_spec("s"), "raw")
    assert any(plan.spec.chunks[2] > 1 and plan.sampling is not None for plan in pyr.levels)
    for i, (plan, scale) in enumerate(zip(pyr.levels, info["scales"], strict=True)):
        spec, sizes = plan.spec, scale["chunk_sizes"]
        assert len(sizes) == 4, (i, sizes)
        flat, _cube, thin_y, thin_x = sizes
        assert flat == [spec.chunks[4], spec.chunks[3], 1] and thin_y[1] == 1 and thin_x[0] == 1, (i, sizes)
        for orientation, position in (("xy", 0), ("xz", 2)):
            assert [size for _, size in view_scales(info["scales"], orientation)][i] == sizes[position]
        for shape in spec.orientations:
            layout = spec.layouts.index(shape)
            np.testing.assert_array_equal(_whole(pyr, i, layout), _whole(pyr, i), f"level {i} shape {shape}")
            if plan.sampling is None:
                continue
            grid = spec.in_layout(layout).grid
            index = tuple(n // 2 for n in grid)
            before = stack.reads
            pyr.blocks.drop_where(lambda key, i=i: key[1] == i)
            pyr.chunk(i, index, layout)
            assert stack.reads == before + 1  # one strided read, however many planes it holds


def test_level_one_of_flat_planes_is_made_from_parts_and_never_rereads_level0():
    data = np.random.default_rng(6).integers(0, 4000, (1, 1, 13, 70, 45), dtype=np.uint16)
    cache = Cache("blocks", 1 << 30)
    leaves = ThreadPoolExecutor(2)
    pyr, stack = _pyramid(data, cache, leaves, auto=True)
    for index in np.ndindex(*pyr.levels[0].spec.grid):
        pyr.chunk(0, index)
    leaves.shutdown(wait=True)  # the background sums have landed
    reads = stack.reads
    cache.drop_where(lambda key: key[1] == 0)  # level-0 blocks gone, as under memory pressure
    pyr.leaves = None
    np.testing.assert_array_equal(_whole(pyr, 1), reference_mean(data[0, 0], pyr.levels[1].factors))
    assert stack.reads == reads


def test_cubic_chunks_of_a_sampled_level_are_one_strided_read_each():
    data = np.random.default_rng(7).integers(0, 4000, (1, 1, 40, 64, 64), dtype=np.uint16)
    pyr, stack = _pyramid(data, Cache("blocks", 1 << 30), auto=True, overview="sampled", top=8)
    level = next(i for i, plan in enumerate(pyr.levels) if plan.sampling is not None and plan.spec.alternates)
    stride = pyr.levels[level].sampling.stride
    layouts = pyr.levels[level].spec.layouts
    layout = max(range(len(layouts)), key=lambda i: layouts[i][2])  # the deepest: the cube
    cube = pyr.levels[level].spec.in_layout(layout)
    for index in np.ndindex(*cube.grid):
        before = stack.reads
        _, _, z, y, x = cube.chunk_region(index)
        got = pyr.chunk(level, index, layout)
        assert stack.reads == before + 1  # not one read per flat chunk under it
        np.testing.assert_array_equal(got, data[0, 0, z.start * stride[0] : z.stop * stride[0] : stride[0],
                                                y.start * stride[1] : y.stop * stride[1] : stride[1],
                                                x.start * stride[2] : x.stop * stride[2] : stride[2]])
