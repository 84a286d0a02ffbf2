"""Routes of the objects beside an image (neurons, cells), built from writers/objects_registry.py.

Every handler gets its dataset through ``Service.dataset(id, grant_of(request))`` like the image chunks (an
embargoed dataset's objects are 401 without a token, a private one's 404), then does its work in the pool:
parsing, indexing and encoding never run on the event loop. Encoded objects are cached under the dataset's
version (``encoded``) and, for public data, kept for the warm path like image chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from transformer.server.auth import grant_of
from transformer.server.errors import BadRequest, NotFound
from transformer.server.http import JSON, json_bytes, respond
from writers.cell_rows import encode_cell_rows
from writers.errors import MalformedKey, NoSuchKey
from writers.objects_registry import OBJECTS_PREFIX, ObjectKey, ObjectView, installed
from writers.skeletons import (
    encode_skeleton_um,
    properties_of_summaries,
    skeleton_info,
    skeleton_volume_info,
)

_CELL = re.compile(r"^(0|[1-9][0-9]*)_(0|[1-9][0-9]*)_(0|[1-9][0-9]*)$")


class ObjectPaths:
    """What the warm path (server/fastpath.py) needs of the object routes: their prefix and the dataset a
    path segment names."""

    prefix = OBJECTS_PREFIX

    @staticmethod
    def dataset_id(segment: str) -> str | None:
        return segment or None


async def _dataset(request: Request, param: str = "segment"):
    """The service and the dataset the path parameter ``param`` names, with the request's grant."""
    svc = request.app.state.service
    return svc, await svc.dataset(request.path_params[param], grant_of(request))


async def _cached(request: Request, svc, ds, key: tuple, produce: Callable[[], bytes], media_type: str):
    """The bytes of ``key`` (made once in the pool, cached under the dataset version) as a response; public
    binary objects are also kept for the warm path."""
    if media_type != JSON:
        return await svc.chunk_response(request, ds, (*key, ds.version), produce, compressible=True)
    encoded = await svc.encoded_chunk((*key, ds.version), produce)
    return respond(request, encoded.body, JSON, etag=encoded.etag, max_age=60, compressible=True)


async def volume_info(request: Request) -> Response:
    """A volume info naming the skeleton directory (what cloud-volume opens to read skeletons).
    ---
    summary: A segmentation volume info whose skeletons are the dataset's neurons (no chunks of its own)
    parameters:
      - {name: segment, in: path, required: true, schema: {type: string}, description: the dataset id}
    responses:
      "200": {description: "neuroglancer_multiscale_volume info with skeletons: skeletons"}
      "404": {description: no such dataset, or it has no neurons}
    """
    svc, ds = await _dataset(request)
    if not svc.objects.entries(ds, "neuron"):
        raise NotFound(f"dataset {ds.record.id!r} has no neurons")
    level = ds.spec.levels[0]
    info = skeleton_volume_info(level.shape[2:], level.voxel_size)
    return respond(request, json_bytes(info), JSON, max_age=60, compressible=True)


def endpoint(view: ObjectView):
    async def serve(request: Request) -> Response:
        svc, ds = await _dataset(request)
        object_id = request.path_params.get("object")
        if view.per_object:
            svc.objects.entry(ds, view.kind, object_id)  # 404 for a table the dataset lacks
        elif not svc.objects.entries(ds, view.kind):
            raise NotFound(f"dataset {ds.record.id!r} has no {view.name}")
        key = view.parse(request.path_params["key"])
        handler = SKELETON_KEYS if view.kind == "neuron" else CELL_KEYS
        return await handler[key.what](request, svc, ds, view, key, object_id)

    return serve


# -- skeletons ---------------------------------------------------------------------------------------------


async def _skeleton_info(request, svc, ds, view, key: ObjectKey, _object):
    return respond(request, json_bytes(skeleton_info()), JSON, max_age=60, compressible=True)


