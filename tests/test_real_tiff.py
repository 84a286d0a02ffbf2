"""Every real TIFF sample through the service: same voxels as tifffile; bad files refused cleanly."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tifffile
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from readers.registry import open_volume
from readers.testing import ReaderTests
from readers.tiff import slice_files
from tests.helpers import Server, real_data, to_tczyx
from tests.require import skip_without

REAL = real_data()
pytestmark = skip_without("shared", REAL is not None, "../shared/data/real is not present")
TIFF = REAL / "tiff" if REAL else None


def expected_of(path) -> np.ndarray:
    if path.is_dir():
        return np.stack([tifffile.imread(f) for f in slice_files(path)])[None, None]
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return to_tczyx(series.asarray(), series.axes)


def real_cases() -> list:
    if TIFF is None:
        return []
    files = [p for p in sorted(TIFF.iterdir()) if p.is_file() and p.suffix != ".ome"]
    return [*files, TIFF / "slices-clearmap-idisco", TIFF / "multifile-ome"]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("real") / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(TIFF, catalog)
    sources = {r.source: r.id for r in catalog.all()}
    catalog.close()
    srv = Server(db)
    yield srv, sources, report
    srv.stop()


class TestRealTiffReader(ReaderTests):
    reader_name = "tiff"

    @pytest.fixture(params=real_cases(), ids=lambda p: p.name)
    def case(self, request):
        return request.param, expected_of(request.param)


@pytest.mark.parametrize("path", real_cases(), ids=lambda p: p.name)
def test_served_voxels_equal_tifffile(real_server, path):
    srv, sources, _ = real_server
    dataset_id = sources[str(path.resolve())]
    group = zarr.open_group(f"{srv.url}/zarr/{dataset_id}.ome.zarr", mode="r", zarr_format=2)
    np.testing.assert_array_equal(group["0"][...], expected_of(path))


def test_native_pyramid_levels_are_served(real_server):
    srv, sources, _ = real_server
    path = TIFF / "cog.tif"
    group = zarr.open_group(f"{srv.url}/zarr/{sources[str(path.resolve())]}.ome.zarr", mode="r", zarr_format=2)
    with tifffile.TiffFile(path) as tif:
        for i, level in enumerate(tif.series[0].levels):
            np.testing.assert_array_equal(group[str(i)][0, 0, 0], level.asarray())


def test_voxel_sizes_from_metadata():
    with open_volume(TIFF / "mri-stack-16bit.tif")[1] as vol:  # ImageJ spacing=10 µm, 1 px/µm
        assert vol.voxel_size == (10.0, 1.0, 1.0)
    with open_volume(TIFF / "cells-2z.ome.tif")[1] as vol:  # OME-XML PhysicalSize
        assert vol.metadata["voxel_size_source"] == "ome-xml" and vol.voxel_size[1:] == (0.25, 0.25)


def test_bad_files_are_refused_at_scan(real_server):
    _, sources, report = real_server
    refused = {name for name, _ in report.refused}
    for bad in sorted((TIFF / "bad").iterdir()):
        assert f"bad/{bad.name}" in refused, bad.name
        assert str(bad.resolve()) not in sources
    for _, reason in report.refused:
        assert str(TIFF) not in reason


def test_ome_plane_pointing_past_the_file_is_refused_not_zeros():
    from readers.base import ReaderError

    with pytest.raises(ReaderError, match="missing"):
        open_volume(TIFF / "bad" / "dim5_badifd.ome.tif")


def test_region_read_touches_only_needed_tiles(monkeypatch):
    """A 10x10 region of a 256-px tiled COG decodes one tile, not 121."""
    from readers.resources import ReaderResources

    decoded = []
    _, vol = open_volume(TIFF / "cog.tif", resources=ReaderResources.create())  # no tile decoded yet
    with vol:
        from readers.tiff.volume import _handle

        level = vol.levels[0]
        keyframe = level._region(_handle(level.resources.handles, level.key, level.path, level.resources), 0).keyframe
        original = keyframe.decode

        def counting(data, index, **kw):
            decoded.append(index)
            return original(data, index, **kw)

        monkeypatch.setattr(type(keyframe), "decode", property(lambda self: counting), raising=False)
        vol.levels[0].read(0, 0, slice(0, 1), slice(300, 310), slice(300, 310))
        assert decoded == [12]  # tile row 1, column 1 of an 11x11 grid
        # a neighbouring region in the same tile: served from the decoded-tile cache, no new decode
        got = vol.levels[0].read(0, 0, slice(0, 1), slice(400, 500), slice(260, 300))
        assert decoded == [12]
    np.testing.assert_array_equal(got[0], tifffile.imread(TIFF / "cog.tif")[400:500, 260:300])


def test_home_page_lists_datasets(real_server):
    """Every registered sample appears on one of the search pages (20 a page, sorted by title, so which page
    holds a given id depends on where the data lives: ids are derived from paths)."""
    srv, sources, _ = real_server
    pages = -(-len(sources) // 20)
    listed = ""
    for number in range(1, pages + 1):
        page = httpx.get(srv.url + "/", params={"page": number})
        assert page.status_code == 200
        listed += page.text
    assert f"of {len(sources)} datasets" in listed
    assert [i for i in sources.values() if i not in listed] == []
