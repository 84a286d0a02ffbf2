"""Conformance checks every reader's tests reuse (in the spirit of zarr's StoreTests).

Subclass :class:`ReaderTests`, provide the ``case`` fixture returning ``(path, expected)`` where
``expected`` is the full-resolution (t, c, z, y, x) array read by a reference library, and every
check below runs against your reader.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from readers.base import AXES, Level, Volume
from readers.registry import claimants, open_volume


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class ReaderTests:
    reader_name: str = ""

    @pytest.fixture
    def case(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def test_claims(self, case):
        path, _ = case
        assert self.reader_name in [p.name for p in claimants(path)]

    def test_level0_equals_reference(self, case):
        path, expected = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            assert isinstance(vol, Volume)
            assert len(vol.shape) == len(AXES)
            assert vol.shape == expected.shape
            assert vol.dtype == expected.dtype
            level = vol.levels[0]
            got = np.stack(
                [
                    np.stack([read_all(level, t, c) for c in range(vol.shape[1])])
                    for t in range(vol.shape[0])
                ]
            )
            np.testing.assert_array_equal(got, expected)

    def test_region_reads_match_full(self, case):
        path, expected = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            level = vol.levels[0]
            _, _, nz, ny, nx = level.shape
            rng = np.random.default_rng(0)
            for _ in range(5):
                z0, y0, x0 = (int(rng.integers(0, n)) for n in (nz, ny, nx))
                z1, y1, x1 = (int(rng.integers(a + 1, n + 1)) for a, n in ((z0, nz), (y0, ny), (x0, nx)))
                t, c = int(rng.integers(0, level.shape[0])), int(rng.integers(0, level.shape[1]))
                got = level.read(t, c, slice(z0, z1), slice(y0, y1), slice(x0, x1))
                np.testing.assert_array_equal(got, expected[t, c, z0:z1, y0:y1, x0:x1])

    def test_levels_are_consistent(self, case):
        path, _ = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            prev = None
            for level in vol.levels:
                assert level.dtype == vol.dtype
                assert level.shape[:2] == vol.shape[:2]
                assert all(v > 0 for v in level.voxel_size)
                if prev is not None:
                    assert all(a <= b for a, b in zip(level.shape[2:], prev.shape[2:], strict=True))
                    assert all(a >= b for a, b in zip(level.voxel_size, prev.voxel_size, strict=True))
                prev = level
            assert len(vol.channels) == vol.shape[1]

    def test_sampled_reads_match_strided_full_reads(self, case):
        path, _ = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            rng = np.random.default_rng(1)
            for level in vol.levels:
                t, c = level.shape[0] - 1, level.shape[1] - 1
                whole = read_all(level, t, c)
                for steps in ((1, 2, 3), (2, 1, 1), (3, 5, 2), (7, 7, 7)):
                    starts = [int(rng.integers(0, n)) for n in whole.shape]
                    region = [slice(a, n, s) for a, n, s in zip(starts, whole.shape, steps, strict=True)]
                    got = level.read_sampled(t, c, *region)
                    np.testing.assert_array_equal(got, whole[tuple(region)])

    def test_out_of_bounds_region_is_refused(self, case):
        path, _ = case
        _, vol = open_volume(path, self.reader_name)
        with vol:
            level = vol.levels[0]
            nz = level.shape[2]
            with pytest.raises(IndexError):
                level.read(0, 0, slice(0, nz + 1), slice(0, 1), slice(0, 1))

    def test_no_file_handles_left_open(self, case):
        path, _ = case
        from readers.resources import ReaderResources

        resources = ReaderResources.create()  # isolated: handles other tests keep open do not count
        before = open_fds()
        _, vol = open_volume(path, self.reader_name, resources)
        level = vol.levels[-1]
        level.read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
        vol.close()
        resources.close()
        assert open_fds() <= before


def read_all(level: Level, t: int, c: int) -> np.ndarray:
    _, _, nz, ny, nx = level.shape
    return level.read(t, c, slice(0, nz), slice(0, ny), slice(0, nx))
