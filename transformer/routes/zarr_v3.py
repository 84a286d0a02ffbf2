"""OME-Zarr 0.5 on zarr v3 at /zarr3/{id}.ome.zarr/{key}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.http import JSON, json_bytes, respond
from transformer.routes.zarr_v2 import dataset_id
from writers import zarr_v3
from writers.codecs import compressor


async def zarr3_key(request: Request) -> Response:
    svc = request.app.state.service
    ds = await svc.dataset(dataset_id(request.path_params["name"]))
    spec = ds.spec
    key = zarr_v3.parse_key(request.path_params["key"], spec)
    comp = compressor(svc.config.compressor)
    if isinstance(key, zarr_v3.MetadataKey):
        if key.level is None:
            doc = zarr_v3.group_json(spec, comp)
        else:
            doc = zarr_v3.array_json(spec, spec.levels[key.level], comp)
        return respond(request, json_bytes(doc), JSON, max_age=60, compressible=True)

    level = spec.levels[key.level]

    def produce() -> bytes:
        return zarr_v3.encode_chunk(ds.pyramid.chunk(key.level, key.index), level, comp)

    return await svc.chunk_response(request, ds, ("zarr3", ds.version, comp.name, key.level, key.index), produce)


routes = [Route("/zarr3/{name}/{key:path}", zarr3_key)]
