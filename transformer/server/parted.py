"""Chunks sent part by part (``View.parts``): a zarr shard is its inner chunks and an index, each made on its own,
so a byte range makes only the parts it touches and a whole shard is never held in memory at once. Sizes come
from the geometry, so the length is known before the first byte (``SizedBody``: a failure after the status line
aborts the transfer short of it); the first part is made before the status line, so a source that fails there
is an ordinary 5xx (docs/errors.md)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Hashable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from transformer.server.bodies import SizedBody, request_id
from transformer.server.http import IMMUTABLE, OCTET, UNVERSIONED_MAX_AGE, etag_matches, range_refusal
from transformer.server.ranges import Unsatisfiable, content_range, plan
from writers.view import Part, View


def overlapping(parts: list[Part], start: int, stop: int) -> list[tuple[Part, int, int]]:
    """Each part bytes ``start..stop`` of the whole touch, with the slice of it they take."""
    out, pos = [], 0
    for part in parts:
        end = pos + part.size
        if end > start and pos < stop:
            out.append((part, max(0, start - pos), min(part.size, stop - pos)))
        pos = end
    return out


async def made(svc, view: View, ds, part: Part) -> bytes | memoryview:
    """A part's bytes: from a block in memory as it lies, else made in the worker pool."""
    data = view.part_in_memory(part, ds.spec, ds.pyramid.peek)
    if data is None:
        data = await svc.run(view.encode_part, part, ds.spec, ds.pyramid.chunk)
    if len(data) != part.size:  # the layout promised part.size: never send another length under it
        raise RuntimeError(f"a part of {len(data)} bytes where the layout says {part.size}")
    return data


async def parted_response(request: Request, svc, view: View, ds, parts: list[Part], span: tuple[int, int],
                          status: int, headers: Mapping[str, str], media_type: str) -> Response:
    """Bytes ``span`` of the chunk made of ``parts``, with ``status`` and ``headers`` (Content-Length is set
    here). HEAD makes nothing."""
    start, stop = span
    if request.method == "HEAD":
        return Response(status_code=status, media_type=media_type,
                        headers={**headers, "Content-Length": str(stop - start)})
    selected = overlapping(parts, start, stop)
    first_part, lo, hi = selected[0]
    first = memoryview(await made(svc, view, ds, first_part))[lo:hi]

    async def pieces() -> AsyncIterator[bytes | memoryview]:
        yield first
        for part, lo, hi in selected[1:]:
            yield memoryview(await made(svc, view, ds, part))[lo:hi]

    body = SizedBody(pieces(), stop - start, media_type=media_type, headers=headers,
                     request_id=request_id(request.headers))
    body.status_code = status
    return body


def parts_etag(version: str, identity: Hashable) -> str:
    """A strong validator of a parted chunk without its bytes: the dataset version decides them, and which chunk."""
    return '"' + hashlib.blake2b(f"{version}\0{identity!r}".encode(), digest_size=16).hexdigest() + '"'


async def respond_parts(request: Request, svc, view: View, ds, parts: list[Part], identity: Hashable,
                        immutable: bool = False) -> Response:
    """A view's parted chunk as the chunk routes answer one: ETag and If-None-Match (304), Range (206, 416 when
    no byte is selected), caching as any chunk (http.respond)."""
    size = sum(part.size for part in parts)
    etag = parts_etag(ds.version, identity)
    cache = IMMUTABLE if immutable else f"public, max-age={UNVERSIONED_MAX_AGE}"
    headers = {"ETag": etag, "Cache-Control": cache, "Accept-Ranges": "bytes"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        span = plan(request.headers.get("range"), request.headers.get("if-range"), etag, size)
    except Unsatisfiable:
        return range_refusal(size)
    if span is None:
        return await parted_response(request, svc, view, ds, parts, (0, size), 200, headers, OCTET)
    headers["Content-Range"] = content_range(*span, size).decode()
    return await parted_response(request, svc, view, ds, parts, span, 206, headers, OCTET)