async def _segment_properties(request, svc, ds, view, key: ObjectKey, _object):
    """Labels always; tags and numbers from the neurons' summaries. Neurons not parsed yet are parsed here when
    they are few (engine.objects.AUTO_PARSE_BYTES); otherwise the answer leaves the numbers out (they need a
    value per neuron), tags only the parsed ones, and is not cached, so it fills in as neurons get viewed."""
    summaries = await svc.run(svc.objects.summaries, ds, None)
    if all("nodes" in s or "refusal" in s for s in summaries):
        return await _cached(request, svc, ds, ("segment_properties",), lambda: properties_bytes(summaries), JSON)
    return respond(request, properties_bytes(summaries), JSON, max_age=0, compressible=True)


def properties_bytes(summaries: list[dict]) -> bytes:
    return json_bytes(properties_of_summaries(summaries))


async def _skeleton(request, svc, ds, view, key: ObjectKey, _object):
    object_id = str(key.object_id)
    svc.objects.entry(ds, "neuron", object_id)  # 404 before any work for an id the dataset lacks

    def produce() -> bytes:
        neuron = svc.objects.neuron(ds, object_id)
        m = neuron.morphology
        return encode_skeleton_um(neuron.xyz_um, m.edges(), neuron.radius_um, m.types)

    return await _cached(request, svc, ds, ("skeleton", object_id), produce, "application/octet-stream")


SKELETON_KEYS = {"info": _skeleton_info, "segment_properties": _segment_properties, "skeleton": _skeleton}


# -- cells -------------------------------------------------------------------------------------------------


async def _table(svc, ds, object_id: str):
    return await svc.run(svc.objects.cell_table, ds, object_id)


async def _cells_info(request, svc, ds, view, key: ObjectKey, object_id):
    def produce() -> bytes:
        return json_bytes(svc.objects.cell_table(ds, object_id).info)

    return await _cached(request, svc, ds, ("cells_info", object_id), produce, JSON)


async def _by_id(request, svc, ds, view, key: ObjectKey, object_id):
    table = await _table(svc, ds, object_id)
    row = table.row_of(key.object_id)
    if row is None:
        raise NoSuchKey(f"no cell {key.object_id} in this table")
    return await _cached(
        request, svc, ds, ("cell", object_id, key.object_id), lambda: table.by_id_bytes(row), "application/octet-stream"
    )


async def _spatial(request, svc, ds, view, key: ObjectKey, object_id):
    from writers.annotations import cell_key, parse_cell_key

    table = await _table(svc, ds, object_id)
    found = table.level(key.level)
    if found is None:
        raise NoSuchKey(f"no spatial level {key.level!r}")
    level, spec = found
    if not _CELL.match(key.cell):
        raise MalformedKey(f"{key.cell[:40]!r} is not a cell key (i_j_k, canonical decimals)")
    ijk = parse_cell_key(key.cell, spec)
    if ijk is None or cell_key(ijk) != key.cell:
        raise NoSuchKey(f"no cell {key.cell[:40]!r} in {key.level} (grid {spec['grid_shape']})")
    return await _cached(
        request,
        svc,
        ds,
        ("spatial", object_id, level, ijk),
        lambda: table.spatial_bytes(level, ijk),
        "application/octet-stream",
    )


CELL_KEYS = {"info": _cells_info, "by_id": _by_id, "spatial": _spatial}


# -- raw and JSON forms, box queries (/api/datasets/{id}/...) ----------------------------------------------


async def neurons(request: Request) -> Response:
    """Every neuron of a dataset with what parsing found, and the cell tables.
    ---
    summary: The neurons of a dataset (id, file name, nodes, cable length, soma, types, warnings or refusal)
    description: >-
      Coordinates are µm in the image's physical frame (x, y, z). parse=0 lists only what is known already,
      1 parses every neuron not parsed yet, auto (the default) does so when they are at most 64 MiB of SWC.
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: parse, in: query, schema: {type: string, enum: [auto, "0", "1"], default: auto}}
    responses:
      "200": {description: "{dataset, units, axes, neurons, cell_tables}"}
      "401": {description: embargoed, no token}
      "404": {description: no such dataset}
    """
    svc, ds = await _dataset(request, "id")
    choices = {"1": True, "0": False, "auto": None}
    text = request.query_params.get("parse", "auto")
    if text not in choices:
        raise BadRequest("parse must be 0, 1 or auto")
    parse = choices[text]
    rows = await svc.run(svc.objects.summaries, ds, parse)
    tables = [{"id": e["id"], "name": e["name"]} for e in svc.objects.entries(ds, "cells")]
    return respond(
        request,
        json_bytes(
            {"dataset": ds.record.id, "units": "um", "axes": ["x", "y", "z"], "neurons": rows, "cell_tables": tables}
        ),
        JSON,
        max_age=60,
        compressible=True,
    )


