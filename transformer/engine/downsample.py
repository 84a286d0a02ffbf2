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


def sums(block: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Exact integer sums over (fz, fy, fx) groups of a (z, y, x) integer array; a partial edge group sums
    the voxels it has. Sums of the parts of a group add up to the group's sum: a mean can be finished
    later from parts read apart (one plane of a pair, say)."""
    wide = np.int32 if block.dtype.itemsize <= 2 else np.int64  # 8 uint16 fit in int32, 8 uint32 do not
    if any(n % f for n, f in zip(block.shape, factors, strict=True)):  # zeros add nothing to a sum
        block = np.pad(block, [(0, -n % f) for n, f in zip(block.shape, factors, strict=True)])
    total = block.astype(wide)
    for axis, f in enumerate(factors):  # pairwise adds of strided views: fast, contiguous output
        if f > 1:
            parts = [total[(slice(None),) * axis + (slice(i, None, f),)] for i in range(f)]
            total = sum(parts[1:], parts[0])
    return total


def mean_of_sums(total: np.ndarray, counts: np.ndarray | int, dtype: np.dtype) -> np.ndarray:
    """``total / counts`` rounded half to even, in integers (the rounding of :func:`mean`)."""
    q, r = np.divmod(total, counts)
    q += (2 * r > counts) | ((2 * r == counts) & (q % 2 == 1))
    return q.astype(dtype)


def group_counts(n: int, f: int, groups: range) -> np.ndarray:
    """How many of ``n`` voxels fall in each of ``groups`` (indices of groups of ``f``) along one axis."""
    return np.array([min(f, n - i * f) for i in groups], dtype=np.int64)


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
