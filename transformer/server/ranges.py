"""HTTP Range (RFC 9110 §14) for bodies of known length, decided once for every route that sends one.

What we answer:
- one range (``bytes=a-b``, ``bytes=a-``, suffix ``bytes=-n``) → 206 with ``Content-Range: bytes a-b/N``;
- a range that starts at or past the end (or a suffix of 0 bytes) → 416 with ``Content-Range: bytes */N``;
- several ranges in one header → the whole body with 200 (RFC 9110 lets a server ignore Range; multipart
  answers are rarely wanted by the clients we serve: zarr, tensorstore and S3 tools send one range);
- a malformed header, another unit, or an ``If-Range`` that does not match the current ETag (strong comparison)
  or names a date → the whole body with 200.
Range applies to the identity representation: a request carrying Range is never answered gzipped
(``wants_identity``), so offsets always count the bytes a client would get without gzip.
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE)
ACCEPT_RANGES = (b"accept-ranges", b"bytes")


class Unsatisfiable(Exception):
    """A well-formed single range that selects no byte of the body (416)."""


def wants_identity(headers) -> bool:
    """Whether the body must be sent without Content-Encoding: Range counts bytes of the identity body."""
    return "range" in headers


def plan(range_header: str | None, if_range: str | None, etag: str | None, size: int) -> tuple[int, int] | None:
    """(start, stop) of the one range to send of a ``size``-byte body, None for the whole body; raises
    Unsatisfiable for a range outside the body."""
    if not range_header or "," in range_header:
        return None
    if if_range is not None:
        tag = if_range.strip()
        if not tag.startswith('"') or etag is None or tag != etag:  # a weak tag or a date never matches
            return None
    match = _SPEC.match(range_header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # a suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size
    start = int(first)
    if last != "" and int(last) < start:
        return None  # an invalid range-spec is ignored, not refused (RFC 9110 §14.1.1)
    if start >= size:
        raise Unsatisfiable
    stop = size if last == "" else min(size, int(last) + 1)
    return start, stop


def content_range(start: int, stop: int, size: int) -> bytes:
    return f"bytes {start}-{stop - 1}/{size}".encode()


def part_headers(whole: list[tuple[bytes, bytes]], start: int, stop: int, size: int) -> list[tuple[bytes, bytes]]:
    """The raw headers of a whole ``size``-byte body, for its bytes start..stop: Content-Range, its own length."""
    kept = [(k, v) for k, v in whole if k != b"content-length"]
    return [*kept, (b"content-range", content_range(start, stop, size)),
            (b"content-length", str(stop - start).encode())]


def unsatisfied(size: int) -> bytes:
    return f"bytes */{size}".encode()
