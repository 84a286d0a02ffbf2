"""The read-only S3 API (``--s3-prefix``, default /s3): every registered view is a bucket of the same name
(``zarr``, ``zarr3``, ``precomputed``) whose keys are the view's URLs below its prefix
(``{id}.ome.zarr/0/0/0/0/0/0``). ListBuckets, HeadBucket, ListObjects (v1 and v2), Get/HeadObject with Range
and If-Match/If-None-Match, S3 error XML. Under /s3/ chunks are plain (zarr uncompressed, precomputed raw),
so a listing states every size from the geometry alone and it equals the bytes a GET returns (docs/s3.md).

The view prefixes also answer listings (``GET /zarr/?list-type=2&prefix=…&delimiter=/``): Neuroglancer browses
a server that way. Those list the view's own keys; a chunk whose size is unknown until made is left out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from catalog.access import today
from catalog.record import Record
from transformer.engine.datasets import UnknownDataset
from transformer.server.auth import Credentials, admit, grant_of, readable
from transformer.server.errors import Forbidden, NotFound, Unauthorized, log_failure
from transformer.server.http import etag_matches, json_bytes
from transformer.server.parted import parted_response
from transformer.server.ranges import Unsatisfiable, content_range, plan, unsatisfied
from writers import s3_xml
from writers.codecs import compressor
from writers.errors import MalformedKey, NoSuchKey
from writers.listing import END, Folder, mapped, walk
from writers.s3_xml import Entry, InvalidArgument
from writers.view import Chunk, Document, View, ViewOptions, version_tag

log = logging.getLogger(__name__)
#: chunks under /s3/ are plain, so their sizes follow from the geometry (writers/view.ViewOptions.plain)
PLAIN = ViewOptions(compressor("none"), plain=True)
METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]  # all answered: writes with S3's own refusal
STARTED = datetime.now(UTC).replace(microsecond=0)  # the buckets' CreationDate


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def no_such_key(message: str = "The specified key does not exist.") -> S3Error:
    return S3Error(404, "NoSuchKey", message)


# --------------------------------------------------------------------------------------------- answers


def _answer(request: Request, rid: str, status: int, body: bytes, headers: dict[str, str],
            media_type: str = "application/xml") -> Response:
    length = headers.pop("Content-Length", None)
    response = Response(b"" if request.method == "HEAD" else body, status_code=status, media_type=media_type,
                        headers={"x-amz-request-id": rid, "x-amz-id-2": rid, **headers})
    if request.method == "HEAD":  # HEAD says the length GET would send
        response.headers["content-length"] = str(len(body) if length is None else length)
    return response


def _guarded(handler):
    """The S3 handler with every failure answered as S3 error XML (never the JSON errors of the other routes)."""

    async def serve(request: Request) -> Response:
        rid = secrets.token_hex(8).upper()
        try:
            if request.method not in ("GET", "HEAD"):
                raise S3Error(405, "MethodNotAllowed", "This service is read-only.")
            return await handler(request, rid)
        except S3Error as exc:
            error = exc
        except (NoSuchKey, MalformedKey, NotFound, UnknownDataset):
            error = no_such_key()
        except (Unauthorized, Forbidden):
            error = S3Error(403, "AccessDenied", "Access Denied")
        except InvalidArgument as exc:
            error = S3Error(400, "InvalidArgument", str(exc))
        except Exception as exc:  # noqa: BLE001 - answered as S3 XML, logged with an id
            error = S3Error(500, "InternalError", f"We encountered an internal error ({log_failure(exc, 500, 's3')}).")
        body = s3_xml.error(error.code, error.message, request.url.path, rid)
        return _answer(request, rid, error.status, body, {"Cache-Control": "no-store", **error.headers})

    return serve


# ---------------------------------------------------------------------------------------------- listing


def modified(record: Record) -> datetime:
    try:
        when = datetime.fromisoformat(record.added)
    except ValueError:
        return STARTED
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def entries(view: View, ds, options: ViewOptions) -> Callable[[Document | Chunk], Entry | None]:
    """What a listing and a HEAD say of a dataset's keys: a document's size and MD5 (it is rendered: it is small),
    a chunk's size from the geometry with an ETag that is not an MD5 (None: its size is unknown until made)."""
    when, etag = modified(ds.record), s3_xml.opaque_etags(ds.version, view.name)

    def entry(typed: Document | Chunk) -> Entry | None:
        if isinstance(typed, Document):
            body = json_bytes(view.document(typed, ds.spec, options))
            return Entry(len(body), s3_xml.md5_etag(body), when)
        size = view.chunk_size(typed, ds.spec, options)
        return None if size is None else Entry(size, etag(view.chunk_identity(typed, ds.spec, options)), when)

    return entry


