"""What the zarr v2 and v3 views share: the view name, and one endpoint shape over a format writer."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from starlette.requests import Request
from starlette.responses import Response

from transformer.server.errors import NotFound
from transformer.server.http import JSON, json_bytes, respond
from writers.codecs import Compressor, compressor
from writers.spec import ImageSpec

SUFFIX = ".ome.zarr"


def dataset_id(name: str) -> str:
    """The dataset id of a zarr view named ``{id}.ome.zarr`` (both zarr versions)."""
    if not name.endswith(SUFFIX):
        raise NotFound(f"zarr views are named {{id}}{SUFFIX}")
    return name[: -len(SUFFIX)]


def endpoint(tag: str, writer: ModuleType, metadata: Callable[[object, ImageSpec, Compressor], dict]):
    """A route serving one zarr view: ``writer`` parses keys and encodes chunks; ``metadata`` builds the
    JSON document of a metadata key. ``tag`` keeps the two views' chunks apart in the caches."""

    async def serve(request: Request) -> Response:
        svc = request.app.state.service
        ds = await svc.dataset(dataset_id(request.path_params["name"]))
        key = writer.parse_key(request.path_params["key"], ds.spec)
        comp = compressor(svc.config.compressor)
        if isinstance(key, writer.MetadataKey):
            doc = metadata(key, ds.spec, comp)
            return respond(request, json_bytes(doc), JSON, max_age=60, compressible=True)
        level = ds.spec.levels[key.level]

        def produce() -> bytes:
            return writer.encode_chunk(ds.pyramid.chunk(key.level, key.index), level, comp)

        return await svc.chunk_response(request, ds, (tag, ds.version, comp.name, key.level, key.index), produce)

    return serve
