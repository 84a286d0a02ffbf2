"""OME-Zarr 0.5 on zarr v3 at /zarr3/{id}.ome.zarr/{key}."""

from __future__ import annotations

from starlette.routing import Route

from transformer.server.routes.zarr_views import endpoint
from writers import zarr_v3
from writers.codecs import Compressor
from writers.spec import ImageSpec


def metadata(key: zarr_v3.MetadataKey, spec: ImageSpec, comp: Compressor) -> dict:
    if key.level is None:
        return zarr_v3.group_json(spec, comp)
    return zarr_v3.array_json(spec, spec.levels[key.level], comp)


routes = [Route("/zarr3/{name}/{key:path}", endpoint("zarr3", zarr_v3, metadata))]
