"""The warm path: a chunk response served before routing, straight from a response cache.

A cached chunk needs no routing, parsing or Response object: the key is the request path (plus
whether the client accepts gzip), the entry holds the final headers and body, and it is used only
while the dataset's version (its catalog record) is the one it was made from. Which paths are chunk
paths, and which dataset a path names, the registered views say (writers/view.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from readers.caching import Cache
from transformer.server.auth import PATH_TOKEN
from transformer.server.http import etag_matches, range_refusal
from transformer.server.ranges import Unsatisfiable, part_headers, plan, wants_identity
from writers.view import View


@dataclass(frozen=True)
class CachedResponse:
    version: str
    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def cache_key(path: str, accept_encoding: str) -> tuple[str, bool]:
    return path, "gzip" in accept_encoding


class ViewPaths:
    """The URL prefixes of the views, and the dataset a path below one of them names."""

    def __init__(self, views: Iterable[View]) -> None:
        self.views = {f"{view.prefix}/": view for view in views}
        self.prefixes = tuple(self.views)

    def dataset_of(self, path: str) -> str | None:
        for prefix, view in self.views.items():
            if path.startswith(prefix):
                return view.dataset_id(path[len(prefix):].split("/", 1)[0])
        return None


class FastChunks:
    def __init__(self, app: ASGIApp, responses: Cache, datasets, views: Iterable[View]) -> None:
        self.app = app
        self.responses = responses
        self.datasets = datasets
        self.paths = ViewPaths(views)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
                and scope["path"].startswith(self.paths.prefixes) and PATH_TOKEN not in scope):
            headers = Headers(scope=scope)
            if "authorization" in headers:  # any token: private, no-store (auth.py), which only the cold path says
                await self.app(scope, receive, send)
                return
            # a ranged request is answered from the identity body (ranges.py), whatever the client accepts
            accepted = "" if wants_identity(headers) else headers.get("accept-encoding", "")
            entry = self.responses.get(cache_key(scope["path"], accepted))
            if entry is not None:
                dataset_id = self.paths.dataset_of(scope["path"])
                ds = self.datasets.peek(dataset_id) if dataset_id is not None else None
                # only public chunks are kept; this one must still be public (access changes bump the version,
                # an embargo that ends today makes it public, never the reverse)
                if ds is not None and ds.version == entry.version and ds.record.access_now() == "public":
                    await self._send(entry, headers, scope["method"], send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(entry: CachedResponse, headers: Headers, method: str, send: Send) -> None:
        if etag_matches(headers.get("if-none-match"), entry.etag):  # the cold path's rule, "*" included
            raw = [(k, v) for k, v in entry.headers if k != b"content-length" and k != b"content-type"]
            await send({"type": "http.response.start", "status": 304, "headers": raw})
            await send({"type": "http.response.body", "body": b""})
            return
        status, raw, body = 200, entry.headers, entry.body
        if "range" in headers:
            status, raw, body = _ranged(entry, headers)
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _ranged(entry: CachedResponse, headers: Headers) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The cold path's Range rule (http.ranged) on a cached entry: 206, 416, or the whole 200."""
    size = len(entry.body)
    try:
        span = plan(headers.get("range"), headers.get("if-range"), entry.etag, size)
    except Unsatisfiable:
        refusal = range_refusal(size)
        return 416, refusal.raw_headers, bytes(refusal.body)
    if span is None:
        return 200, entry.headers, entry.body
    start, stop = span
    return 206, part_headers(entry.headers, start, stop, size), entry.body[start:stop]
