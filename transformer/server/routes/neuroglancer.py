"""Neuroglancer: viewer states and links for a dataset, and the viewer itself at /viewer/.

- ``GET /api/datasets/{id}/neuroglancer?source=VIEW&t=0`` (any installed view Neuroglancer opens: zarr, zarr3,
  precomputed, zarr3-sharded) → ``{"state", "url", "source"}``.
  The default source is ``zarr`` (OME-Zarr 0.4 on zarr v2): neuroglancer reads its OME transform natively
  (no half-voxel compensation needed), it carries every time point and channel in one source, any dtype is
  served as is (precomputed has no float64/int64), and every neuroglancer build and most other viewers read
  zarr v2.
- ``GET /neuroglancer/{id}`` (same query) → 307 to the link.
- ``/viewer/`` serves the neuroglancer client bundled in the ``neuroglancer`` pip package, so links work
  with no network. That bundle is neuroglancer's Python-integration build: it needs its page under
  ``.../v/{token}/`` and opens an event stream to the Python server. ``/viewer/`` therefore serves its
  ``index.html`` with a small inline script that moves the address to ``/viewer/v/standalone/`` (same page, no
  reload) and stands in for that event stream, and every file name of the bundle is served at any depth
  under ``/viewer/``. With ``viewer_url`` configured, links open that viewer instead.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from transformer.server.auth import grant_of, link_base
from transformer.server.errors import BadRequest, NotFound
from transformer.server.http import base_url, etag_of, gzip_bytes, gzip_wanted, json_response, query_int, respond
from transformer.server.routes.links import view_url
from transformer.server.service import Encoded
from writers import neuroglancer
from writers.keys import MAX_DIGITS, shown
from writers.neuroglancer_objects import add_object_layers
from writers.objects_registry import CELLS, SKELETONS, source_url
from writers.view import View

DEFAULT_SOURCE = "zarr"
STANDALONE = "v/standalone/"  # where the shim moves the page: the bundle needs ".../v/{token}/"

# Runs before the bundle: give it the ".../v/{token}/" address it parses at start-up, a state fragment (so
# it keeps the state in the address bar instead of posting it to a Python server), and an event stream
# that "connects" without a server. Everything else in the bundle is the unmodified neuroglancer client.
SHIM = """<script>(function () {
  var path = location.pathname;
  if (!/\\/v\\/[^/]+/.test(path)) {
    path = path.replace(/\\/?$/, "/") + "STANDALONE";
  }
  history.replaceState(null, "", path + location.search + (location.hash || "#!%7B%7D"));
  var Real = window.EventSource;
  window.EventSource = function (url, options) {
    if (String(url).indexOf("/events/") < 0) return new Real(url, options);
    var self = this;
    self.readyState = 1;
    self.url = String(url);
    self.close = function () { self.readyState = 2; };
    setTimeout(function () { if (self.onopen) self.onopen({}); }, 0);
  };
})();</script>""".replace("STANDALONE", STANDALONE)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".wasm": "application/wasm",
}
MAX_NAME = 128  # the bundle's longest file name is ~40 characters
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.(?:js|map|css|wasm|html)$")


def client_dir() -> Path | None:
    """The built client inside the installed neuroglancer package (found without importing it)."""
    spec = importlib.util.find_spec("neuroglancer")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "static" / "client"
    return folder if (folder / "index.html").is_file() else None


def read_bundled(name: str) -> bytes:
    """One file of the bundle (``index.html`` with the shim); raises NotFound."""
    folder = client_dir()
    if folder is None:
        raise NotFound("the neuroglancer package (and its bundled viewer) is not installed")
    # the name is checked before the file system sees it: a 300-byte name is "no such file" (404), not
    # an ENAMETOOLONG (500)
    if len(name) > MAX_NAME or not _NAME.match(name) or not (folder / name).is_file():
        raise NotFound(f"the viewer has no file {shown(name)}")
    body = (folder / name).read_bytes()
    if name == "index.html":
        body = body.replace(b"<head>", b"<head>" + SHIM.encode(), 1)
    return body


async def _kept(svc, key: tuple, produce: Callable[[], bytes]) -> Encoded:
    """``produce()`` run once in the pool and kept in the service's ``encoded`` cache: the bundle (~5 MB,
    ~16 MB with its source maps, and their gzipped copies) counts in ``--cache-mb`` like every encoded byte,
    and a file is read and gzipped again only after the cache let it go."""

    def tagged() -> Encoded:
        body = produce()
        return Encoded(body, etag_of(body))

    return await svc.encoded.get_or_compute_async(key, lambda: svc.run(tagged))


def _source(request: Request) -> View:
    """The view named by ``source=``, among the views Neuroglancer can open."""
    kind = request.query_params.get("source") or DEFAULT_SOURCE
    openable = {view.name: view for view in request.app.state.views if view.neuroglancer is not None}
    if kind not in openable:
        raise BadRequest(f"source={kind!r}: choose one of {', '.join(openable)}")
    return openable[kind]


def _time(request: Request, n_times: int) -> int:
    t = query_int(request, "t", 0, hi=10**MAX_DIGITS)  # any canonical number; past the last time point: 404
    if t >= n_times:
        raise NotFound(f"time point {t} does not exist (0..{n_times - 1})")
    return t


async def _state(request: Request) -> tuple[str, dict, str]:
    svc = request.app.state.service
    view = _source(request)
    ds = await svc.dataset(request.path_params["id"], grant_of(request))
    spec = ds.spec
    t = _time(request, spec.levels[0].shape[0])
    base = base_url(request, svc.config)
    refusal = view.refusal(spec)
    if refusal is not None:
        raise NotFound(f"no {view.name} view of this dataset: {refusal}")
    # the immutable URL of this version: cached for a year by browsers and proxies
    url = view.neuroglancer_url(view_url(link_base(request, base), view, ds.record.id, ds.version), t)
    state = neuroglancer.viewer_state(spec, view.neuroglancer, url, t)
    if ds.record.attached:
        state = await _with_objects(request, svc, ds, state, link_base(request, base))
    link = neuroglancer.state_url(state, svc.config.viewer_url or f"{base}/viewer/")
    return view.name, state, link


async def _with_objects(request: Request, svc, ds, state: dict, base: str) -> dict:
    """The state with the dataset's neurons (all selected up to MAX_SELECTED, refused ones left out) and cell
    tables; ``?neuron=ID`` selects that neuron alone and centres the view on its soma (else its first node)."""
    neurons = svc.objects.entries(ds, "neuron")
    tables = svc.objects.entries(ds, "cells")
    focus = request.query_params.get("neuron")
    centre = None
    if focus is not None:
        neuron = await svc.run(svc.objects.neuron, ds, focus)  # 404 for an id the dataset lacks or refuses
        soma = neuron.summary.get("soma_xyz_um")
        x, y, z = soma if soma is not None else neuron.xyz_um[0].tolist()
        vz, vy, vx = ds.record.voxel_size
        centre = (x / vx, y / vy, z / vz)  # µm to level-0 voxels: voxel centres at integer coordinates
        segments = [focus]
    else:
        rows = await svc.run(svc.objects.rows, ds)
        segments = [e["id"] for e in neurons if "refusal" not in rows.get(e["id"], {}).get("summary", {})]
    skeletons = source_url(base, SKELETONS, ds.record.id) if neurons else None
    cells = [(e["name"], source_url(base, CELLS, ds.record.id, e["id"])) for e in tables]
    for entry in tables:  # the viewer asks for the tables next: index them while the link travels (single flight)
        svc.pool.submit(_quietly, svc.objects.cell_table, ds, entry["id"])
    return add_object_layers(state, skeletons, segments, cells, centre)


def _quietly(fn, *args) -> None:
    """Background work whose failure the request that needs its result will meet and report."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - e.g. a refused table: its own route answers 404 with the reason
        pass


