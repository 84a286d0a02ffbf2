"""TIFF reader: the shared conformance suite on generated files (no real data needed), plus voxel sizes.

Every case is written here with tifffile and read back with tifffile as the reference, so a bare
checkout covers the slice-folder, multipage, OME, ImageJ, tiled/compressed and pyramidal paths.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from readers.registry import open_volume
from readers.testing import ReaderTests
from readers.tiff import slice_files
from tests.helpers import to_tczyx


def textured(shape: tuple[int, ...], dtype, seed: int) -> np.ndarray:
    """Gradients plus noise in every axis: a misplaced plane, tile, row or channel shows."""
    rng = np.random.default_rng(seed)
    grids = np.indices(shape).sum(axis=0) * 7
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1000
    return ((grids + rng.integers(0, 50, shape)) % top).astype(dtype)


def slice_folder(root):
    """2-D slices with names whose text order is wrong (z10 before z2), one file per z."""
    data = textured((12, 45, 67), np.uint16, 1)
    folder = root / "slices"
    folder.mkdir()
    for z, plane in enumerate(data):
        tifffile.imwrite(folder / f"z{z + 1}.tif", plane, compression="zlib", rowsperstrip=8)
    return folder, data[None, None]


def rgb_slice_folder(root):
    """2-D RGB slices: channels stored as contiguous samples."""
    data = textured((4, 33, 29, 3), np.uint8, 2)
    folder = root / "rgb_slices"
    folder.mkdir()
    for z, plane in enumerate(data):
        tifffile.imwrite(folder / f"s_{z:03d}.tif", plane, photometric="rgb")
    return folder, np.moveaxis(data, -1, 0)[None]


def multipage(root):
    """A z stack as pages of one file, uncompressed big-endian strips (read row by row)."""
    path = root / "multipage.tif"
    tifffile.imwrite(path, textured((9, 70, 51), np.uint16, 3), byteorder=">", rowsperstrip=5,
                     metadata={"axes": "ZYX"})
    return path, None


def ome_channels(root):
    """OME-TIFF with time points and named channels."""
    path = root / "tc.ome.tif"
    tifffile.imwrite(path, textured((2, 3, 5, 40, 36), np.uint8, 4), ome=True,
                     metadata={"axes": "TCZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 2.0,
                               "Channel": {"Name": ["dapi", "gfp", "rfp"]}})
    return path, None


def imagej_hyperstack(root):
    """An ImageJ hyperstack (TZCYX order on disk) of float32."""
    path = root / "hyperstack.tif"
    tifffile.imwrite(path, textured((2, 4, 2, 30, 20), np.float32, 5), imagej=True,
                     resolution=(2.0, 2.0), metadata={"axes": "TZCYX", "spacing": 3.0, "unit": "um"})
    return path, None


def tiled_compressed(root):
    """Tiles cut by the image edge, zstd-compressed, with a horizontal predictor."""
    path = root / "tiled.tif"
    tifffile.imwrite(path, textured((6, 150, 133), np.uint16, 6), tile=(64, 48), compression="zstd",
                     predictor=True, metadata={"axes": "ZYX"})
    return path, None


def planar_rgb(root):
    """Channels stored as separate sample planes (PlanarConfiguration 2), deflate strips."""
    path = root / "planar.tif"
    tifffile.imwrite(path, textured((3, 61, 47), np.uint8, 7), photometric="rgb", planarconfig="separate",
                     compression="zlib", rowsperstrip=16)
    return path, None


def pyramidal(root):
    """A tiled 2-D image with two reduced levels in SubIFDs, as OME pyramids store them."""
    path = root / "pyramid.ome.tif"
    data = textured((200, 300), np.uint16, 8)
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(data, subifds=2, tile=(64, 64), compression="zlib", metadata={"axes": "YX"})
        for factor in (2, 4):
            tif.write(data[::factor, ::factor], subfiletype=1, tile=(32, 32), compression="zlib")
    return path, None


CASES = [slice_folder, rgb_slice_folder, multipage, ome_channels, imagej_hyperstack, tiled_compressed,
         planar_rgb, pyramidal]


def reference(path) -> np.ndarray:
    """Level 0 as tifffile reads it, in (t, c, z, y, x)."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return to_tczyx(series.asarray(), series.axes)


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, tuple]:
    root = tmp_path_factory.mktemp("tiff")
    out = {}
    for make in CASES:
        path, expected = make(root)
        out[make.__name__] = (path, reference(path) if expected is None else expected)
    return out


