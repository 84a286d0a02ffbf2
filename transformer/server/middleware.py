"""CORS and the Referrer-Policy on every response, with preflight answered directly."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXPOSE = ("Accept-Ranges, ETag, Content-Encoding, Content-Length, Content-Range, Content-Type, Last-Modified, "
          "x-amz-request-id, X-Request-Id")  # Range reads (and S3 clients in a browser) need these
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", EXPOSE.encode()),
    # a page opened under /t/TOKEN/ must not hand its URL (the token) to a site it links to (docs/security.md)
    (b"referrer-policy", b"no-referrer"),
]


class CORS:
    """Every route is read-only data: allow any origin (a token is sent explicitly, never a cookie), answer
    preflights directly; no response sends a Referer onwards."""

    def __init__(self, app: ASGIApp, max_age: int = 86400) -> None:
        self.app = app
        self.max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS":
            asked = headers.get("access-control-request-headers", "*")
            await send({"type": "http.response.start", "status": 204, "headers": [
                *CORS_HEADERS,
                (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                (b"access-control-allow-headers", asked.encode("latin-1")),
                (b"access-control-max-age", str(self.max_age).encode()),
                (b"content-length", b"0"),
            ]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *CORS_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_cors)