async def state_api(request: Request) -> Response:
    """A Neuroglancer viewer state.
    ---
    summary: Neuroglancer viewer state and link for a dataset
    description: >-
      A layer per channel with colour and window, physical units, centred; url opens the bundled viewer
      (/viewer/) on it. GET /neuroglancer/{id} redirects to that url.
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: source, in: query, schema: {type: string, enum: [zarr, zarr3, precomputed], default: zarr}}
      - {name: t, in: query, schema: {type: integer, default: 0}}
    responses:
      "200": {description: "{source, state, url}"}
      "401": {description: embargoed, no token}
      "404": {description: no such dataset or time point}
    """
    kind, state, link = await _state(request)
    return json_response(request, {"source": kind, "state": state, "url": link}, max_age=0)


async def open_viewer(request: Request) -> Response:
    """Open a dataset in Neuroglancer.
    ---
    summary: Redirect (307) to the bundled Neuroglancer showing the dataset
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: source, in: query, schema: {type: string, enum: [zarr, zarr3, precomputed], default: zarr}}
    responses:
      "307": {description: to the viewer link}
    """
    _, _, link = await _state(request)
    return RedirectResponse(link, status_code=307, headers={"Cache-Control": "no-store"})


async def viewer_file(request: Request) -> Response:
    path: str = request.path_params.get("path", "")
    name = "index.html" if path == "" or path.endswith("/") else path.rsplit("/", 1)[-1]
    svc = request.app.state.service
    # read and gzipped in the pool (a source map is megabytes: it would stall the event loop), once
    file = await _kept(svc, ("viewer", name), functools.partial(read_bundled, name))
    compressible = not name.endswith(".wasm")
    gzipped = None
    if compressible and gzip_wanted(request, len(file.body)):
        gzipped = (await _kept(svc, ("viewer", name, "gzip"), functools.partial(gzip_bytes, file.body, 6))).body
    media = _TYPES.get(Path(name).suffix, "application/octet-stream")
    max_age = 0 if name == "index.html" else 86400  # index.html: small and rewritten per release, revalidated
    return respond(request, file.body, media, etag=file.etag, max_age=max_age, compressible=compressible,
                   gzipped=gzipped)


async def viewer_root(request: Request) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"viewer/{query}", status_code=307)  # relative: right behind a path prefix too


routes = [
    Route("/api/datasets/{id}/neuroglancer", state_api),
    Route("/neuroglancer/{id}", open_viewer),
    Route("/viewer", viewer_root),
    Route("/viewer/{path:path}", viewer_file),
]
