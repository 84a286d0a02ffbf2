"""The pages people use: search at ``/``, a landing page per dataset at ``/datasets/{id}``, their images.

Server-rendered HTML from jinja2 templates (``transformer/templates``, autoescaped) that works without
JavaScript; ``/static/pages.js`` adds copy buttons. Pages list only what the request's token may list
(``auth.listing``), and show images of a dataset only when its voxels may be read: an embargoed dataset's
page has its metadata and an embargo notice, never a thumbnail. Thumbnails and previews are projections of a
coarse level (``writers.preview``) computed in the worker pool and kept in the ``encoded`` cache under the
dataset's version, so a changed dataset gets new images and a repeated request no work.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from catalog.access import LEVELS
from catalog.record import Record
from catalog.store import FACETS, SORTS
from transformer.server.auth import Credentials, grant_of, link_base
from transformer.server.errors import classify, log_failure
from transformer.server.http import base_url, query_int, respond
from transformer.server.landing import human_bytes, json_ld, snippets
from transformer.server.routes.catalog_api import query_of
from transformer.server.routes.links import dataset_links
from transformer.server.routes.objects import page_objects
from writers import preview
from writers.objects_registry import object_links

PACKAGE = Path(__file__).resolve().parents[2]  # transformer/
PAGE_SIZE = 20
#: longest side in pixels
IMAGES = {"thumbnail": 160, "preview": 512}

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PACKAGE / "templates"),
    autoescape=jinja2.select_autoescape(["html"], default=True),
    undefined=jinja2.StrictUndefined,
)
templates.filters["bytes"] = human_bytes


def page(name: str, status: int = 200, **context) -> HTMLResponse:
    """A rendered template; pages change with the catalog, so browsers revalidate them."""
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status,
                        headers={"Cache-Control": "no-cache"})


#: the title of an HTML error page, by status
TITLES = {400: "Bad request", 401: "Token needed", 403: "Not granted", 404: "Not found"}


def wants_html(request: Request) -> bool:
    """A browser navigating (its Accept names text/html); API clients (``*/*``, JSON) keep JSON errors."""
    return "text/html" in request.headers.get("accept", "")


def html_errors(handler):
    """``handler`` answering its errors as an HTML page to browsers: the same status, headers and reason as
    the JSON error (server/errors.py), so a private dataset's page stays identical to an unknown one's."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            if not wants_html(request):
                raise  # the app's JSON error
            status, _, reason = classify(exc)
            error_id = log_failure(exc, status, "page") if status >= 500 else None
            base = link_base(request, base_url(request, request.app.state.service.config))
            response = page("error.html", status, base=base, title=TITLES.get(status, "Server error"), code=status,
                            reason=reason, error_id=error_id)
            response.headers["Cache-Control"] = "no-store"
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response

    return answer


def readable(record: Record, creds: Credentials) -> bool:
    """Whether the request may see voxels (and so images) of ``record``."""
    return record.access_now() == "public" or creds.covers(record.id)


def s3_copy(config, base: str, dataset_id: str, views) -> tuple[str, str] | None:
    """(S3 endpoint, the dataset's folder in the zarr bucket) for the page's copy command, if both are served."""
    zarr = next((view for view in views if view.name == "zarr"), None)
    if not config.s3_prefix or zarr is None:
        return None
    return f"{base}/{config.s3_prefix.strip('/')}", zarr.dataset_segment(dataset_id)


def _image_url(base: str, record: Record, kind: str) -> str:
    return f"{base}/datasets/{record.id}/{kind}.png?v={record.version.rsplit('@', 1)[-1]}"


async def search_page(request: Request) -> Response:
    svc = request.app.state.service
    query = query_of(request, PAGE_SIZE)
    number = query_int(request, "page", 1, 1, 10**6)
    query.offset = (number - 1) * PAGE_SIZE
    found = await svc.run(svc.catalog.find, query)
    creds = grant_of(request)
    base = link_base(request, base_url(request, svc.config))
    cards = [{
        "record": r,
        "page": f"{base}/datasets/{r.id}",
        "neuroglancer": dataset_links(base, r.id, request.app.state.views)["neuroglancer"] if readable(r, creds)
        else None,
        "thumbnail": _image_url(base, r, "thumbnail") if readable(r, creds) else None,
        "access": r.access_now(),
    } for r in found.records]
    chosen = {name: getattr(query, name) for name in ("q", "species", "technique", "format", "access", "sort")}
    kept = {k: v for k, v in chosen.items() if v and not (k == "sort" and v == "relevance")}

    def with_params(**change) -> str:
        params = {**kept, **change}
        return f"{base}/?{urlencode({k: v for k, v in params.items() if v})}"

    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    return page(
        "search.html", base=base, query=chosen, total=found.total, cards=cards, facets=found.facets,
        facet_names=list(FACETS), sorts=list(SORTS), page_number=number, pages=pages, with_params=with_params,
        levels=LEVELS, first=query.offset + 1, last=query.offset + len(cards),
    )


async def dataset_page(request: Request) -> Response:
    svc = request.app.state.service
    creds = grant_of(request)
    ds = await svc.dataset(request.path_params["id"], creds, data=False)  # the record of an embargo is public
    record = ds.record
    base = link_base(request, base_url(request, svc.config))
    links = dataset_links(base, record.id, request.app.state.views)
    page_url = f"{base}/datasets/{record.id}"
    can_read = readable(record, creds)
    levels = [{"shape": lv.shape, "voxel_size": lv.voxel_size, "chunks": lv.chunks,
               "native": ds.pyramid.levels[i].native is not None} for i, lv in enumerate(ds.spec.levels)]
    shown = preview.plan(ds.spec.levels, IMAGES["preview"])
    attached = None
    if record.attached:
        links.update(object_links(base, record.id, record.attached))
        attached = await svc.run(page_objects, svc, ds, links)
    return page(
        "dataset.html", base=base, record=record, access=record.access_now(), can_read=can_read, links=links,
        views=[v.name for v in request.app.state.views if v.name in links], levels=levels,
        channels=ds.spec.channels, snippets=snippets(links, ds.spec, s3_copy(svc.config, base, record.id,
                                                                               request.app.state.views))
        if can_read else {},
        thumbnail=_image_url(base, record, "thumbnail") if can_read else None,
        preview=_image_url(base, record, "preview") if can_read else None,
        preview_note=shown.describe(len(ds.spec.levels)), attached=attached,
        jsonld=json_ld(record, links, page_url, _image_url(base, record, "thumbnail") if can_read else None),
    )


async def thumbnail(request: Request) -> Response:
    return await image(request, "thumbnail")


async def preview_image(request: Request) -> Response:
    return await image(request, "preview")


async def image(request: Request, kind: str) -> Response:
    svc = request.app.state.service
    size = IMAGES[kind]
    ds = await svc.dataset(request.path_params["id"], grant_of(request))  # voxels: 401/403/404 as for data
    spec, pyramid = ds.spec, ds.pyramid
    shown = preview.plan(spec.levels, size)
    _, _, _, ny, nx = spec.levels[shown.level].shape

    def produce() -> bytes:
        block = pyramid.regions(shown.level, slice(0, 1), slice(0, shown.channels), shown.z,
                                slice(0, ny), slice(0, nx))[0]
        return preview.render(block, spec.channels[:shown.channels], size, labels=spec.kind == "labels")

    encoded = await svc.encoded_chunk(("image", kind, ds.version), produce)
    return respond(request, encoded.body, "image/png", etag=encoded.etag, max_age=300)


routes = [
    Route("/", html_errors(search_page)),
    Route("/datasets/{id}", html_errors(dataset_page)),
    Route("/datasets/{id}/thumbnail.png", html_errors(thumbnail)),  # opened as a page: a 401 says what to do
    Route("/datasets/{id}/preview.png", html_errors(preview_image)),
    Mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static"),
]
