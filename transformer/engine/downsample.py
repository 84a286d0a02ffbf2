"""Block reductions that make one pyramid level from the next finer one."""

from __future__ import annotations

import numpy as np


def mean(block: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Mean over (fz, fy, fx) blocks of a (z, y, x) array; partial edge blocks average what they have.

    Integers are rounded to nearest (half to even) so a level is a faithful, not a biased, mean.
    """
    if factors == (1, 1, 1):
        return block
    if np.issubdtype(block.dtype, np.integer) and block.dtype.itemsize <= 4 and not any(
        n % f for n, f in zip(block.shape, factors, strict=True)
    ):
        return _integer_mean(block, factors)
    padded_shape = tuple(-(-n // f) * f for n, f in zip(block.shape, factors, strict=True))
    work = np.zeros(padded_shape, dtype=np.float64)
    work[: block.shape[0], : block.shape[1], : block.shape[2]] = block
    out_shape = tuple(n // f for n, f in zip(padded_shape, factors, strict=True))
    fz, fy, fx = factors
    sums = work.reshape(out_shape[0], fz, out_shape[1], fy, out_shape[2], fx).sum(axis=(1, 3, 5))
    counts = np.outer(
        np.outer(_counts(block.shape[0], fz), _counts(block.shape[1], fy)), _counts(block.shape[2], fx)
    ).reshape(out_shape)
    result = sums / counts
    if np.issubdtype(block.dtype, np.integer):
        info = np.iinfo(block.dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(block.dtype)
    return result.astype(block.dtype)


def _integer_mean(block: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Whole blocks of integers: exact integer sums, then round half to even without floats."""
    return mean_of_sums(sums(block, factors), int(np.prod(factors)), block.dtype)


def summable(dtype: np.dtype) -> bool:
    """Whether :func:`sums` of ``dtype`` are exact, so a mean may be finished from sums of its parts."""
    return np.issubdtype(dtype, np.integer) and np.dtype(dtype).itemsize <= 4


def sum_dtype(dtype: np.dtype) -> np.dtype:
    """The integers :func:`sums` of ``dtype`` are exact in: 8 uint16 fit in int32, 8 uint32 do not."""
    return np.dtype(np.int32 if np.dtype(dtype).itemsize <= 2 else np.int64)


def sums(block: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Exact integer sums over (fz, fy, fx) groups of a (z, y, x) integer array; a partial edge group sums
    the voxels it has. Sums of the parts of a group add up to the group's sum: a mean can be finished
    later from parts read apart (one plane of a pair, say)."""
    wide = sum_dtype(block.dtype)
    if any(n % f for n, f in zip(block.shape, factors, strict=True)):  # zeros add nothing to a sum
        block = np.pad(block, [(0, -n % f) for n, f in zip(block.shape, factors, strict=True)])
    total = block
    for axis, f in enumerate(factors):  # pairwise adds of strided views: fast, contiguous output
        if f > 1:
            parts = [total[(slice(None),) * axis + (slice(i, None, f),)] for i in range(f)]
            # widened by the first add, not by a copy of the whole block first (5x faster on a 512x1024 plane)
            acc = np.add(parts[0], parts[1], dtype=wide)
            for part in parts[2:]:
                acc += part
            total = acc
    return total.astype(wide, copy=False)


def mean_of_sums(total: np.ndarray, counts: np.ndarray | int, dtype: np.dtype) -> np.ndarray:
    """``total / counts`` rounded half to even, in integers (the rounding of :func:`mean`)."""
    if np.ndim(counts) == 0 and counts > 0 and not counts & (counts - 1):
        # one power-of-two count (every whole 2x2x2 group): shifts, no division (7x faster than divmod).
        # floor((total + count/2 - 1 + odd) / count), odd = the parity of the floored quotient: half to even
        k = int(counts).bit_length() - 1
        if k == 0:
            return total.astype(dtype)
        rounded = total >> k  # in place from here: one temporary the size of total
        rounded &= 1
        rounded += total
        rounded += (1 << (k - 1)) - 1
        rounded >>= k
        return rounded.astype(dtype, copy=False)
    q, r = np.divmod(total, counts)
    q += (2 * r > counts) | ((2 * r == counts) & (q % 2 == 1))
    return q.astype(dtype)


def group_counts(n: int, f: int, groups: range) -> np.ndarray:
    """How many of ``n`` voxels fall in each of ``groups`` (indices of groups of ``f``) along one axis."""
    return np.minimum(f, n - np.arange(groups.start, groups.stop, groups.step, dtype=np.int64) * f)


def _counts(n: int, f: int) -> np.ndarray:
    """How many source voxels fall in each output voxel along one axis."""
    full, rest = divmod(n, f)
    return np.array([f] * full + ([rest] if rest else []), dtype=np.float64)


def mode(block: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Most frequent label of each block (ties: the smallest label), for segmentation volumes."""
    if factors == (1, 1, 1):
        return block
    nz, ny, nx = (-(-n // f) for n, f in zip(block.shape, factors, strict=True))
    out = np.empty((nz, ny, nx), dtype=block.dtype)
    fz, fy, fx = factors
    for k in range(nz):
        for j in range(ny):
            cells = block[k * fz : (k + 1) * fz, j * fy : (j + 1) * fy].reshape(-1, block.shape[2])
            for i in range(nx):
                values, counts = np.unique(cells[:, i * fx : (i + 1) * fx], return_counts=True)
                out[k, j, i] = values[np.argmax(counts)]
    return out
