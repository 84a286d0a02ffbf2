"""A TIFF that opens but whose series cannot be read is refused, and its file is closed (issue 22 item 7): the
open TiffFile used to stay open, one file descriptor leaked per attempt (a rescan or recheck retries)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from readers.base import UnsupportedSource
from readers.registry import open_volume


def open_fds_on(path: Path) -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:  # closed meanwhile (e.g. the listing's own descriptor)
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc")
def test_a_tiff_whose_series_fail_is_refused_and_closed(tmp_path):
    path = tmp_path / "broken.tif"
    with tifffile.TiffWriter(path) as w:
        for _ in range(3):
            w.write(np.zeros((8, 8), np.uint8), contiguous=False, metadata=None)
    with tifffile.TiffFile(path) as tif:
        second = tif.pages[1].offset
    raw = bytearray(path.read_bytes())
    struct.pack_into("<H", raw, second, 0xFFFF)  # the second page's tag count: the header opens, its series fail
    path.write_bytes(bytes(raw))
    for _ in range(3):
        with pytest.raises(UnsupportedSource, match="broken.tif: not a readable TIFF"):
            open_volume(path)
    assert open_fds_on(path) == 0