#: (catalog, generation, day, view) -> the sorted dataset segments anonymous callers see: a page of a
#: 10,000-dataset bucket then does not read and sort the whole catalog first
_PUBLIC_SEGMENTS: dict[tuple, list[tuple[str, str]]] = {}


def segments_of(svc, view: View, creds: Credentials) -> list[tuple[str, str]]:
    """(``{segment}/``, dataset id) of every dataset ``creds`` may read, in key order."""
    key = (id(svc.catalog), svc.catalog.generation(), today(), view.name)
    if creds.row is None and key in _PUBLIC_SEGMENTS:
        return _PUBLIC_SEGMENTS[key]
    # data creds may not read is absent from listings, never listed and then refused
    segments = sorted((view.dataset_segment(i) + "/", i) for i in readable(svc.catalog, creds))
    if creds.row is None:
        if len(_PUBLIC_SEGMENTS) > 64:
            _PUBLIC_SEGMENTS.clear()
        _PUBLIC_SEGMENTS[key] = segments
    return segments


def bucket_tree(svc, view: View, options: ViewOptions, creds: Credentials) -> Folder:
    """Every key of a bucket: the visible datasets' segments, each opened only when a listing walks into it."""
    segments = segments_of(svc, view, creds)

    def dataset(k: int):
        dataset_id = segments[k][1]
        try:  # blocking: listings run in the worker pool
            ds = svc.datasets.peek(dataset_id) or svc.datasets.get(dataset_id)
            admit(ds.record, creds, True, svc.audit)
        except Exception as exc:  # noqa: BLE001 - gone or unreadable since: absent, not the listing's failure
            log.warning("s3 listing skips %s: %s", dataset_id, exc.__class__.__name__)
            return mapped(None, lambda typed: None)
        return mapped(view.tree(ds.spec, options), entries(view, ds, options))

    return Folder(tuple(s for s, _ in segments), dataset)


def root_tree(svc, views: Iterable[View], options: ViewOptions, creds: Credentials) -> Folder:
    """Every view's keys below its prefix (``zarr/{id}.ome.zarr/…``): the listing of the server's root, which
    Neuroglancer asks for (virtual-hosted style) when a user types the server's bare URL."""
    ordered = sorted((view.prefix.strip("/") + "/", view) for view in views)
    return Folder(tuple(name for name, _ in ordered), lambda k: bucket_tree(svc, ordered[k][1], options, creds))


def _checked(text: str, name: str) -> str:
    if len(text.encode("utf-8", "surrogatepass")) > s3_xml.MAX_KEY_BYTES:
        raise InvalidArgument(f"{name} is longer than {s3_xml.MAX_KEY_BYTES} bytes")
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) < 0xE000 for ch in text):
        raise InvalidArgument(f"{name} holds characters an S3 key cannot")
    return text


def max_keys_of(raw: str | None) -> int:
    if raw is None or raw == "":
        return s3_xml.MAX_KEYS
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise InvalidArgument("max-keys must be an integer between 0 and 2147483647")
    return min(int(raw), s3_xml.MAX_KEYS)


