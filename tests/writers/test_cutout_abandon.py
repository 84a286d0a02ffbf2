"""writers.cutout.write_file without a server: a file nobody waits for any more stops being written at the
next slab and is deleted; a finished one is complete."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import pytest
import tifffile

from writers import cutout
from writers.cutout import Abandoned, Physical, parse_box, write_file

META = Physical((2.0, 1.0, 1.0), (0.0, 0.0, 0.0), ("ch0",), "abandon")
VOLUME = np.arange(20 * 16 * 24, dtype=np.uint16).reshape(1, 1, 20, 16, 24)


def _box():
    return parse_box(0, {}, VOLUME.shape)


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_a_stopped_file_is_no_longer_read_and_is_deleted(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 2 * 16 * 24 * 2)  # two planes a slab: ten slabs
    stop, reads = threading.Event(), []

    def read(t, c, z, y):
        reads.append(z.start)
        if len(reads) == 2:
            stop.set()  # what the route does when the client disconnects
        return VOLUME[t, c, z, y]

    path = tmp_path / f"box{cutout.FORMATS[fmt]}"
    with pytest.raises(Abandoned):
        write_file(fmt, path, _box(), np.uint16, read, META, stop)
    assert reads == [0, 2]
    assert not path.exists()


def test_a_failing_read_deletes_the_partial_file(tmp_path):
    def read(t, c, z, y):
        raise OSError("the source vanished")

    path = tmp_path / "box.h5"
    with pytest.raises(OSError, match="vanished"):
        write_file("h5", path, _box(), np.uint16, read, META, threading.Event())
    assert not path.exists()


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_an_unstopped_file_is_complete(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 2 * 16 * 24 * 2)
    path = tmp_path / f"box{cutout.FORMATS[fmt]}"
    write_file(fmt, path, _box(), np.uint16, lambda t, c, z, y: VOLUME[t, c, z, y], META, threading.Event())
    if fmt == "tiff":
        data = tifffile.imread(path).reshape(VOLUME.shape)
    else:
        with h5py.File(path) as f:
            data = f["data"][...]
    np.testing.assert_array_equal(data, VOLUME)
