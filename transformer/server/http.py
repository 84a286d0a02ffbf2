"""Response helpers shared by every route: JSON errors, ETag/304, caching headers, optional gzip."""

from __future__ import annotations

import gzip
import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response

from transformer.server.errors import classify

JSON = "application/json"
OCTET = "application/octet-stream"


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
) -> Response:
    """A cacheable response: ETag + If-None-Match → 304; gzip when asked for and worth it."""
    etag = etag or etag_of(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if compressible:
        headers["Vary"] = "Accept-Encoding"
    gzip_it = compressible and len(body) > 256 and "gzip" in request.headers.get("accept-encoding", "")
    if gzip_it:  # a different representation needs its own validator
        headers["ETag"] = etag = etag[:-1] + '-gz"'
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if gzip_it:
        body = gzipped if gzipped is not None else gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def json_response(request: Request, data, max_age: int = 60) -> Response:
    return respond(request, json_bytes(data), JSON, max_age=max_age, compressible=True)


def error_response(exc: BaseException) -> Response:
    status, code, reason = classify(exc)
    return Response(json_bytes({"error": code, "reason": reason, "status": status}), status_code=status,
                    media_type=JSON, headers={"Cache-Control": "no-store"})


def base_url(request: Request, public_url: str | None) -> str:
    """Where clients reach the service: the configured public URL, else what the request says."""
    if public_url:
        return public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
