"""Uncompressed strips are read row by row: a small region never reads a whole-plane strip."""

from __future__ import annotations

import numpy as np
import tifffile

from readers.registry import open_volume


def test_region_of_a_whole_plane_strip_reads_only_its_rows(tmp_path, monkeypatch):
    data = np.arange(3 * 1024 * 512, dtype=np.uint16).reshape(3, 1024, 512)
    path = tmp_path / "slices"
    path.mkdir()
    for z, plane in enumerate(data):  # big-endian, one strip per plane, as many scanners write them
        tifffile.imwrite(path / f"z{z}.tif", plane, byteorder=">", rowsperstrip=1024)
    with tifffile.TiffFile(path / "z0.tif") as tif:
        assert len(tif.pages.first.dataoffsets) == 1
    _, vol = open_volume(path)
    with vol:
        sizes = []
        from tifffile import FileHandle

        real_read = FileHandle.read

        def spy(self, size=-1):
            sizes.append(size)
            return real_read(self, size)

        monkeypatch.setattr(FileHandle, "read", spy)
        got = vol.levels[0].read(0, 0, slice(1, 3), slice(100, 110), slice(7, 300))
    np.testing.assert_array_equal(got, data[1:3, 100:110, 7:300])
    assert max(sizes) == 10 * 512 * 2  # ten rows, not the 1 MiB strip
