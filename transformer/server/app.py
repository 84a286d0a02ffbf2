"""The starlette application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.recheck import start_recheck
from catalog.store import Catalog
from readers import registry as reader_registry
from transformer.config import Config
from transformer.server.auth import NoStoreWhenRestricted, TokenPrefix
from transformer.server.errors import TABLE, BadRequest, MethodNotAllowed, NotFound
from transformer.server.fastpath import FastChunks
from transformer.server.http import WorkerName, error_response
from transformer.server.metrics_listener import MetricsListener
from transformer.server.middleware import CORS
from transformer.server.routes import api_docs, catalog_api, cutout, health, neuroglancer, objects, pages
from transformer.server.routes.s3 import routes as s3_routes
from transformer.server.routes.views import view_routes
from transformer.server.s3_hosts import VirtualHostedBuckets
from transformer.server.service import Service
from writers.codecs import compressor
from writers.registry import installed
from writers.view import View, ViewOptions

log = logging.getLogger(__name__)


async def _on_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _on_http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(NotFound(f"no route for {request.url.path!r}"))
    if exc.status_code == 405:
        return error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
    return error_response(BadRequest(exc.detail))


class AnswerEveryError:
    """Unexpected errors become the table's JSON 500 here, inside the app: starlette's outermost handler
    would answer too but then re-raise, and uvicorn closes the kept-alive connection and logs a traceback.
    After the response has started nothing can be answered, so the error goes on up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started or scope["type"] != "http":
                raise
            await error_response(exc)(scope, receive, send)


def create_app(config: Config | None = None, catalog: Catalog | None = None,
               views: Sequence[View] | None = None) -> Starlette:
    """``views``: the output views to serve (default: every installed one, writers/registry.py)."""
    config = config or Config.from_env()
    service = Service(config, catalog)
    views = tuple(installed() if views is None else views)
    options = ViewOptions(compressor(config.compressor))  # the views' own routes and the S3 browse listings

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # the readers' heavy imports (glymur and libopenjp2, tifffile, h5py: ~0.15 s) in the background, so the
        # first dataset a viewer opens after a (re)start does not wait for them; a daemon: never delays exit
        threading.Thread(target=reader_registry.preload, name="preload", daemon=True).start()
        listener = None
        if config.metrics_port is not None:  # the full metrics, off the public port (docs/security.md)
            listener = MetricsListener(config.metrics_host, config.metrics_port,
                                       lambda: health.metrics_text(service, trusted=True))
        # serve --data-root: sources that vanish leave the catalog. Stopped here, on shutdown, so its catalog is
        # closed: nothing after uvicorn.run runs once uvicorn re-raises the SIGTERM it caught
        recheck = start_recheck(config.data_root, config.catalog) if config.data_root else None
        yield
        if recheck is not None:  # waits for a round in progress: off the loop
            await asyncio.to_thread(recheck.stop)
        if listener is not None:
            await asyncio.to_thread(listener.close)
        service.close()

    app = Starlette(
        routes=[*catalog_api.routes, *cutout.routes, *objects.routes,
                *view_routes(views, options), *s3_routes(views, config.s3_prefix, options),
                *neuroglancer.routes, *health.routes, *pages.routes, *api_docs.routes],
        # Expected errors are handled by class: starlette re-raises whatever reaches a catch-all Exception
        # handler, which drops the kept-alive connection and logs a traceback for a mere 404.
        exception_handlers={**{cls: _on_error for cls, _, _ in TABLE}, HTTPException: _on_http_error},
        middleware=[Middleware(AnswerEveryError)],
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.views = views
    # outside in: CORS; the /t/{TOKEN}/ prefix off the path (before the warm path and routing see it);
    # {bucket}.S3-HOST as path-style S3; private, no-store on what a token or non-public data answered; the warm
    # path (public chunks only)
    warm = FastChunks(app, service.responses, service.datasets, [*views, objects.ObjectPaths()])
    inner = NoStoreWhenRestricted(warm)
    if config.s3_host and config.s3_prefix:  # {bucket}.HOST/{key}: routed as path style (s3_hosts.py)
        inner = VirtualHostedBuckets(inner, config.s3_host, config.s3_prefix)
    outer = CORS(TokenPrefix(inner))
    return WorkerName(outer, config.worker_name) if config.worker_name else outer  # which worker of a stack
