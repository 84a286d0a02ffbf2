"""The reader conformance suite, shipped with the package so that any reader plugin can run it.

Subclass :class:`ReaderTests` in your plugin's tests (pytest collects the subclass), set
``reader_name`` to your plugin's registered name, and give it a ``case`` fixture returning
``(path, expected)``: ``expected`` is the full-resolution (t, c, z, y, x) array of that source as
read by a reference library. Every check below then runs against your reader::

    import pytest
    from readers.testing import ReaderTests

    class TestMyReader(ReaderTests):
        reader_name = "myformat"

        @pytest.fixture(params=["small.myf", "two-channels.myf"])
        def case(self, request, tmp_path):
            path = write_sample(tmp_path / request.param)   # your generated data
            return path, reference_array(path)

The plugin must be installed (its entry point registered) so that discovery finds it. Needs pytest,
which the package itself does not depend on: import this module from tests only.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from readers.base import AXES, Level, LevelGeometry, Volume
from readers.registry import claimants, open_volume


def open_fds() -> int:
    """File descriptors this process has open (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def read_all(level: Level, t: int, c: int) -> np.ndarray:
    """The whole (z, y, x) of one time point and channel of ``level``."""
    _, _, nz, ny, nx = level.shape
    return level.read(t, c, slice(0, nz), slice(0, ny), slice(0, nx))


class ReaderTests:
    """Checks every reader must pass; see the module docstring for how to use them."""

    reader_name: str = ""

    @pytest.fixture
    def case(self):  # pragma: no cover - overridden
        raise NotImplementedError("give the subclass a `case` fixture returning (path, expected_tczyx)")

    @pytest.fixture
    def volume(self, case):
        """The case opened by this reader, closed after the test."""
        path, _ = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            yield vol

    def test_claims(self, case):
        path, _ = case
        assert self.reader_name in [p.name for p in claimants(path)]

    def test_level0_equals_reference(self, case, volume):
        _, expected = case
        assert isinstance(volume, Volume)
        assert len(volume.shape) == len(AXES)
        assert volume.shape == expected.shape
        assert volume.dtype == expected.dtype
        level = volume.levels[0]
        got = np.stack([np.stack([read_all(level, t, c) for c in range(volume.shape[1])])
                        for t in range(volume.shape[0])])
        np.testing.assert_array_equal(got, expected)

    def test_region_reads_match_full(self, case, volume):
        _, expected = case
        level = volume.levels[0]
        _, _, nz, ny, nx = level.shape
        rng = np.random.default_rng(0)
        for _ in range(5):
            z0, y0, x0 = (int(rng.integers(0, n)) for n in (nz, ny, nx))
            z1, y1, x1 = (int(rng.integers(a + 1, n + 1)) for a, n in ((z0, nz), (y0, ny), (x0, nx)))
            t, c = int(rng.integers(0, level.shape[0])), int(rng.integers(0, level.shape[1]))
            got = level.read(t, c, slice(z0, z1), slice(y0, y1), slice(x0, x1))
            np.testing.assert_array_equal(got, expected[t, c, z0:z1, y0:y1, x0:x1])

    def test_levels_are_consistent(self, volume):
        prev = None
        for level in volume.levels:
            assert isinstance(level.geometry, LevelGeometry)  # validated when the level was made
            assert level.dtype == volume.dtype
            assert level.shape[:2] == volume.shape[:2]
            assert level.read_cost() >= level.geometry.voxel_bytes
            if prev is not None:
                assert all(a <= b for a, b in zip(level.shape[2:], prev.shape[2:], strict=True))
                assert all(a >= b for a, b in zip(level.voxel_size, prev.voxel_size, strict=True))
            prev = level
        assert len(volume.channels) == volume.shape[1]

    def test_sampled_reads_match_strided_full_reads(self, volume):
        rng = np.random.default_rng(1)
        for level in volume.levels:
            t, c = level.shape[0] - 1, level.shape[1] - 1
            whole = read_all(level, t, c)
            for steps in ((1, 2, 3), (2, 1, 1), (3, 5, 2), (7, 7, 7)):
                starts = [int(rng.integers(0, n)) for n in whole.shape]
                region = [slice(a, n, s) for a, n, s in zip(starts, whole.shape, steps, strict=True)]
                got = level.read_sampled(t, c, *region)
                np.testing.assert_array_equal(got, whole[tuple(region)])

    def test_out_of_bounds_region_is_refused(self, volume):
        level = volume.levels[0]
        nt, nc, nz, ny, nx = level.shape
        inside = (slice(0, 1), slice(0, 1), slice(0, 1))
        for t, c, region in (
            (0, 0, (slice(0, nz + 1), slice(0, 1), slice(0, 1))),
            (0, 0, (slice(0, 1), slice(ny, ny + 1), slice(0, 1))),
            (0, 0, (slice(0, 1), slice(0, 1), slice(-1, 1))),
            (nt, 0, inside),
            (0, nc, inside),
        ):
            with pytest.raises(IndexError):
                level.read(t, c, *region)
            with pytest.raises(IndexError):
                level.read_sampled(t, c, *region)

    def test_voxel_size_override_keeps_data_and_cost(self, volume):
        for level in volume.levels:
            bigger = tuple(2.5 * v for v in level.voxel_size)
            other = level.with_voxel_size(bigger)
            assert other.voxel_size == pytest.approx(bigger)
            assert (other.shape, other.dtype, other.read_chunks) == (level.shape, level.dtype, level.read_chunks)
            assert other.read_cost() == level.read_cost()
            if level.origin is not None:
                assert other.origin == pytest.approx(tuple(2.5 * o for o in level.origin))
            region = tuple(slice(0, min(n, 3)) for n in level.shape[2:])
            np.testing.assert_array_equal(other.read(0, 0, *region), level.read(0, 0, *region))

    def test_no_file_handles_left_open(self, case):
        path, _ = case
        from readers.resources import ReaderResources

        resources = ReaderResources.create()  # isolated: handles other tests keep open do not count
        before = open_fds()
        _, vol = open_volume(path, self.reader_name, resources)
        level = vol.levels[-1]
        level.read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
        vol.close()
        assert open_fds() <= before  # the volume's closers released its own handles
        vol.close()  # closing twice is harmless
        resources.close()
