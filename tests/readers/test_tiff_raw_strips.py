"""Uncompressed strips are read row by row: a small region never reads a whole-plane strip."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import tifffile

from readers.registry import open_volume
from readers.resources import ReaderResources
from readers.tiff import segments


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
        real_pread = segments._pread

        def spy(fh, offset, size):
            sizes.append(size)
            return real_pread(fh, offset, size)

        monkeypatch.setattr(segments, "_pread", spy)
        got = vol.levels[0].read(0, 0, slice(1, 3), slice(100, 110), slice(7, 300))
    np.testing.assert_array_equal(got, data[1:3, 100:110, 7:300])
    assert sizes == [10 * 512 * 2] * 2  # ten rows of each of two slices, not the 1 MiB strips


def test_truncated_raw_strip_is_a_source_error(tmp_path):
    from readers.base import ReaderError

    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, np.ones((256, 256), np.uint16), rowsperstrip=256)
    raw = path.read_bytes()
    _, vol = open_volume(path)
    path.write_bytes(raw[: len(raw) // 2])  # cut after registration
    with vol, pytest.raises(ReaderError):
        vol.levels[0].read(0, 0, slice(0, 1), slice(200, 256), slice(0, 10))


def test_strip_cut_under_an_open_page_reads_short_and_is_a_source_error(tmp_path):
    """The race the identity check cannot close (cut between the check and the read): the read comes
    back short and is refused; with a memory map this touched pages past the end of file (SIGBUS)."""
    from readers.base import SourceError

    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, np.arange(256 * 256, dtype=np.uint16).reshape(256, 256), rowsperstrip=256)
    raw = path.read_bytes()
    with tifffile.TiffFile(path) as tif:
        region = segments.PageRegion(tif.pages.first, threading.RLock(), ReaderResources.create())
        np.testing.assert_array_equal(region.read(0, slice(0, 1), slice(250, 256), slice(0, 4))[0],
                                      np.arange(256 * 256, dtype=np.uint16).reshape(256, 256)[250:, :4])
        with open(path, "r+b") as fh:
            fh.truncate(len(raw) // 2)
        with pytest.raises(SourceError, match="truncated"):
            region.read(0, slice(0, 1), slice(200, 256), slice(0, 10))


def test_changed_file_is_refused_and_its_handle_let_go(tmp_path):
    """A file re-copied while open: its parsed offsets no longer describe it, so reads are refused
    (never a mix of old layout and new bytes) and the pool drops the handle instead of keeping it."""
    from readers.base import SourceError

    path = tmp_path / "raw.tif"
    tifffile.imwrite(path, np.ones((64, 64), np.uint16), rowsperstrip=64)
    resources = ReaderResources.create()
    _, vol = open_volume(path, resources=resources)
    with vol:
        vol.levels[0].read(0, 0, slice(0, 1), slice(0, 8), slice(0, 8))
        assert ("tiff", str(path)) in resources.handles
        tifffile.imwrite(path, np.full((64, 64), 7, np.uint16), rowsperstrip=64)
        with pytest.raises(SourceError, match="raw.tif: the file changed while being served"):
            vol.levels[0].read(0, 0, slice(0, 1), slice(0, 8), slice(0, 8))
        assert ("tiff", str(path)) not in resources.handles
        path.unlink()
        with pytest.raises(SourceError, match="raw.tif: the file is gone"):
            vol.levels[0].read(0, 0, slice(0, 1), slice(0, 8), slice(0, 8))


def _spy_preads(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real_pread = segments._pread

    def spy(fh, offset, size):
        sizes.append(size)
        return real_pread(fh, offset, size)

    monkeypatch.setattr(segments, "_pread", spy)
    return sizes


def test_narrow_raw_rows_are_the_read_unit_and_are_read_whole(tmp_path, monkeypatch):
    """A 4 KiB row is one storage page and copying it costs less than a second pread: a column span of it
    reads the rows whole, and the reader says so (read_chunks: whole rows), so chunks span the row."""
    data = np.arange(2 * 64 * 2048, dtype=np.uint16).reshape(2, 64, 2048)
    path = tmp_path / "narrow"
    path.mkdir()
    for z, plane in enumerate(data):
        tifffile.imwrite(path / f"z{z}.tif", plane)
    _, vol = open_volume(path)
    with vol:
        assert vol.levels[0].read_chunks == (1, 1, 2048)
        sizes = _spy_preads(monkeypatch)
        got = vol.levels[0].read(0, 0, slice(0, 2), slice(3, 40), slice(600, 664))
    np.testing.assert_array_equal(got, data[:, 3:40, 600:664])
    assert sizes == [37 * 2048 * 2] * 2


def test_wide_raw_rows_read_only_the_column_span_of_each_row(tmp_path, monkeypatch):
    """A 16 KiB row (8192 uint16): a narrow span of it is read row by row, only its bytes; a span that
    leaves less than SPAN_GAP of the row is read whole. Any column is then a read unit."""
    data = np.arange(3 * 20 * 8192, dtype=np.uint32).astype(np.uint16).reshape(3, 20, 8192)
    path = tmp_path / "wide.tif"
    tifffile.imwrite(path, data, byteorder=">", photometric="minisblack")  # big-endian, a strip per page
    _, vol = open_volume(path)
    with vol:
        level = vol.levels[0]
        assert level.read_chunks == (1, 1, 1)
        sizes = _spy_preads(monkeypatch)
        got = level.read(0, 0, slice(1, 3), slice(2, 12), slice(4000, 4512))
        np.testing.assert_array_equal(got, data[1:3, 2:12, 4000:4512])
        assert sizes == [512 * 2] * 20  # ten rows of two pages, 1 KiB each: not 16 KiB rows
        sizes.clear()
        strided = level.read_sampled(0, 0, slice(0, 3, 2), slice(1, 20, 3), slice(8001, 8190, 7))
        np.testing.assert_array_equal(strided, data[0:3:2, 1:20:3, 8001:8190:7])
        assert sizes == [(8183 + 1 - 8001) * 2] * (2 * 7)  # the span of the columns sampled, each row sampled
        sizes.clear()
        np.testing.assert_array_equal(level.read(0, 0, slice(0, 1), slice(0, 4), slice(10, 8000)),
                                      data[0:1, 0:4, 10:8000])
        assert sizes == [4 * 8192 * 2]  # a span missing less than SPAN_GAP: the four rows whole, one read
    assert segments.SPAN_GAP == 8 << 10


def test_sampled_rows_read_through_small_skips_and_row_by_row_past_span_gap(tmp_path, monkeypatch):
    """Every 2nd 4 KiB row: the skipped rows cost less than a pread each, so the run is one read; every
    3rd row skips 8 KiB (SPAN_GAP): one read per row, the rows between never touched."""
    data = np.arange(2 * 50 * 2048, dtype=np.uint32).astype(np.uint16).reshape(2, 50, 2048)
    path = tmp_path / "rows.tif"
    tifffile.imwrite(path, data, photometric="minisblack", rowsperstrip=32)  # two strips per page
    _, vol = open_volume(path)
    with vol:
        level = vol.levels[0]
        sizes = _spy_preads(monkeypatch)
        got = level.read_sampled(0, 0, slice(0, 2, 1), slice(3, 47, 2), slice(0, 2048, 2))
        np.testing.assert_array_equal(got, data[:, 3:47:2, ::2])
        # rows 3..31 (15 sampled, 29 read) in strip 0 and 33..45 (7 sampled, 13 read) in strip 1, per page
        assert sizes == [29 * 4096, 13 * 4096] * 2
        sizes.clear()
        got = level.read_sampled(0, 0, slice(1, 2, 1), slice(1, 50, 3), slice(100, 300, 1))
        np.testing.assert_array_equal(got, data[1:2, 1:50:3, 100:300])
        assert sizes == [4096] * 17
