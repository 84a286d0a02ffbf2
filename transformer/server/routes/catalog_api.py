"""Catalog JSON API: search, retrieve, and the BIL-style aliases /api/query and /api/retrieve."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.server.auth import grant_of, link_base, listing
from transformer.server.errors import BadRequest
from transformer.server.http import base_url, json_response, query_int
from transformer.server.routes.links import dataset_links


def _public(record, base: str, views, manifest: bool = True) -> dict:
    out = {**record.public_dict(), "links": dataset_links(base, record.id, views)}
    if not manifest:  # search results stay small; the file list is in the full record
        out["files"] = len(out.pop("manifest"))
    return out


async def search(request: Request) -> Response:
    svc = request.app.state.service
    params = request.query_params
    limit = query_int(request, "limit", 50, 1, 1000)
    offset = query_int(request, "offset", 0, 0, 10**9)
    total, records = await svc.run(functools.partial(
        svc.catalog.search, params.get("q", ""), params.get("species", ""), params.get("technique", ""),
        limit, offset, **listing(grant_of(request))))
    base = link_base(request, base_url(request, svc.config))
    return json_response(request, {
        "total": total, "limit": limit, "offset": offset,
        "datasets": [_public(r, base, request.app.state.views, manifest=False) for r in records],
    })


async def retrieve(request: Request) -> Response:
    svc = request.app.state.service
    dataset_id = request.path_params.get("id") or request.query_params.get("id")
    if not dataset_id:
        raise BadRequest("give the dataset id: /api/retrieve?id=...")
    ds = await svc.dataset(dataset_id, grant_of(request), data=False)  # an embargoed record is public
    base = link_base(request, base_url(request, svc.config))
    levels = [
        {"shape": list(lv.shape), "chunks": list(lv.chunks), "voxel_size": list(lv.voxel_size),
         "native": ds.pyramid.levels[i].native is not None}
        for i, lv in enumerate(ds.spec.levels)
    ]
    return json_response(request, {**_public(ds.record, base, request.app.state.views), "levels": levels})


routes = [
    Route("/api/datasets", search),
    Route("/api/datasets/{id}", retrieve),
    Route("/api/query", search),
    Route("/api/retrieve", retrieve),
]