class TestTiffConformance(ReaderTests):
    reader_name = "tiff"

    @pytest.fixture(params=[make.__name__ for make in CASES])
    def case(self, request, cases):
        return cases[request.param]


def test_slice_folder_is_in_natural_order(cases):
    folder, _ = cases["slice_folder"]
    assert [p.name for p in slice_files(folder)][:3] == ["z1.tif", "z2.tif", "z3.tif"]


def test_pyramid_levels_are_native(cases):
    path, _ = cases["pyramidal"]
    with open_volume(path, "tiff")[1] as vol, tifffile.TiffFile(path) as tif:
        assert [lv.shape[3:] for lv in vol.levels] == [(200, 300), (100, 150), (50, 75)]
        assert [lv.voxel_size for lv in vol.levels] == [(1.0, 1.0, 1.0), (1.0, 2.0, 2.0), (1.0, 4.0, 4.0)]
        assert vol.levels[1].read_chunks == (1, 32, 32)
        for level, stored in zip(vol.levels, tif.series[0].levels, strict=True):
            np.testing.assert_array_equal(level.read(0, 0, slice(0, 1), *(slice(0, n) for n in level.shape[3:]))[0],
                                          stored.asarray())


@pytest.mark.parametrize(("name", "voxel", "source"), [
    ("ome_channels", (2.0, 0.5, 0.5), "ome-xml"),
    ("imagej_hyperstack", (3.0, 0.5, 0.5), "imagej"),
    ("tiled_compressed", (1.0, 1.0, 1.0), "default"),
])
def test_voxel_size_comes_from_the_file(cases, name, voxel, source):
    path, _ = cases[name]
    with open_volume(path, "tiff")[1] as vol:
        assert vol.voxel_size == pytest.approx(voxel)
        assert vol.metadata["voxel_size_source"] == source


def test_ome_channel_names(cases):
    path, _ = cases["ome_channels"]
    with open_volume(path, "tiff")[1] as vol:
        assert [ch.name for ch in vol.channels] == ["dapi", "gfp", "rfp"]


def test_an_infinite_physical_size_falls_back_instead_of_refusing(tmp_path):
    path = tmp_path / "inf.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), np.uint8), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": float("inf"), "PhysicalSizeY": 0.25})
    with open_volume(path, "tiff")[1] as vol:
        assert vol.voxel_size == (0.25, 0.25, 0.25)


def test_tiff_levels_skip_rows_in_sampled_reads(cases):
    for name in ("slice_folder", "multipage"):
        with open_volume(cases[name][0], "tiff")[1] as vol:
            assert vol.levels[0].cheap_sampled_reads


@pytest.mark.parametrize(("size", "unit", "um"), [(200.0, "nm", 0.2), (0.002, "mm", 2.0), (0.5, "\u03bcm", 0.5),
                                                  (0.5, "\\u00B5m", 0.5)])
def test_ome_physical_sizes_are_converted_to_micrometres(tmp_path, size, unit, um):
    path = tmp_path / "units.ome.tif"
    tifffile.imwrite(path, np.zeros((2, 8, 8), np.uint8), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": size, "PhysicalSizeXUnit": unit,
                               "PhysicalSizeY": size, "PhysicalSizeYUnit": unit})
    with open_volume(path, "tiff")[1] as vol:
        assert vol.metadata["voxel_size_source"] == "ome-xml"
        assert vol.voxel_size == pytest.approx((um, um, um))
