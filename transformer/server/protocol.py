"""uvicorn's HTTP protocol with a request-header timeout.

uvicorn times a connection out only between requests (``timeout_keep_alive``, armed after a response):
a connection that never sends a request, or sends its headers a byte at a time, is kept for ever, and
at the process's file-descriptor limit new clients are locked out. Here the clock also runs from
connecting and from each response until the next request's headers are complete.

It subclasses uvicorn's HttpToolsProtocol, which is not a public API: :func:`check_uvicorn` runs at import and
refuses, with the reason, a uvicorn whose protocol lacks what this class overrides or uses (instead of a
server whose timeout silently never fires). pyproject.toml pins the uvicorn versions it was tested with.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: what HeaderTimeoutProtocol overrides (methods) and reads (attributes set by the base class's __init__)
OVERRIDDEN = ("connection_made", "on_headers_complete", "on_response_complete", "connection_lost")
USED = ("pipeline", "loop")  # and ``transport``, set by connection_made


def check_uvicorn(base: type = HttpToolsProtocol, init_source: str | None = None) -> None:
    """Raise ImportError naming what is missing when ``base`` (uvicorn's protocol) no longer has the methods
    HeaderTimeoutProtocol overrides or the attributes it reads."""
    import inspect

    missing = [name for name in OVERRIDDEN if not callable(getattr(base, name, None))]
    source = init_source if init_source is not None else inspect.getsource(base.__init__)
    missing += [name for name in USED if f"self.{name} " not in source and f"self.{name}:" not in source]
    if missing:
        raise ImportError(f"uvicorn {uvicorn.__version__}: HttpToolsProtocol has no {', '.join(missing)}; the "
                          "header timeout (transformer/server/protocol.py) needs the uvicorn versions pinned in "
                          "pyproject.toml")


check_uvicorn()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    #: seconds a client has to send complete request headers (after connecting or after a response)
    header_timeout = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.pipeline and not self.transport.is_closing():  # a pipelined request is already in
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _expire(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn (it instantiates the class itself) with this timeout."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
