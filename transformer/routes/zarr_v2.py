"""OME-NGFF 0.4 on zarr v2 at /zarr/{id}.ome.zarr/{key}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.errors import NotFound
from transformer.http import JSON, json_bytes, respond
from writers import ngff, zarr_v2
from writers.codecs import compressor

SUFFIX = ".ome.zarr"


def dataset_id(name: str) -> str:
    """The dataset id of a zarr view named ``{id}.ome.zarr`` (both zarr versions)."""
    if not name.endswith(SUFFIX):
        raise NotFound(f"zarr views are named {{id}}{SUFFIX}")
    return name[: -len(SUFFIX)]


async def zarr_key(request: Request) -> Response:
    svc = request.app.state.service
    ds = await svc.dataset(dataset_id(request.path_params["name"]))
    spec = ds.spec
    key = zarr_v2.parse_key(request.path_params["key"], spec)
    comp = compressor(svc.config.compressor)
    if isinstance(key, zarr_v2.MetadataKey):
        if key.name == ".zgroup":
            doc = zarr_v2.zgroup()
        elif key.name == ".zattrs":
            doc = ngff.zattrs_v04(spec)
        elif key.name == ".zmetadata":
            doc = zarr_v2.zmetadata(spec, comp)
        else:
            doc = zarr_v2.zarray(spec, spec.levels[int(key.name.split("/")[0])], comp)
        return respond(request, json_bytes(doc), JSON, max_age=60, compressible=True)

    level = spec.levels[key.level]

    def produce() -> bytes:
        return zarr_v2.encode_chunk(ds.pyramid.chunk(key.level, key.index), level, comp)

    return await svc.chunk_response(request, ds, ("zarr2", ds.version, comp.name, key.level, key.index), produce)


routes = [Route("/zarr/{name}/{key:path}", zarr_key)]
