"""Bodies computed while they are sent, under one rule (docs/errors.md): whatever can fail happens before the
status line, and a failure after it is unmistakable.

:class:`SizedBody` sends a body whose length is known before its first byte (``Content-Length``, never chunked).
If producing it fails once the status line went out, the connection is aborted short of that length: no
chunked terminator, no complete-looking body, so every HTTP client reports a broken transfer (requests
raises, curl exits 18). The server logs one ERROR line with the request id and the reason; uvicorn's
traceback of the abort is filtered out.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from readers.scrub import describe
from transformer.server.http import range_refusal
from transformer.server.ranges import Unsatisfiable, content_range, plan

log = logging.getLogger(__name__)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id(headers: Mapping[str, str]) -> str:
    """The client's (or the proxy's) ``X-Request-Id`` if it is a plain token, else a new one: sent back as
    ``X-Request-Id`` and named in the log line of a failure, so a broken download can be matched to it."""
    given = headers.get("x-request-id", "")
    return given if _CLIENT_ID.match(given) else secrets.token_hex(6)


class ResponseAborted(Exception):
    """A response failed after its status line; it was logged, and the connection must be dropped."""


class _QuietAborts(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" traceback for an abort already logged here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ResponseAborted))


def _quiet_uvicorn() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietAborts) for f in logger.filters):
        logger.addFilter(_QuietAborts())


_quiet_uvicorn()  # at import: uvicorn's logging set-up later adds handlers and keeps a logger's filters


class SizedBody(Response):
    """``length`` bytes from ``pieces`` behind a ``Content-Length``. ``on_close`` runs once the body is sent,
    aborted or abandoned by the client (it releases what the body holds: a file, a temporary-space lease)."""

    def __init__(
        self,
        pieces: AsyncIterator[bytes | memoryview],
        length: int,
        *,
        media_type: str,
        headers: Mapping[str, str],
        request_id: str,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.pieces = pieces
        self.length = length
        self.request_id = request_id
        self.on_close = on_close
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({**headers, "Content-Length": str(length), "X-Request-Id": request_id})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent = 0
        failure: BaseException | None = None

        async def stream() -> None:
            nonlocal sent, failure
            try:
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                async for piece in self.pieces:
                    if sent + len(piece) > self.length:
                        raise RuntimeError(f"the body is longer than its {self.length} bytes")
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
                    sent += len(piece)
                if sent != self.length:
                    raise RuntimeError(f"the body ended at {sent} of its {self.length} bytes")
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception as exc:  # noqa: BLE001 - every failure after the status line is an abort
                failure = exc

        async def until_disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        sender = asyncio.ensure_future(stream())
        watcher = asyncio.ensure_future(until_disconnected())
        try:
            await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
            gone = watcher.done() and not sender.done()
        finally:
            for task in (sender, watcher):
                task.cancel()
            await asyncio.gather(sender, watcher, return_exceptions=True)
            await self.pieces.aclose()  # type: ignore[attr-defined]
            if self.on_close is not None:
                self.on_close()
        if failure is not None and not gone:
            log.error(
                "%s %s aborted after %d of %d bytes: %s",
                self.request_id,
                scope.get("path", ""),
                sent,
                self.length,
                describe(failure),
            )
            log.debug("traceback of %s", self.request_id, exc_info=failure)
            raise ResponseAborted(self.request_id)


async def ranged(headers: Mapping[str, str], body: SizedBody) -> Response:
    """``body`` cut to the request's Range (server/ranges.py): 206 with Content-Range, 416, or ``body`` itself.
    A body computed while it is sent cannot seek: the bytes before the range are made and dropped."""
    body.headers["Accept-Ranges"] = "bytes"
    if "range" not in headers:
        return body
    try:
        span = plan(headers.get("range"), headers.get("if-range"), body.headers.get("etag"), body.length)
    except Unsatisfiable:
        await body.pieces.aclose()  # type: ignore[attr-defined]
        if body.on_close is not None:
            body.on_close()
        return range_refusal(body.length)
    if span is None:
        return body
    start, stop = span
    body.pieces = _window(body.pieces, start, stop)
    body.status_code = 206
    body.headers["Content-Range"] = content_range(start, stop, body.length).decode()
    body.headers["Content-Length"] = str(stop - start)
    body.length = stop - start
    return body


async def _window(
    pieces: AsyncIterator[bytes | memoryview], start: int, stop: int
) -> AsyncIterator[bytes | memoryview]:
    """Bytes start..stop of ``pieces``."""
    pos = 0
    try:
        async for piece in pieces:
            end = pos + len(piece)
            if end > start:
                yield memoryview(piece)[max(0, start - pos) : stop - pos]
            pos = end
            if pos >= stop:
                break
    finally:
        await pieces.aclose()  # type: ignore[attr-defined]
