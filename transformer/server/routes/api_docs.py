"""The JSON API described for machines at ``/openapi.json`` and for people at ``/docs``.

Generated from the running app's routes: starlette's ``SchemaGenerator`` reads the OpenAPI fragment in each
route handler's docstring (the YAML after ``---``), and every served view (writers/registry.py) adds its
path, so a new route or view is documented where it is written. ``/docs`` renders the same schema with the
site's templates (no external script: it works offline like the rest of the service).
"""

from __future__ import annotations

import importlib.metadata
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from transformer.server.auth import link_base
from transformer.server.http import base_url, json_response
from transformer.server.routes.pages import page

DESCRIPTION = """\
Brain microscopy served as OME-Zarr (zarr v2 and v3) and Neuroglancer precomputed, with a searchable catalog.

**Access.** Public datasets need nothing. Embargoed datasets list their record for everyone, and their data
(views, cutouts, Neuroglancer states, images) needs a token granting them: 401 without a token, 403 with a
token that does not grant the dataset. Private datasets are 404 without a token granting them. Send the token
as `Authorization: Bearer TOKEN` or as the path prefix `/t/TOKEN/` in front of any path below (for viewers
that cannot send headers); links in responses then carry the prefix. Tokens are made on the server with
`transformer token create`.

**Errors** are JSON `{"error": code, "reason": ..., "status": ...}` with exact status codes: 400 malformed input,
404 nothing there, 413 a cutout over the limit, 500 a source that failed (with an `error_id`)."""

_PATH_PARAM = re.compile(r"{([^}:]+)")


def schema_of(request: Request) -> dict:
    app = request.app
    generator = SchemaGenerator({
        "openapi": "3.0.3",
        "info": {"title": "brain-transformer", "version": _version(), "description": DESCRIPTION},
        "servers": [{"url": link_base(request, base_url(request, app.state.service.config))}],
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"token": []}],
    })
    schema = generator.get_schema(app.routes)
    schema["paths"] = {path: _fix_parameters(path, ops) for path, ops in schema["paths"].items()}
    for view in app.state.views:
        schema["paths"][f"{view.prefix}/{{segment}}/{{key}}"] = {"get": _view_operation(view)}
    return schema


def _fix_parameters(path: str, operations: dict) -> dict:
    """A handler serving two paths (``/api/datasets/{id}`` and ``/api/retrieve?id=``) declares ``id`` once, as
    a path parameter: on a path without it, it is a query parameter."""
    in_path = set(_PATH_PARAM.findall(path))
    out = {}
    for method, operation in operations.items():
        params = [
            {**p, "in": "query", "required": False} if p.get("in") == "path" and p["name"] not in in_path else p
            for p in operation.get("parameters", [])
        ]
        out[method] = {**operation, **({"parameters": params} if params else {})}
    return out


def _view_operation(view) -> dict:
    doc = (type(view).__doc__ or view.name).strip().splitlines()[0]
    return {
        "summary": f"{view.name}: documents and chunks",
        "description": f"{doc} The dataset segment is what `links.{view.name}` of a record names; keys are "
                       "canonical (another spelling is 400, a key outside the grid 404).",
        "parameters": [
            {"name": "segment", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "the dataset as the record's link spells it"},
            {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "a metadata document or a chunk key of the format"},
        ],
        "responses": {"200": {"description": "a JSON document or chunk bytes"},
                      "400": {"description": "a malformed key"}, "404": {"description": "no such key"}},
    }


def _version() -> str:
    try:
        return importlib.metadata.version("brain-transformer")
    except importlib.metadata.PackageNotFoundError:
        return "0"


async def openapi(request: Request) -> Response:
    return json_response(request, schema_of(request), max_age=0)


async def docs(request: Request) -> Response:
    schema = schema_of(request)
    base = link_base(request, base_url(request, request.app.state.service.config))
    return page("docs.html", base=base, schema=schema, openapi_url=f"{base}/openapi.json")


routes = [Route("/openapi.json", openapi, include_in_schema=False), Route("/docs", docs, include_in_schema=False)]