async def list_objects(request: Request, rid: str, bucket: str, view: View | Iterable[View],
                       options: ViewOptions, browsing: bool = False) -> Response:
    """ListObjects (v1 or v2) of one view's bucket, or of every view at the server's root (``view``: several).
    ``browsing``: the listing of a view prefix or the root, which Neuroglancer's folder browsing asks for."""
    q = request.query_params
    prefix, delimiter = _checked(q.get("prefix", ""), "prefix"), _checked(q.get("delimiter", ""), "delimiter")
    encoding = q.get("encoding-type")
    if encoding not in (None, "url"):
        raise InvalidArgument("Invalid Encoding Method specified in Request")
    max_keys = max_keys_of(q.get("max-keys"))
    v2 = q.get("list-type") == "2"
    continuation, start_after, marker = q.get("continuation-token"), q.get("start-after"), q.get("marker", "")
    if v2:
        after = _checked(start_after or "", "start-after")
        if continuation is not None:  # AWS: a token wins over start-after
            after = s3_xml.resume_of(continuation, bucket, prefix, delimiter)
    else:
        after = _checked(marker, "marker")
        if delimiter and after.startswith(prefix) and after.endswith(delimiter) and delimiter in after[len(prefix):]:
            after += END  # a NextMarker that names a common prefix resumes past it
    svc, creds = request.app.state.service, grant_of(request)

    def compute() -> s3_xml.Page:
        tree = (bucket_tree(svc, view, options, creds) if isinstance(view, View)
                else root_tree(svc, view, options, creds))
        return s3_xml.page(lambda start, collapse: walk(tree, "", start, collapse), prefix, delimiter, max_keys, after)

    result = await svc.run(compute)
    url = encoding == "url"
    if v2:
        next_token = (s3_xml.token(bucket, prefix, delimiter, result.resume)
                      if result.truncated and result.resume is not None else None)
        # a browser's fetch of such a listing is Neuroglancer browsing folders (Sec-Fetch-Mode: only browsers send
        # it): answered so its released versions parse it too (s3_xml.list_v2)
        for_browser = browsing and "sec-fetch-mode" in request.headers
        body = s3_xml.list_v2(bucket, prefix, delimiter, max_keys, url, result, continuation, next_token, start_after,
                              unqualified_copies=for_browser)
    else:
        body = s3_xml.list_v1(bucket, prefix, delimiter, max_keys, url, result, marker)
    return _answer(request, rid, 200, body, {"Cache-Control": "no-store"})


# ----------------------------------------------------------------------------------------------- objects


async def get_object(request: Request, rid: str, view: View, key: str) -> Response:
    if len(key.encode("utf-8", "surrogatepass")) > s3_xml.MAX_KEY_BYTES:
        raise S3Error(400, "KeyTooLongError", "Your key is too long")
    segment, _, rest = key.partition("/")
    ref = view.dataset_ref(segment)
    if ref is None or not rest:
        raise no_such_key()
    svc = request.app.state.service
    ds = await svc.dataset(ref[0], grant_of(request))
    if ref[1] is not None and ref[1] != version_tag(ds.version):
        raise no_such_key("This dataset version is no longer served.")
    typed = view.parse(rest, ds.spec)
    entry = entries(view, ds, PLAIN)(typed)
    body = None
    # a shard is made and sent part by part, below (parted.py)
    parts = view.parts(typed, ds.spec) if isinstance(typed, Chunk) else None
    if parts is None and entry is None:  # an encoding whose size only the bytes tell (precomputed jpeg): MD5 known too
        cache_key = (view.name, ds.version, view.chunk_identity(typed, ds.spec, PLAIN))
        body = (await svc.encoded_chunk(cache_key, lambda: view.encode(typed, ds.spec, ds.pyramid.chunk, PLAIN))).body
        entry = Entry(len(body), s3_xml.md5_etag(body), modified(ds.record))
    elif parts is None and isinstance(typed, Chunk) and request.method == "GET":
        # a plain chunk is its decoded block laid out (the blocks cache holds those): kept in the encoded cache
        # too, a dataset copied through /s3/ would only push out the compressed chunks viewers ask for. A block
        # in memory that already is the chunk is sent as it lies: no copy and no hop to the pool (which cost
        # half of a warm GET: docs/benchmarks.md part 15)
        body = view.plain_in_memory(typed, ds.spec, ds.pyramid.peek)
        if body is None:
            body = await svc.run(view.encode, typed, ds.spec, ds.pyramid.chunk, PLAIN)
        if len(body) != entry.size:  # a listing promised entry.size: never send another length under it
            raise RuntimeError(f"{view.name} chunk {rest} is {len(body)} bytes, not {entry.size}")
    elif isinstance(typed, Document):
        body = json_bytes(view.document(typed, ds.spec, PLAIN))
    headers = {"ETag": entry.etag, "Last-Modified": s3_xml.http_date(entry.modified), "Accept-Ranges": "bytes",
               "Cache-Control": "public, max-age=60"}
    if_match = request.headers.get("if-match")
    if if_match is not None and not etag_matches(if_match, entry.etag):
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
    if etag_matches(request.headers.get("if-none-match"), entry.etag):
        return _answer(request, rid, 304, b"", {**headers, "Content-Length": "0"})
    media = "application/json" if isinstance(typed, Document) else "application/octet-stream"
    try:
        span = plan(request.headers.get("range"), request.headers.get("if-range"), entry.etag, entry.size)
    except Unsatisfiable:
        raise S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                      {"Content-Range": unsatisfied(entry.size).decode()}) from None
    if parts is not None:
        headers.update({"x-amz-request-id": rid, "x-amz-id-2": rid})
        if span is not None:
            headers["Content-Range"] = content_range(*span, entry.size).decode()
        return await parted_response(request, svc, view, ds, parts, span or (0, entry.size),
                                     200 if span is None else 206, headers, media)
    if span is None:
        return _answer(request, rid, 200, body or b"", {**headers, "Content-Length": str(entry.size)}, media)
    start, stop = span
    headers["Content-Range"] = content_range(start, stop, entry.size).decode()
    return _answer(request, rid, 206, (body or b"")[start:stop], {**headers, "Content-Length": str(stop - start)},
                   media)


