"""Plain decimal tables parsed by numpy over whole byte arrays: no Python per row, no per-field C call.

A block qualifies when every line has the same number of fields, split by one delimiter byte, and every
field is empty or a plain decimal: an optional sign, digits with at most one '.', at most 15 digits (no
spaces, quotes, exponents, nan or text). That is what instruments and ``np.savetxt`` write, and it is parsed
here at about the speed of pandas' C reader. Anything else returns None and the caller's general parser
reads the block.

Exact: a field's digits form an integer m < 10**15 < 2**53 (summed in float64 without rounding, every partial
sum being an integer below 2**53) and the value is m / 10**f with f <= 15 fraction digits; both are exact
doubles and IEEE division rounds once, so the result is the correctly rounded value of the decimal, the
same double ``float(text)`` gives.
"""

from __future__ import annotations

import numpy as np

MAX_DIGITS = 15  # 10**15 < 2**53: the digits sum exactly
_POW10 = 10.0 ** np.arange(MAX_DIGITS + 1)


def parse_plain(block: bytes, delimiter: str, ncols: int) -> np.ndarray | None:
    """float64 (rows, ncols) of a block of complete '\\n'-terminated lines, empty fields as nan; None when a
    line or a field is not plain (see the module docstring)."""
    if len(delimiter) != 1 or ord(delimiter) > 127 or not block or block[-1:] != b"\n":
        return None
    b = np.frombuffer(block, dtype=np.uint8)
    value = b - np.uint8(48)  # a digit's value; other bytes wrap around above 9
    is_digit = value < 10
    is_end = (b == ord(delimiter)) | (b == 10)  # a field's terminator
    is_dot = b == 46
    is_sign = (b == 45) | (b == 43)
    if not (is_digit | is_end | is_dot | is_sign).all():
        return None  # spaces, quotes, letters (exponents, nan, text)
    ends = np.flatnonzero(is_end)
    lines = len(ends) // ncols
    if len(ends) != lines * ncols or (b[ends[ncols - 1 :: ncols]] != 10).any():
        return None  # ragged lines or blank lines (then the newlines are not every ncols-th terminator)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1

    before = np.zeros(len(b) + 1, dtype=np.intp)  # before[p]: digits in b[:p]
    np.cumsum(is_digit, out=before[1:])
    digits = before[ends] - before[starts]
    if int(digits.max()) > MAX_DIGITS:
        return None
    empty = ends == starts
    if (~empty & (digits == 0)).any():
        return None  # "-", ".", "+." ...
    # a digit's power of ten is the number of digits after it in its field
    after = np.repeat(before[ends], np.diff(np.r_[starts, len(b)]))
    after -= before[1:]
    weight = _POW10[after]
    weight *= np.where(is_digit, value, np.uint8(0))
    mantissa = np.add.reduceat(weight, starts)

    fraction = np.zeros(len(ends), dtype=np.intp)
    dots = np.flatnonzero(is_dot)
    if len(dots):
        field = np.cumsum(is_end, dtype=np.intp)[dots]  # terminators before a dot: its field
        if (field[1:] == field[:-1]).any():
            return None  # two dots in one field
        fraction[field] = before[ends[field]] - before[dots]
    values = mantissa / _POW10[fraction]
    signs = np.flatnonzero(is_sign)
    if len(signs):
        field = np.searchsorted(ends, signs)
        if (starts[field] != signs).any():
            return None  # a sign inside a field ("1-2", "--1")
        negative = field[b[signs] == 45]
        values[negative] = -values[negative]
    values[empty] = np.nan
    return values.reshape(lines, ncols)
