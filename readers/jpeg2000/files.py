"""Finding JPEG2000 slices: extensions, magic bytes and the natural order of a folder's files."""

from __future__ import annotations

from pathlib import Path

from readers.slices import iter_slices, sorted_slices

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


def _is_slice_name(name: str) -> bool:
    return has_extension(Path(name))


def slice_files(path: Path) -> list[Path]:
    """The slices of ``path`` in z order: the file itself, or a folder's JPEG2000 files sorted naturally."""
    if path.is_dir():
        return sorted_slices(path, _is_slice_name)
    return [path] if path.is_file() and has_extension(path) else []


def first_slice(path: Path) -> Path | None:
    """One JPEG2000 file of ``path`` (any one will do for a sniff), without sorting a big folder."""
    if path.is_dir():
        return next(iter_slices(path, _is_slice_name), None)
    return path if path.is_file() and has_extension(path) else None
