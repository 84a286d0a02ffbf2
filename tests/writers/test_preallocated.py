"""writers/preallocated.py and the HDF5 cutout writer on a disk without room: the space is taken before HDF5
writes, so a refusal is an ordinary error and the process goes on writing HDF5 files (a write that failed
inside HDF5 made the next HDF5 file of the process crash it with SIGSEGV)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

import h5py
import numpy as np

from tests.helpers import REPO
from writers.preallocated import Preallocated


def test_the_writer_sees_an_empty_file_and_the_file_ends_where_it_wrote(tmp_path):
    path = tmp_path / "f.bin"
    with path.open("w+b") as raw:
        f = Preallocated(raw.fileno(), 1 << 20)
        assert os.fstat(raw.fileno()).st_size == 1 << 20  # taken on disk
        assert (f.seek(0, 2), f.tell(), f.read()) == (0, 0, b"")
        assert f.write(b"abcdef") == 6
        f.seek(2)
        assert f.read(3) == b"cde" and f.read(100) == b"f"
        f.seek(10)
        f.write(b"xy")
        assert f.seek(0, 2) == 12
        f.truncate(11)
        assert f.seek(0, 2) == 11
        f.finish()
    assert path.read_bytes() == b"abcdef\0\0\0\0x"


def test_h5py_writes_through_it(tmp_path):
    path = tmp_path / "f.h5"
    data = np.arange(300 * 200, dtype=np.uint16).reshape(300, 200)
    with path.open("w+b") as raw:
        space = Preallocated(raw.fileno(), 4 << 20)
        with h5py.File(space, "w") as f:
            f.create_dataset("d", data=data, chunks=(64, 64))
        space.finish()
    assert path.stat().st_size < 200_000  # cut to what HDF5 wrote
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["d"][...], data)


SCRIPT = textwrap.dedent("""
    import threading
    from pathlib import Path
    import numpy as np
    from writers.cutout import Box, Physical, StorageFull, write_file

    volume = np.ones((1, 1, 70, 300, 261), np.uint16)
    meta = Physical((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), ("a",), "x")
    whole = Box(0, tuple(slice(0, n) for n in volume.shape))
    for i in range(3):
        try:
            write_file("h5", Path(f"big{i}.h5"), whole, np.uint16, lambda t, c, z, y: volume[t, c, z, y], meta,
                       threading.Event())
        except StorageFull as exc:
            print("refused:", exc)
    small = Box(0, (slice(0, 1), slice(0, 1), slice(0, 2), slice(0, 8), slice(0, 8)))
    write_file("h5", Path("small.h5"), small, np.uint16, lambda t, c, z, y: volume[t, c, z, y, :8], meta,
               threading.Event())
    print("written")
""")


def test_a_full_disk_refuses_hdf5_files_and_the_process_goes_on(tmp_path):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["refused: writing the file failed: File too large"] * 3 + ["written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.h5"]  # no partial file left
    with h5py.File(tmp_path / "small.h5", "r") as f:
        assert f["data"].shape == (1, 1, 2, 8, 8) and int(f["data"][...].sum()) == 128
