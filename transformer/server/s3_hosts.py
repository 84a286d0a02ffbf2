"""Virtual-hosted-style S3 (``--s3-host``): AWS SDKs address a bucket as ``http://{bucket}.{host}/{key}`` by
default. A request to ``{bucket}.HOST`` is routed as the path-style ``{s3-prefix}/{bucket}/{key}``, and one to
``HOST`` itself as ``{s3-prefix}/…`` (ListBuckets at its root, path style below it); other hosts are untouched.
Runs inside ``TokenPrefix``, so ``/t/TOKEN/{key}`` on a bucket's host carries a token as everywhere else."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send


def host_name(header: str) -> str:
    """The Host header without its port, lower case (``[::1]:8000`` -> ``[::1]``)."""
    name = header.strip().lower()
    if name.startswith("["):
        return name.partition("]")[0] + "]"
    name = name.rpartition(":")[0] if ":" in name else name
    return name.rstrip(".")  # a fully qualified name (``zarr.s3.example.org.``) is the same host


class VirtualHostedBuckets:
    def __init__(self, app: ASGIApp, host: str, prefix: str) -> None:
        self.app = app
        self.host = host.strip().lower().rstrip(".")
        self.prefix = "/" + prefix.strip("/")

    def rewritten(self, host: str, path: str) -> str | None:
        """The path-style path a request to ``host`` for ``path`` names, or None (not an S3 host)."""
        if host == self.host:
            return self.prefix + path
        if host.endswith("." + self.host):
            return f"{self.prefix}/{host[: -len(self.host) - 1]}{path}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = self.rewritten(host_name(Headers(scope=scope).get("host", "")), scope["path"])
            if path is not None:
                scope["path"] = path
                scope["raw_path"] = quote(path, safe="/@:+,;=~!$&'()*").encode()
        await self.app(scope, receive, send)
