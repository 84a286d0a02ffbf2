"""Folders of 2-D slices, shared by the slice-stack readers: which files are slices, and their z order."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path


def natural_key(name: str) -> list:
    """Case-insensitive sort key that orders embedded numbers by value, so ``z2`` comes before ``z10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def iter_slices(folder: Path, is_slice: Callable[[str], bool]) -> Iterator[Path]:
    """Files of ``folder`` whose name ``is_slice`` accepts, in directory order.

    Hidden files are skipped: macOS ``._x.tif`` resource forks carry the extension but no image.
    """
    with os.scandir(folder) as it:
        for entry in it:
            if not entry.name.startswith(".") and is_slice(entry.name) and entry.is_file():
                yield Path(entry.path)


def sorted_slices(folder: Path, is_slice: Callable[[str], bool]) -> list[Path]:
    """The slices of ``folder`` in z order: natural order of their names."""
    return sorted(iter_slices(folder, is_slice), key=lambda p: natural_key(p.name))
