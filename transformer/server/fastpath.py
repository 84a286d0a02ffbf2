"""The warm path: a chunk response served before routing, straight from a response cache.

A cached chunk needs no routing, parsing or Response object: the key is the request path (plus
whether the client accepts gzip), the entry holds the final headers and body, and it is used only
while the dataset's version (its catalog record) is the one it was made from.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from transformer.engine.cache import ByteLRU

PREFIXES = ("/zarr/", "/zarr3/", "/precomputed/")


@dataclass(frozen=True)
class CachedResponse:
    version: str
    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def cache_key(path: str, accept_encoding: str) -> tuple[str, bool]:
    return path, "gzip" in accept_encoding


def dataset_of(path: str) -> str:
    name = path.split("/", 3)[2]
    return name.removesuffix(".ome.zarr")


class FastChunks:
    def __init__(self, app: ASGIApp, responses: ByteLRU, datasets) -> None:
        self.app = app
        self.responses = responses
        self.datasets = datasets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and scope["path"].startswith(PREFIXES):
            headers = Headers(scope=scope)
            entry = self.responses.get(cache_key(scope["path"], headers.get("accept-encoding", "")))
            if entry is not None:
                ds = self.datasets.peek(dataset_of(scope["path"]))
                if ds is not None and ds.version == entry.version:
                    await self._send(entry, headers, scope["method"], send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _send(entry: CachedResponse, headers: Headers, method: str, send: Send) -> None:
        if entry.etag in (headers.get("if-none-match") or ""):
            raw = [(k, v) for k, v in entry.headers if k != b"content-length" and k != b"content-type"]
            await send({"type": "http.response.start", "status": 304, "headers": raw})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else entry.body})