# ------------------------------------------------------------------------------------------------ routes


class ListingRoute(Route):
    """A route only for S3 listing requests (``list-type`` in the query): ``GET /`` stays the search page."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if b"list-type=" not in scope.get("query_string", b""):
            return Match.NONE, {}
        return super().matches(scope)


def routes(views: Iterable[View], prefix: str, browse_options: ViewOptions) -> list[Route]:
    """The S3 API under ``prefix`` ("" turns it off), and listings at every view's own prefix."""
    buckets = {view.name: view for view in views}

    def bucket_of(name: str) -> View:
        view = buckets.get(name)
        if view is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")
        return view

    async def service(request: Request, rid: str) -> Response:
        return _answer(request, rid, 200, s3_xml.list_buckets(sorted(buckets), STARTED), {"Cache-Control": "no-store"})

    async def bucket(request: Request, rid: str) -> Response:
        name = request.path_params["bucket"]
        view = bucket_of(name)
        if request.method == "HEAD":  # HeadBucket: clients probe it
            return _answer(request, rid, 200, b"", {"Cache-Control": "no-store"})
        if "location" in request.query_params:
            return _answer(request, rid, 200, s3_xml.location(), {"Cache-Control": "no-store"})
        return await list_objects(request, rid, name, view, PLAIN)

    async def obj(request: Request, rid: str) -> Response:
        return await get_object(request, rid, bucket_of(request.path_params["bucket"]), request.path_params["key"])

    def browse(view: View):
        async def listing(request: Request, rid: str) -> Response:
            return await list_objects(request, rid, view.prefix.strip("/"), view, browse_options, browsing=True)

        return listing

    async def root(request: Request, rid: str) -> Response:
        return await list_objects(request, rid, "", buckets.values(), browse_options, browsing=True)

    out = [Route(f"{view.prefix}/", _guarded(browse(view)), methods=METHODS) for view in buckets.values()]
    out.append(ListingRoute("/", _guarded(root), methods=["GET", "HEAD"]))
    if prefix:
        prefix = "/" + prefix.strip("/")
        out += [Route(path, _guarded(handler), methods=METHODS) for path, handler in (
            (prefix, service), (f"{prefix}/", service), (f"{prefix}/{{bucket}}", bucket),
            (f"{prefix}/{{bucket}}/", bucket), (f"{prefix}/{{bucket}}/{{key:path}}", obj))]
    return out
