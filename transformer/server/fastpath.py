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
from transformer.server.http import etag_matches
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
                and scope["path"].startswith(self.paths.prefixes)):
            headers = Headers(scope=scope)
            entry = self.responses.get(cache_key(scope["path"], headers.get("accept-encoding", "")))
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
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else entry.body})
