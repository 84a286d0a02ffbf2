"""One route factory for every registered output view (writers/view.py): look up the dataset, let the view
parse the key, answer a document as JSON or a chunk through the service's caches."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.server.auth import grant_of
from transformer.server.errors import NotFound
from transformer.server.http import JSON, json_bytes, respond
from writers.view import Document, View, ViewOptions


def endpoint(view: View, options: ViewOptions):
    """The handler of ``{view.prefix}/{segment}/{key}``."""

    async def serve(request: Request) -> Response:
        svc = request.app.state.service
        dataset_id = view.dataset_id(request.path_params["segment"])
        if dataset_id is None:
            raise view.naming_error()
        ds = await svc.dataset(dataset_id, grant_of(request))
        key = view.parse(request.path_params["key"], ds.spec)
        if isinstance(key, Document):
            return respond(request, json_bytes(view.document(key, ds.spec, options)), JSON, max_age=60,
                           compressible=True)

        def produce() -> bytes:
            return view.encode(key, ds.spec, ds.pyramid.chunk, options)

        cache_key = (view.name, ds.version, view.chunk_identity(key, ds.spec, options))
        return await svc.chunk_response(request, ds, cache_key, produce, view.compressible(key, ds.spec))

    return serve


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
