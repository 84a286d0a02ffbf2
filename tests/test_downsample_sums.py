"""The integer fast paths of the block mean (transformer/engine/downsample.py): sums widened as they add, and
a power-of-two count divided by shifts, against the plain divmod and a float oracle, negatives and exact halves
included."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import reference_mean
from transformer.engine.downsample import mean, mean_of_sums, sum_dtype, sums


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("count", [1, 2, 4, 8, 16, 64])
def test_a_power_of_two_count_rounds_like_divmod_half_to_even(dtype, count):
    total = np.arange(-5 * count - 3, 5 * count + 4, dtype=dtype)  # every remainder, both signs
    shifted = mean_of_sums(total, count, np.int64)
    divided = mean_of_sums(total, np.full(total.shape, count), np.int64)  # the general (divmod) path
    np.testing.assert_array_equal(shifted, divided)
    halves = total[total % count == count // 2] if count > 1 else total[:0]
    # exact halves go to the even neighbour, as np.rint does
    np.testing.assert_array_equal(mean_of_sums(halves, count, np.int64), np.rint(halves / count).astype(np.int64))


def test_a_count_that_is_not_a_power_of_two_still_divides():
    total = np.array([-7, -6, -5, 5, 6, 7, 9], np.int32)
    np.testing.assert_array_equal(mean_of_sums(total, 6, np.int32), np.rint(total / 6).astype(np.int32))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32])
@pytest.mark.parametrize("factors", [(1, 2, 2), (2, 2, 2), (3, 1, 2), (1, 1, 1)])
def test_sums_are_exact_in_their_wide_type_at_the_extremes(dtype, factors):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    block = rng.choice(np.array([info.min, info.max, 0, 1], dtype=dtype), size=(5, 6, 7))
    got = sums(block, factors)
    assert got.dtype == sum_dtype(dtype)
    padded = np.pad(block.astype(np.int64), [(0, -n % f) for n, f in zip(block.shape, factors, strict=True)])
    fz, fy, fx = factors
    z, y, x = (n // f for n, f in zip(padded.shape, factors, strict=True))
    np.testing.assert_array_equal(got, padded.reshape(z, fz, y, fy, x, fx).sum(axis=(1, 3, 5)))
    if block.shape[0] % fz == 0 and block.shape[1] % fy == 0 and block.shape[2] % fx == 0:
        np.testing.assert_array_equal(mean(block, factors), reference_mean(block, factors))
