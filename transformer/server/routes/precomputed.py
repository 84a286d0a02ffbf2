"""Neuroglancer precomputed at /precomputed/{id}[/t/{t}][/{encoding}]/(info | {scale}/{chunk}).

Options are plain path segments because clients append ``/info`` and ``/{key}/{chunk}`` to a base URL.
"""

from __future__ import annotations

import gzip

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.server.errors import NotFound
from transformer.server.http import JSON, json_bytes, respond
from writers import precomputed
from writers.errors import MalformedKey, NoSuchKey


def parse_view(parts: list[str], n_times: int) -> tuple[int, str | None, list[str]]:
    """Consume the optional ``t/{t}`` and ``{encoding}`` segments; return (t, encoding, rest)."""
    t = 0
    if len(parts) >= 2 and parts[0] == "t":
        if not parts[1].isdigit() or (len(parts[1]) > 1 and parts[1][0] == "0"):
            raise MalformedKey(f"t/{parts[1]}: a time point is a non-negative integer")
        t = int(parts[1])
        if t >= n_times:
            raise NoSuchKey(f"time point {t} does not exist (0..{n_times - 1})")
        parts = parts[2:]
    encoding = None
    if parts and parts[0] in precomputed.ENCODINGS:
        encoding, parts = parts[0], parts[1:]
    return t, encoding, parts


async def precomputed_key(request: Request) -> Response:
    svc = request.app.state.service
    ds = await svc.dataset(request.path_params["id"])
    spec = ds.spec
    t, encoding, rest = parse_view(request.path_params["rest"].split("/"), spec.levels[0].shape[0])
    encoding = encoding or precomputed.default_encoding(spec)
    if rest == ["info"]:
        return respond(request, json_bytes(precomputed.info(spec, encoding)), JSON, max_age=60,
                       compressible=True)
    if len(rest) == 1 and rest[0] in ("provenance", "transform.json", "attributes.json"):
        raise NoSuchKey(f"{rest[0]!r} does not exist")  # probed by some clients
    if len(rest) != 2:
        raise MalformedKey(f"{'/'.join(rest)!r}: expected info or {{scale}}/{{x0-x1_y0-y1_z0-z1}}")
    precomputed.check_encoding(spec, encoding)
    chunk = precomputed.parse_chunk(rest[0], rest[1], spec)
    level = spec.levels[chunk.level]
    zi, yi, xi = chunk.grid_index(level)
    n_channels = level.shape[1]

    def produce() -> bytes:
        blocks = [ds.pyramid.chunk(chunk.level, (t, c, zi, yi, xi)) for c in range(n_channels)]
        return precomputed.encode(np.stack(blocks), spec, encoding)

    key = ("precomputed", ds.version, encoding, t, chunk.level, zi, yi, xi)
    raw = await svc.encoded_chunk(key, produce)
    if encoding == "raw" and "gzip" in request.headers.get("accept-encoding", ""):
        gz = await svc.encoded_chunk((*key, "gzip"), lambda: gzip.compress(raw.body, compresslevel=3))
        response = respond(request, raw.body, etag=raw.etag, compressible=True, gzipped=gz.body)
    else:
        response = respond(request, raw.body, etag=raw.etag, compressible=encoding == "raw")
    svc.remember(request, ds.version, response)
    return response


async def no_view(request: Request) -> Response:
    raise NotFound("a precomputed source is read from {base}/info")


routes = [
    Route("/precomputed/{id}/{rest:path}", precomputed_key),
    Route("/precomputed/{id}", no_view),
]
