"""Response helpers shared by every route: JSON errors, ETag/304, caching headers, optional gzip."""

from __future__ import annotations

import hashlib
import json

import imagecodecs
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from transformer.config import Config
from transformer.server.errors import BadRequest, classify, log_failure
from transformer.server.ranges import ACCEPT_RANGES, Unsatisfiable, part_headers, plan, unsatisfied, wants_identity
from writers.keys import decimal, shown

JSON = "application/json"
OCTET = "application/octet-stream"
#: Cache-Control of a versioned URL (``{id}@{version}``): its bytes never change, so any cache may keep them
#: for a year without asking again (issue 14); non-public answers are still made private (server/auth.py)
IMMUTABLE = "public, max-age=31536000, immutable"
#: an unversioned chunk URL follows the source: caches (the browser's, nginx's) ask again after a minute
UNVERSIONED_MAX_AGE = 60


def gzip_bytes(body: bytes, level: int = 1) -> bytes:
    """``body`` gzipped with libdeflate (imagecodecs): on a 512 KiB chunk of 12-bit microscopy 4 ms at level 1
    where the standard library's zlib takes 11 ms at any level, for the same 1.15x (bench part 14)."""
    return imagecodecs.gzip_encode(body, level=level)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def json_bytes(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def respond(
    request: Request,
    body: bytes,
    media_type: str = OCTET,
    etag: str | None = None,
    max_age: int = 3600,
    compressible: bool = False,
    gzipped: bytes | None = None,
    immutable: bool = False,
    ranges: bool = True,
) -> Response:
    """A cacheable response: ETag + If-None-Match → 304; gzip when asked for and worth it; a Range → 206
    (``ranges``; False: the caller applies ``ranged`` itself). ``immutable``: the URL names one dataset
    version (``IMMUTABLE`` instead of ``max_age``)."""
    etag = etag or etag_of(body)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if immutable else f"public, max-age={max_age}",
               "Accept-Ranges": "bytes"}
    if compressible:
        headers["Vary"] = "Accept-Encoding"
    gzip_it = compressible and gzip_wanted(request, len(body))
    if gzip_it:  # a different representation needs its own validator
        headers["ETag"] = etag = etag[:-1] + '-gz"'
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if gzip_it:
        body = gzipped if gzipped is not None else gzip_bytes(body, level=6)
        headers["Content-Encoding"] = "gzip"
    response = Response(body, media_type=media_type, headers=headers)
    return ranged(request, response) if ranges else response


def gzip_wanted(request: Request, size: int) -> bool:
    """Whether ``respond`` sends a compressible ``size``-byte body gzipped: the client accepts gzip, the body is
    worth it, and no Range asks for the identity bytes. Callers holding a gzipped copy ask first, to make one
    only when it is sent."""
    return size > 256 and "gzip" in request.headers.get("accept-encoding", "") and not wants_identity(request.headers)


def ranged(request: Request, response: Response) -> Response:
    """``response`` (a 200 with its whole body) cut to the request's Range: 206 with Content-Range, 416 for a
    range outside the body, or ``response`` itself (no Range, several ranges, a stale If-Range; ranges.py)."""
    if response.status_code != 200 or "range" not in request.headers:
        return response
    body = response.body
    try:
        span = plan(request.headers.get("range"), request.headers.get("if-range"), response.headers.get("etag"),
                    len(body))
    except Unsatisfiable:
        return range_refusal(len(body))
    if span is None:
        return response
    start, stop = span
    part = Response(body[start:stop], status_code=206)
    part.raw_headers = part_headers(response.raw_headers, start, stop, len(body))
    return part


def range_refusal(size: int) -> Response:
    """416 with ``Content-Range: bytes */size``: the range selects no byte of a ``size``-byte body."""
    body = json_bytes({"error": "range_not_satisfiable", "status": 416,
                       "reason": f"the range selects no byte of this {size}-byte body"})
    response = Response(body, status_code=416, media_type=JSON, headers={"Cache-Control": "no-store"})
    response.raw_headers.extend([(b"content-range", unsatisfied(size)), ACCEPT_RANGES])
    return response


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match: ``*`` or any listed tag (weak comparison) matches; the warm path uses this too."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def json_response(request: Request, data, max_age: int = 60) -> Response:
    return respond(request, json_bytes(data), JSON, max_age=max_age, compressible=True)


def error_response(exc: BaseException) -> Response:
    status, code, reason = classify(exc)
    body = {"error": code, "reason": reason, "status": status}
    if status >= 500:
        body["error_id"] = log_failure(exc, status, code)
    headers = {"Cache-Control": "no-store", **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    if getattr(exc, "retry_after", None) is not None:  # errors.Unavailable: when trying again makes sense
        headers["Retry-After"] = str(exc.retry_after)
    return Response(json_bytes(body), status_code=status, media_type=JSON, headers=headers)


def stale_version(current: str) -> Response:
    """404 for a URL naming a dataset version that is no longer served, pointing at the current URL."""
    body = {"error": "not_found", "reason": "this dataset version is no longer served; see current",
            "status": 404, "current": current}
    return Response(json_bytes(body), status_code=404, media_type=JSON, headers={"Cache-Control": "no-store"})


class WorkerName:
    """``X-Worker: NAME`` on every response (``--worker-name``): which worker of a stack answered."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.header = (b"x-worker", name.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, named if scope["type"] == "http" else send)


def query_int(request: Request, name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    """Query parameter ``name`` as a canonical non-negative decimal in lo..hi (400 otherwise)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = decimal(raw)
    if value is None:
        raise BadRequest(f"{name}={shown(raw)} is not a non-negative integer")
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def base_url(request: Request, config: Config) -> str:
    """Where clients reach the service, for links: ``--public-url``; else the request's scheme and Host if
    that host is trusted (``--allowed-hosts``, loopback, or the address the client connected to); else
    that connected address. Never an arbitrary Host header: links end up in documents other clients get."""
    if config.public_url:
        return config.public_url.rstrip("/")
    server = request.scope.get("server")
    if server is None:  # no socket (a unix socket, an in-process client): no address to fall back on
        return str(request.base_url).rstrip("/")
    host = (request.url.hostname or "").lower().strip("[]")
    if host in LOOPBACK | config.allowed_host_names | {server[0].lower()}:
        return str(request.base_url).rstrip("/")
    address, port = server
    address = f"[{address}]" if ":" in address else address
    return f"{request.url.scheme}://{address}:{port}"
