"""One route factory for every registered output view (writers/view.py): look up the dataset, let the view
parse the key, answer a document as JSON or a chunk through the service's caches."""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.server.auth import grant_of, link_base
from transformer.server.errors import NotFound
from transformer.server.http import JSON, base_url, json_bytes, respond, stale_version
from transformer.server.parted import respond_parts
from transformer.server.routes.links import view_url
from writers.view import Document, View, ViewOptions, version_tag


def endpoint(view: View, options: ViewOptions):
    """The handler of ``{view.prefix}/{segment}/{key}``."""

    async def serve(request: Request) -> Response:
        svc = request.app.state.service
        ref = view.dataset_ref(request.path_params["segment"])
        if ref is None:
            raise view.naming_error()
        dataset_id, tag = ref
        ds = await svc.dataset(dataset_id, grant_of(request))
        if tag is not None and tag != version_tag(ds.version):
            ds = await recheck(svc, ds, request)
            if tag != version_tag(ds.version):
                return stale_version(current_url(request, view, ds))
        key = view.parse(request.path_params["key"], ds.spec)
        if isinstance(key, Document):
            return respond(request, json_bytes(view.document(key, ds.spec, options)), JSON, max_age=60,
                           compressible=True, immutable=tag is not None)

        parts = view.parts(key, ds.spec)
        if parts is not None:  # made and sent part by part (a shard): never whole in the caches (parted.py)
            return await respond_parts(request, svc, view, ds, parts, view.chunk_identity(key, ds.spec, options),
                                       immutable=tag is not None)

        def produce() -> bytes:
            return view.encode(key, ds.spec, ds.pyramid.chunk, options)

        cache_key = (view.name, ds.version, view.chunk_identity(key, ds.spec, options))
        return await svc.chunk_response(request, ds, cache_key, produce, view.compressible(key, ds.spec),
                                        immutable=tag is not None)

    return serve


#: a URL naming another version makes a worker look at the source again, at most this often per dataset
RECHECK_AFTER_SECONDS = 0.5


async def recheck(svc, ds, request: Request):
    """The dataset as its source is now, when a URL names a version this worker does not serve: behind a proxy,
    another worker may have noticed a change first (each restamps every 5 s), and links it made name the new
    version. Not more than every RECHECK_AFTER_SECONDS, so made-up versions cannot make it restamp per request."""
    if time.monotonic() - ds.checked < RECHECK_AFTER_SECONDS:
        return ds
    ds.checked = float("-inf")  # not fresh: the registry restamps the source and reopens it if it changed
    return await svc.dataset(ds.record.id, grant_of(request))


def current_url(request: Request, view: View, ds) -> str:
    """The URL of the same key under the dataset's current version (the pointer of a stale version's 404)."""
    base = link_base(request, base_url(request, request.app.state.service.config))
    return f"{view_url(base, view, ds.record.id, ds.version)}/{request.path_params['key']}"


def root(view: View):
    """The handler of the bare ``{view.prefix}/{segment}``: a 404 that says where the view starts."""

    async def serve(request: Request) -> Response:
        raise NotFound(view.root_hint)

    return serve


def view_routes(views: Iterable[View], options: ViewOptions) -> list[Route]:
    routes = []
    for view in views:
        routes.append(Route(f"{view.prefix}/{{segment}}/{{key:path}}", endpoint(view, options)))
        if view.root_hint is not None:
            routes.append(Route(f"{view.prefix}/{{segment}}", root(view)))
    return routes
