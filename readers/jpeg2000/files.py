"""Finding JPEG2000 slices: extensions, magic bytes and the natural order of a folder's files."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

EXTENSIONS = (".jp2", ".j2k", ".j2c", ".jpx", ".jph")

# A JP2-family file (jp2/jpx/jph) opens with the 12-byte signature box; a raw codestream with the
# SOC marker immediately followed by SIZ.
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
CODESTREAM_START = b"\xff\x4f\xff\x51"


def has_extension(path: Path) -> bool:
    return path.suffix.lower() in EXTENSIONS


def has_magic(path: Path) -> bool:
    """True if the first bytes of ``path`` are a JP2 signature box or a codestream SOC+SIZ."""
    with open(path, "rb") as f:
        head = f.read(len(JP2_SIGNATURE))
    return head.startswith(JP2_SIGNATURE) or head.startswith(CODESTREAM_START)


def natural_key(name: str) -> list:
    """Sort key that orders embedded numbers by value, so ``z2`` comes before ``z10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name.lower())]


def _iter_slices(folder: Path) -> Iterator[Path]:
    # Hidden files are skipped: macOS "._x.jp2" resource forks carry the extension but no image.
    with os.scandir(folder) as it:
        for e in it:
            if not e.name.startswith(".") and has_extension(Path(e.name)) and e.is_file():
                yield Path(e.path)


def slice_files(path: Path) -> list[Path]:
    """The slices of ``path`` in z order: the file itself, or a folder's JPEG2000 files sorted naturally."""
    if path.is_dir():
        return sorted(_iter_slices(path), key=lambda p: natural_key(p.name))
    return [path] if path.is_file() and has_extension(path) else []


def first_slice(path: Path) -> Path | None:
    """One JPEG2000 file of ``path`` (any one will do for a sniff), without sorting a big folder."""
    if path.is_dir():
        return next(_iter_slices(path), None)
    return path if path.is_file() and has_extension(path) else None
