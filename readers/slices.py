"""Folders of 2-D slices, shared by the slice-stack readers: which files are slices, and their z order."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

_NUMBERS = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """Case-insensitive sort key that orders embedded numbers by value, so ``z2`` comes before ``z10``."""
    return [int(part) if part.isdigit() else part for part in _NUMBERS.split(name.lower())]


def _slice_names(folder: Path, is_slice: Callable[[str], bool]) -> Iterator[str]:
    """Names of the files of ``folder`` that ``is_slice`` accepts, in directory order.

    Hidden files are skipped: macOS ``._x.tif`` resource forks carry the extension but no image.
    """
    with os.scandir(folder) as it:
        for entry in it:
            if not entry.name.startswith(".") and is_slice(entry.name) and entry.is_file():
                yield entry.name


def iter_slices(folder: Path, is_slice: Callable[[str], bool]) -> Iterator[Path]:
    """Files of ``folder`` whose name ``is_slice`` accepts, in directory order."""
    return (folder / name for name in _slice_names(folder, is_slice))


def sorted_slices(folder: Path, is_slice: Callable[[str], bool]) -> list[Path]:
    """The slices of ``folder`` in z order: natural order of their names (sorted as names: a Path per entry
    before the sort cost 10,000 slices 2x the time)."""
    return [folder / name for name in sorted(_slice_names(folder, is_slice), key=natural_key)]