def _split_name(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.partition(".")
    return stem, suffix if dot else ""


async def neuron(request: Request) -> Response:
    """One neuron as archived or as arrays.
    ---
    summary: One neuron, {nid}.swc (the file as archived) or {nid}.json (nodes as arrays, summary, defects)
    description: JSON coordinates are µm in the image's physical frame (x, y, z).
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: name, in: path, required: true, schema: {type: string}, description: "{neuron id}.swc or .json"}
    responses:
      "200": {description: the SWC text or the JSON form}
      "404": {description: no such dataset or neuron, or a refused file}
    """
    svc, ds = await _dataset(request, "id")
    object_id, suffix = _split_name(request.path_params["name"])
    if suffix not in ("", "json", "swc"):
        raise NotFound(f"neurons are served as {{id}}.swc or {{id}}.json, not .{suffix[:20]}")
    entry = svc.objects.entry(ds, "neuron", object_id)
    if suffix == "swc":
        body = await svc.run(svc.objects.path(ds, entry).read_bytes)
        response = respond(request, body, "text/plain", max_age=60, compressible=True)
        response.headers["Content-Disposition"] = f'attachment; filename="{object_id}.swc"'
        return response

    def produce() -> bytes:
        n = svc.objects.neuron(ds, object_id)
        m = n.morphology
        rows = m.parent
        return json_bytes(
            {
                "id": object_id,
                "name": entry["name"],
                "label": n.summary.get("label"),
                "units": "um",
                "summary": n.summary,
                "nodes": {
                    "id": m.ids.tolist(),
                    "type": m.types.tolist(),
                    "x": n.xyz_um[:, 0].tolist(),
                    "y": n.xyz_um[:, 1].tolist(),
                    "z": n.xyz_um[:, 2].tolist(),
                    "radius": n.radius_um.tolist(),
                    "parent_row": rows.tolist(),
                    "parent": np.where(rows >= 0, m.ids[np.maximum(rows, 0)], -1).tolist(),
                },
            }
        )

    return await _cached(request, svc, ds, ("neuron_json", object_id), produce, JSON)


def _axis_range(request: Request, axis: str, size: int) -> tuple[int, int]:
    """``a:b`` (level-0 voxels, half-open), ``a`` (one plane) or absent (the whole axis)."""
    text = request.query_params.get(axis)
    if text is None or text == "":
        return 0, size
    a, sep, b = text.partition(":")
    try:
        lo = int(a) if a else 0
        hi = int(b) if sep and b else (size if sep else lo + 1)
    except ValueError:
        raise BadRequest(f"{axis}={text[:40]!r}: expected a:b in voxels") from None
    if not 0 <= lo < hi:
        raise BadRequest(f"{axis}={text[:40]!r}: expected 0 <= a < b")
    return lo, hi


async def cells(request: Request) -> Response:
    """The cells of a table inside a box.
    ---
    summary: Cells inside a box of level-0 voxels, as CSV or npy (id, z, y, x in µm, then the properties)
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: z, in: query, schema: {type: string}, description: "a:b level-0 voxels, half-open (absent: all)"}
      - {name: y, in: query, schema: {type: string}}
      - {name: x, in: query, schema: {type: string}}
      - {name: format, in: query, schema: {type: string, enum: [csv, npy], default: csv}}
      - {name: table, in: query, schema: {type: string}, description: a cell table id (default the first)}
    responses:
      "200": {description: CSV text or an npy structured array}
      "400": {description: a malformed box or format}
      "404": {description: no such dataset or cell table}
    """
    svc, ds = await _dataset(request, "id")
    tables = svc.objects.entries(ds, "cells")
    if not tables:
        raise NotFound(f"dataset {ds.record.id!r} has no cell table")
    object_id = request.query_params.get("table") or tables[0]["id"]
    svc.objects.entry(ds, "cells", object_id)
    fmt = request.query_params.get("format", "csv")
    if fmt not in ("csv", "npy"):
        raise BadRequest("format must be csv or npy")
    _, _, nz, ny, nx = ds.spec.levels[0].shape
    vz, vy, vx = ds.record.voxel_size
    (z0, z1), (y0, y1), (x0, x1) = (_axis_range(request, a, n) for a, n in (("z", nz), ("y", ny), ("x", nx)))
    # voxel i spans [(i - 0.5) v, (i + 0.5) v) of the physical frame (its centre at i v, docs/objects.md)
    lower = np.array([(x0 - 0.5) * vx, (y0 - 0.5) * vy, (z0 - 0.5) * vz])
    upper = np.array([(x1 - 0.5) * vx, (y1 - 0.5) * vy, (z1 - 0.5) * vz])

    def produce() -> bytes:
        table = svc.objects.cell_table(ds, object_id)
        rows = table.within(lower, upper)
        return box_bytes(table, rows, fmt)

    body = await svc.run(produce)
    media = "text/csv" if fmt == "csv" else "application/octet-stream"
    return respond(request, body, media, max_age=60, compressible=fmt == "csv")


def box_bytes(table, rows: np.ndarray, fmt: str) -> bytes:
    """The rows as CSV or npy: id, z, y, x (µm) and every property."""
    props = {s["id"]: table.props[s["id"]][rows] for s in table.specs}
    return encode_cell_rows(table.ids_of(rows), table.xyz_nm[rows], props, fmt)


async def cell_file(request: Request) -> Response:
    """One cell table as archived.
    ---
    summary: A cell table as archived, {table id}.{its suffix} (csv or apo)
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      "200": {description: the file}
      "404": {description: no such dataset or table, or another suffix}
    """
    svc, ds = await _dataset(request, "id")
    object_id, suffix = _split_name(request.path_params["name"])
    entry = svc.objects.entry(ds, "cells", object_id)
    own = entry["name"].rsplit(".", 1)[-1].lower() if "." in entry["name"] else ""
    if suffix.lower() != own:
        raise NotFound(f"this table is served as {object_id}.{own}")
    body = await svc.run(svc.objects.path(ds, entry).read_bytes)
    response = respond(request, body, "text/csv" if own == "csv" else "text/plain", max_age=60, compressible=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{object_id}.{own}"'
    return response


#: neurons listed on a landing page (the rest are in the neuron list of the API)
PAGE_NEURONS = 500


def page_objects(svc, ds, links: dict) -> dict:
    """What a landing page lists of a dataset's objects, from the catalog (blocking, nothing is parsed): each
    neuron's name, nodes and cable length where known, and a link opening it in Neuroglancer centred on its
    soma; each cell table's name and row count."""
    rows = svc.objects.rows(ds)
    neurons, tables = [], []
    for entry in ds.record.attached:
        summary = rows.get(entry["id"], {}).get("summary", {})
        item = {"id": entry["id"], "name": entry["name"], **summary}
        if entry["kind"] == "neuron" and len(neurons) < PAGE_NEURONS:
            item["open"] = f"{links['neuroglancer']}?neuron={entry['id']}"
            item["swc"] = f"{links['neurons']}/{entry['id']}.swc"
            neurons.append(item)
        elif entry["kind"] == "cells":
            suffix = entry["name"].rsplit(".", 1)[-1].lower()
            item["file"] = f"{links['cells']}/{entry['id']}.{suffix}"
            tables.append(item)
    count = sum(1 for e in ds.record.attached if e["kind"] == "neuron")
    return {"neurons": neurons, "neuron_count": count, "tables": tables}


def object_routes() -> list[Route]:
    routes = [Route(f"{OBJECTS_PREFIX}/{{segment}}/info", volume_info)]
    for view in installed():
        inner = "{object}/{key:path}" if view.per_object else "{key:path}"
        routes.append(Route(f"{OBJECTS_PREFIX}/{{segment}}/{view.name}/{inner}", endpoint(view)))
    return [
        *routes,
        Route("/api/datasets/{id}/neurons", neurons),
        Route("/api/datasets/{id}/neurons/{name}", neuron),
        Route("/api/datasets/{id}/cells", cells),
        Route("/api/datasets/{id}/cells/{name}", cell_file),
    ]


routes = object_routes()
