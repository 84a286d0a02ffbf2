"""Finding JPEG2000 slices: extensions, magic bytes and the natural order of a folder's files."""

from __future__ import annotations

import os
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
    return name.lower().endswith(EXTENSIONS)  # string ops: a Path per name costs ~20 µs x 10,000 slices


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


#: bytes read at once from the start of a slice: a JP2's boxes before the codestream (signature, ftyp,
#: jp2h with its colour and resolution boxes) and the SIZ marker fit in far less
HEAD_BYTES = 4096


def siz_signature(path: Path) -> tuple[int, int, str, int]:
    """(height, width, sample type, components) from the codestream's SIZ marker, walking the JP2 boxes
    to it: what the slices of one stack must share, found with one small ``os.pread`` per file in the
    usual case (a scan checks every slice, so not the full header parse). UnsupportedSource when it
    cannot be found."""
    import struct

    from readers.base import UnsupportedSource

    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            head = os.pread(fd, HEAD_BYTES, 0)
            start = 0 if head.startswith(CODESTREAM_START) else _codestream_offset(fd, head, struct)
            siz = head[start:start + 42] if start + 42 <= len(head) else os.pread(fd, 42, start)
            if siz[:4] != CODESTREAM_START or len(siz) < 42:
                raise ValueError("no SIZ marker at the start of the codestream")
            xsiz, ysiz, xo, yo = struct.unpack(">4I", siz[8:24])
            (components,) = struct.unpack(">H", siz[40:42])
            end = start + 42 + 3 * components
            precisions = (head[start + 42:end] if end <= len(head) else os.pread(fd, 3 * components, start + 42))[::3]
            if len(precisions) != components:
                raise ValueError("the SIZ marker is cut short")
        finally:
            os.close(fd)
    except (OSError, ValueError, struct.error) as exc:
        raise UnsupportedSource(f"{path.name}: not a readable JPEG 2000 header ({exc})") from exc
    kinds = {f"{'int' if p & 0x80 else 'uint'}{(p & 0x7F) + 1}" for p in precisions}
    return ysiz - yo, xsiz - xo, kinds.pop() if len(kinds) == 1 else "mixed", components


def _codestream_offset(fd: int, head: bytes, struct) -> int:
    """Where the contiguous codestream box's content starts (after the JP2 boxes before it); box headers
    beyond the ``head`` already read are read with one more small pread each."""
    at = 0
    for _ in range(64):  # a JP2 has a handful of top-level boxes before jp2c
        header = head[at:at + 16] if at + 16 <= len(head) else os.pread(fd, 16, at)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header[:8])
        skip = 8
        if length == 1:
            if len(header) < 16:
                break
            (length,) = struct.unpack(">Q", header[8:16])
            skip = 16
        if kind == b"jp2c":
            return at + skip
        if length < skip:
            break
        at += length
    raise ValueError("no codestream box")
