"""Uncompressed strips are read row by row: a small region never reads a whole-plane strip."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from tifffile import FileHandle

from readers.registry import open_volume
from readers.tiff import volume


@pytest.mark.parametrize("mapped", [True, False], ids=["mmap", "seek-read"])
def test_region_of_a_whole_plane_strip_reads_only_its_rows(tmp_path, monkeypatch, mapped):
    data = np.arange(3 * 1024 * 512, dtype=np.uint16).reshape(3, 1024, 512)
    path = tmp_path / "slices"
    path.mkdir()
    for z, plane in enumerate(data):  # big-endian, one strip per plane, as many scanners write them
        tifffile.imwrite(path / f"z{z}.tif", plane, byteorder=">", rowsperstrip=1024)
    with tifffile.TiffFile(path / "z0.tif") as tif:
        assert len(tif.pages.first.dataoffsets) == 1
    if not mapped:
        monkeypatch.setattr(volume._Handle, "mapped", lambda self, p: None)
    _, vol = open_volume(path)
    with vol:
        sizes = []
        real_read = FileHandle.read

        def spy(self, size=-1):
            sizes.append(size)
            return real_read(self, size)

        monkeypatch.setattr(FileHandle, "read", spy)
        got = vol.levels[0].read(0, 0, slice(1, 3), slice(100, 110), slice(7, 300))
    np.testing.assert_array_equal(got, data[1:3, 100:110, 7:300])
    if mapped:
        assert sizes == []  # copied out of the memory map: only the region's pages are touched
    else:
        assert max(sizes) == 10 * 512 * 2  # ten rows, not the 1 MiB strip


def test_truncated_raw_strip_is_a_source_error(tmp_path):
    from readers.base import ReaderError

    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, np.ones((256, 256), np.uint16), rowsperstrip=256)
    raw = path.read_bytes()
    _, vol = open_volume(path)
    path.write_bytes(raw[: len(raw) // 2])  # cut after registration
    with vol, pytest.raises(ReaderError):
        vol.levels[0].read(0, 0, slice(0, 1), slice(200, 256), slice(0, 10))


def test_file_truncated_while_mapped_is_a_source_error_not_a_crash(tmp_path):
    from readers.base import ReaderError

    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, np.ones((256, 256), np.uint16), rowsperstrip=256)
    raw = path.read_bytes()
    _, vol = open_volume(path)
    with vol:
        vol.levels[0].read(0, 0, slice(0, 1), slice(0, 8), slice(0, 8))  # the map now exists
        with open(path, "r+b") as fh:
            fh.truncate(len(raw) // 2)
        with pytest.raises(ReaderError):
            vol.levels[0].read(0, 0, slice(0, 1), slice(200, 256), slice(0, 10))
