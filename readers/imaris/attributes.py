"""Decoding Imaris attributes, which are text stored as arrays of 1-byte strings.

Imaris writes every attribute, numbers included, as a 1-D array of ``|S1`` characters
(``array([b'1', b'2', b'8'], dtype='|S1')``). Real files add stray NULs (``'0.100000000\\x00'``)
and sometimes bytes that are not UTF-8 (PtK2Cell's ``Filename``), and other writers store plain
scalars or variable-length strings, so decoding must accept anything and never raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def decode_text(value: Any) -> str:
    """Text of an attribute value of any storage kind; undecodable bytes become U+FFFD."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes | np.bytes_):
        text = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, np.ndarray) and value.dtype.kind == "S":
        # tobytes() joins the characters; it keeps b'' elements as NUL padding, stripped below
        text = value.tobytes().decode("utf-8", errors="replace")
    elif isinstance(value, np.ndarray) and value.dtype.kind in "OU":
        text = "".join(decode_text(v) for v in value.ravel())
    elif isinstance(value, np.ndarray) and value.size == 1:
        text = str(value.ravel()[0].item())
    elif isinstance(value, np.generic):
        text = str(value.item())
    else:
        text = str(value)
    # NUL terminators appear mid-array too; everything from the first NUL on is padding
    return text.split("\x00", 1)[0].strip()


def text(attrs: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """Decoded attribute ``name`` or ``default`` when it is missing, empty or unreadable."""
    try:
        if name not in attrs:
            return default
        value = decode_text(attrs[name])
    except Exception:  # noqa: BLE001 - an unreadable attribute is as good as a missing one
        return default
    return value if value else default


def number(attrs: Mapping[str, Any], name: str, default: float | None = None) -> float | None:
    """Attribute ``name`` parsed as a finite float (numbers are stored as text)."""
    raw = text(attrs, name)
    if raw is None:
        return default
    try:
        value = float(raw.split()[0])
    except (ValueError, IndexError):
        return default
    return value if math.isfinite(value) else default


def integer(attrs: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    """Attribute ``name`` parsed as an int (tolerates ``"128.000"``)."""
    value = number(attrs, name)
    if value is None or value != int(value):
        return default
    return int(value)


def numbers(attrs: Mapping[str, Any], name: str) -> list[float] | None:
    """Whitespace-separated floats such as ``Color="1.000 0.000 0.000"``; None if any is bad."""
    raw = text(attrs, name)
    if raw is None:
        return None
    try:
        values = [float(v) for v in raw.split()]
    except ValueError:
        return None
    return values if values and all(math.isfinite(v) for v in values) else None
