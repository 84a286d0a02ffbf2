"""OME-NGFF 0.4 on zarr v2 at /zarr/{id}.ome.zarr/{key}."""

from __future__ import annotations

from starlette.routing import Route

from transformer.server.routes.zarr_views import endpoint
from writers import ngff, zarr_v2
from writers.codecs import Compressor
from writers.spec import ImageSpec


def metadata(key: zarr_v2.MetadataKey, spec: ImageSpec, comp: Compressor) -> dict:
    if key.name == ".zgroup":
        return zarr_v2.zgroup()
    if key.name == ".zattrs":
        return ngff.zattrs_v04(spec)
    if key.name == ".zmetadata":
        return zarr_v2.zmetadata(spec, comp)
    return zarr_v2.zarray(spec, spec.levels[int(key.name.split("/")[0])], comp)


routes = [Route("/zarr/{name}/{key:path}", endpoint("zarr2", zarr_v2, metadata))]
