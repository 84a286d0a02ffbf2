"""What a TIFF's first IFD says about a slice, read without tifffile: enough to tell whether a folder's
files are 2-D slices of one shape, dtype and sample count (a scan checks every slice of a stack, so
this must stay cheap: one open and two small reads per file)."""

from __future__ import annotations

import struct
from pathlib import Path

from readers.base import UnsupportedSource

# tag -> name of the facts a stack's slices must share
_TAGS = {256: "width", 257: "length", 258: "bits", 277: "samples", 339: "format", 32997: "depth"}
_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8: the types these tags use
_FORMATS = {1: "uint", 2: "int", 3: "float"}


def slice_signature(path: Path) -> tuple[tuple, bool]:
    """((length, width, dtype, samples), single 2-D plane?) from the first IFD.

    UnsupportedSource (file name only) when the header cannot be read.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            order = {b"II": "<", b"MM": ">"}.get(head[:2])
            if order is None or len(head) < 8:
                raise ValueError("no TIFF byte order mark")
            big = struct.unpack(order + "H", head[2:4])[0] == 43
            offset = struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
            fh.seek(offset)
            count_fmt, entry_size, value_size = ("Q", 20, 8) if big else ("H", 12, 4)
            raw = fh.read(struct.calcsize(count_fmt))
            (count,) = struct.unpack(order + count_fmt, raw)
            if count > 4096:
                raise ValueError(f"{count} entries in the first IFD")
            entries = fh.read(count * entry_size + value_size)
            facts = {"samples": 1, "format": 1, "depth": 1, "bits": 1}
            for i in range(count):
                entry = entries[i * entry_size : (i + 1) * entry_size]
                if len(entry) < entry_size:
                    raise ValueError("the first IFD is cut short")
                tag, kind = struct.unpack(order + "HH", entry[:4])
                if tag in _TAGS and kind in _TYPES:
                    facts[_TAGS[tag]] = _first_value(fh, order, big, entry, _TYPES[kind])
    except (OSError, ValueError, struct.error) as exc:
        raise UnsupportedSource(f"{path.name}: not a readable TIFF header ({exc})") from exc
    value_size = 8 if big else 4
    following = entries[count * entry_size : count * entry_size + value_size]
    next_ifd = struct.unpack(order + ("Q" if big else "I"), following)[0] if len(following) == value_size else 0
    if "length" not in facts or "width" not in facts:
        raise UnsupportedSource(f"{path.name}: the first IFD has no image size")
    dtype = f"{_FORMATS.get(facts['format'], '?')}{facts['bits']}"
    single = next_ifd == 0 and facts["depth"] == 1
    return (facts["length"], facts["width"], dtype, facts["samples"]), single


def _first_value(fh, order: str, big: bool, entry: bytes, kind: tuple[str, int]) -> int:
    """The first value of an IFD entry: in the entry when all values fit, else where it points (one
    more read, e.g. the bits per sample of an RGB slice)."""
    code, size = kind
    count_code, value_size = ("Q", 8) if big else ("I", 4)
    (count,) = struct.unpack(order + count_code, entry[4 : 4 + value_size])
    field = entry[-value_size:]
    if count * size <= value_size:
        return struct.unpack(order + code, field[:size])[0]
    (offset,) = struct.unpack(order + count_code, field)
    here = fh.tell()
    fh.seek(offset)
    value = struct.unpack(order + code, fh.read(size))[0]
    fh.seek(here)
    return value
