"""Chunk bytes decoded by the reference decoders equal the blocks they were made of: zarr-python reads the
zarr v2/v3 chunks from the files the views spell, compressed_segmentation and imagecodecs decode
precomputed chunks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from tests.writers.conftest import VIEWS, grid_edges, offered
from tests.writers.specs import SPECS
from writers.codecs import COMPRESSORS, compressor
from writers.precomputed import PrecomputedChunk, served_dtype
from writers.spec import ImageSpec
from writers.view import Chunk, Document, ViewOptions


def volumes(spec: ImageSpec, seed: int = 0) -> list[np.ndarray]:
    """Random content for every level (the views never look past the blocks they are given)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(spec.dtype)
    hi = np.iinfo(dtype).max if dtype.kind in "iu" else 1.0
    if spec.kind == "labels":
        hi = 5  # few labels, as a segmentation has
    return [(rng.random(level.shape) * hi).astype(dtype) for level in spec.levels]


def smooth(spec: ImageSpec) -> list[np.ndarray]:
    """Gradients (what JPEG is made for): a lossy codec on noise would hide a swapped axis in its error."""
    out = []
    for level in spec.levels:
        grids = np.indices(level.shape, dtype=np.float64)
        ramp = sum((k + 1) * g / max(n - 1, 1) for k, (g, n) in enumerate(zip(grids, level.shape, strict=True)))
        out.append((ramp / ramp.max() * 250).astype(spec.dtype))
    return out


def reader(data: list[np.ndarray], spec: ImageSpec):
    def read(level: int, index: tuple[int, ...], layout: int = 0) -> np.ndarray:
        region = spec.levels[level].in_layout(layout).chunk_region(index)
        return data[level][region][0, 0]  # (z, y, x), as Pyramid.chunk

    return read


def write(root: Path, name: str, body: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


@pytest.mark.parametrize("view", ["zarr", "zarr3"])
@pytest.mark.parametrize("comp", COMPRESSORS)
@pytest.mark.parametrize("spec", ["u16", "tc", "f64"])
def test_zarr_chunks_read_back_through_zarr_python(tmp_path, view, comp, spec):
    v, s = VIEWS[view], SPECS[spec]
    options = ViewOptions(compressor(comp))
    data = volumes(s)
    for level, level_spec in enumerate(s.levels):
        array_doc = Document(".zarray" if view == "zarr" else "zarr.json", level)
        write(tmp_path, v.spell(array_doc, s), json.dumps(v.document(array_doc, s, options)).encode())
        corners = grid_edges(level_spec.grid)
        for index in corners:
            chunk = Chunk(level, index)
            write(tmp_path, v.spell(chunk, s), v.encode(chunk, s, reader(data, s), options))
        array = zarr.open_array(tmp_path / str(level), mode="r", zarr_format=2 if view == "zarr" else 3)
        for index in corners:
            region = level_spec.chunk_region(index)
            np.testing.assert_array_equal(array[region], data[level][region])


@pytest.mark.parametrize("spec", ["u16", "tc", "labels", "f64", "rgb", "flat"])
def test_precomputed_chunks_decode_to_the_blocks(spec):
    import compressed_segmentation as cseg
    import imagecodecs

    v, s = VIEWS["precomputed"], SPECS[spec]
    options = ViewOptions(compressor("none"))
    dtype = np.dtype(served_dtype(s.dtype, s.kind))
    for encoding in offered(s):
        served = encoding or ("compressed_segmentation" if s.kind == "labels" else "raw")
        data = smooth(s) if served == "jpeg" else volumes(s, seed=1)
        for level, layout in ((lv, k) for lv in range(len(s.levels)) for k in range(len(s.levels[lv].layouts))):
            level_spec = s.levels[level].in_layout(layout)  # every chunk size, read from the level's own blocks
            t_grid, _, *zyx = level_spec.grid
            for t, zi, yi, xi in grid_edges((t_grid, *zyx)):
                chunk = PrecomputedChunk(level, (t, zi, yi, xi), encoding, layout)
                _, _, zs, ys, xs = level_spec.chunk_region((t, 0, zi, yi, xi))
                expected = data[level][t, :, zs, ys, xs].astype(dtype)  # (c, z, y, x), clipped at the edge
                nc, nz, ny, nx = expected.shape
                body = v.encode(chunk, s, reader(data, s), options)
                if served == "raw":
                    got = np.frombuffer(body, dtype.newbyteorder("<")).reshape(expected.shape)
                    np.testing.assert_array_equal(got, expected)
                elif served == "compressed_segmentation":
                    xyz = cseg.decompress(body, (nx, ny, nz), dtype, block_size=(8, 8, 8), order="F")
                    np.testing.assert_array_equal(np.asarray(xyz).reshape(nx, ny, nz).T, expected[0])
                else:  # jpeg: z slices stacked vertically, channels interleaved; lossy
                    image = imagecodecs.jpeg8_decode(body).reshape(nz, ny, nx, nc)
                    error = np.abs(image.astype(int) - np.moveaxis(expected, 0, -1).astype(int))
                    assert error.mean() < 1 and error.max() < 8, (error.mean(), error.max())


def test_only_raw_precomputed_chunks_are_gzipped():
    v = VIEWS["precomputed"]
    assert v.compressible(PrecomputedChunk(0, (0, 0, 0, 0)), SPECS["u16"])
    assert not v.compressible(PrecomputedChunk(0, (0, 0, 0, 0)), SPECS["labels"])  # compressed_segmentation
    assert v.compressible(PrecomputedChunk(0, (0, 0, 0, 0), "raw"), SPECS["labels"])
    assert not v.compressible(PrecomputedChunk(0, (0, 0, 0, 0), "jpeg"), SPECS["rgb"])
    assert not VIEWS["zarr"].compressible(Chunk(0, (0, 0, 0, 0, 0)), SPECS["u16"])
