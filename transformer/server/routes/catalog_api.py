"""Catalog JSON API: search, retrieve, and the BIL-style aliases /api/query and /api/retrieve."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog.store import SORTS, Query
from transformer.server.auth import grant_of, link_base, listing
from transformer.server.errors import BadRequest
from transformer.server.http import base_url, json_response, query_int
from transformer.server.routes.links import cutout_url, dataset_links, view_url
from writers.objects_registry import object_links


def _public(record, base: str, views, manifest: bool = True) -> dict:
    out = {**record.public_dict(), "links": {**dataset_links(base, record.id, views),
                                             **object_links(base, record.id, record.attached)}}
    if not manifest:  # search results stay small; the file list is in the full record
        out["files"] = len(out.pop("manifest"))
        attached = out.pop("attached", [])  # likewise the neurons and cell tables: counted here
        if attached:
            out["objects"] = {kind: sum(1 for a in attached if a["kind"] == kind) for kind in ("neuron", "cells")}
    return out


def query_of(request: Request, limit: int) -> Query:
    """The search a request asks for (the JSON API's and the search page's parameters are the same)."""
    params = request.query_params
    sort = params.get("sort", "relevance")
    if sort not in SORTS:
        raise BadRequest(f"sort must be one of {', '.join(SORTS)}")
    return Query(q=params.get("q", ""), species=params.get("species", ""), technique=params.get("technique", ""),
                 format=params.get("format", ""), access=params.get("access", ""), sort=sort, limit=limit,
                 offset=query_int(request, "offset", 0, 0, 10**9), **listing(grant_of(request)))


async def search(request: Request) -> Response:
    """Search the catalog.
    ---
    summary: Search datasets (full text, filters, facets)
    description: >-
      Every word of q must match a word of a record as a prefix (title, id, description, species, technique,
      contributors, citation, format, specimen, instrument, keywords, funders, publications); species and
      technique match a word prefix (light finds light-sheet), format and access exactly. Private datasets
      are listed only with a token granting them. /api/query is the BIL-style alias.
    parameters:
      - {name: q, in: query, schema: {type: string}, description: full-text words}
      - {name: species, in: query, schema: {type: string}}
      - {name: technique, in: query, schema: {type: string}}
      - {name: format, in: query, schema: {type: string}}
      - {name: access, in: query, schema: {type: string, enum: [public, embargoed, private]}}
      - {name: sort, in: query, schema: {type: string, enum: [relevance, title, newest, largest, id]}}
      - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 1000, default: 50}}
      - {name: offset, in: query, schema: {type: integer, minimum: 0, default: 0}}
    responses:
      "200":
        description: total, limit, offset, datasets (records with links) and facets ({name -> [[value, count]]})
      "400": {description: a malformed number or an unknown sort}
    """
    svc = request.app.state.service
    query = query_of(request, query_int(request, "limit", 50, 1, 1000))
    found = await svc.run(svc.catalog.find, query)
    base = link_base(request, base_url(request, svc.config))
    return json_response(request, {
        "total": found.total, "limit": query.limit, "offset": query.offset,
        "datasets": [_public(r, base, request.app.state.views, manifest=False) for r in found.records],
        "facets": found.facets,
    })


async def retrieve(request: Request) -> Response:
    """Retrieve one dataset's record.
    ---
    summary: One dataset's full record (metadata, manifest, levels, links)
    description: >-
      /api/datasets/{id} and the BIL-style alias /api/retrieve?id=. The record of an embargoed dataset is
      public; a private one is 404 without a token granting it.
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}, description: "dataset id (?id= on /api/retrieve)"}
    responses:
      "200": {description: the record with links and levels}
      "404": {description: no such dataset (or private without a token)}
    """
    svc = request.app.state.service
    dataset_id = request.path_params.get("id") or request.query_params.get("id")
    if not dataset_id:
        raise BadRequest("give the dataset id: /api/retrieve?id=...")
    ds = await svc.dataset(dataset_id, grant_of(request), data=False)  # an embargoed record is public
    base = link_base(request, base_url(request, svc.config))
    levels = [
        {"shape": list(lv.shape), "chunks": list(lv.chunks), "voxel_size": list(lv.voxel_size),
         "translation": list(lv.translation), "native": ds.pyramid.levels[i].native is not None}
        for i, lv in enumerate(ds.spec.levels)
    ]
    versioned = {view.name: view_url(base, view, ds.record.id, ds.version) for view in request.app.state.views}
    versioned["cutout"] = cutout_url(base, ds.record.id, ds.version)
    return json_response(request, {**_public(ds.record, base, request.app.state.views), "levels": levels,
                                   "versioned_links": versioned})


routes = [
    Route("/api/datasets", search),
    Route("/api/datasets/{id}", retrieve),
    Route("/api/query", search),
    Route("/api/retrieve", retrieve),
]
