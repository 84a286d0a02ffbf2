"""Who may see and read which dataset: tokens, grants and the one access check every route uses.

Every route that touches a dataset gets it through ``await svc.dataset(dataset_id, grant_of(request))``
(transformer.server.service), which calls :func:`admit`; search results and the home page list what
:func:`listing` allows. Access levels are catalog.access's:

- public: everything, for everyone;
- embargoed: the record for everyone; voxel data (every view, Neuroglancer states) 401 without a valid
  token, 403 with a valid token that does not grant the dataset;
- private: 404 for everything without a valid token granting it (its existence is not revealed).

A token comes as ``Authorization: Bearer TOKEN`` or as the path prefix ``/t/{TOKEN}/`` (stripped by
:class:`TokenPrefix` before routing, so every route and view works under it and relative keys keep it). It
is looked up on every request, so a revocation counts from the next one. Responses to a request carrying a
token (valid or not), and every response about non-public data, are ``Cache-Control: private, no-store``
(:class:`NoStoreWhenRestricted`), never enter the warm path's response cache and are never answered by it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.access import effective
from catalog.record import Record
from catalog.store import Catalog
from catalog.tokens import TOKEN_PATTERN, TokenRow, digest
from transformer.server.errors import Forbidden, NotFound, Unauthorized

log = logging.getLogger("transformer.audit")

PATH_TOKEN = "transformer.path_token"  # scope keys
CREDENTIALS = "transformer.credentials"
PREFIX = "/t/"


@dataclass
class Credentials:
    """What one request presented: no token, a token that is not valid (unknown, expired, revoked), or a
    valid one (``row``). ``restricted`` marks the response as private (set by the checks below)."""

    presented: bool = False
    token: str | None = None
    row: TokenRow | None = None
    restricted: bool = False

    @property
    def valid(self) -> bool:
        return self.row is not None

    def covers(self, dataset_id: str) -> bool:
        return self.row is not None and self.row.covers(dataset_id)

    @property
    def name(self) -> str:
        return self.row.name if self.row else "-"


def grant_of(request: Request) -> Credentials:
    """The request's credentials, looked up once per request (the token's sha256 in the catalog)."""
    creds = request.scope.get(CREDENTIALS)
    if creds is None:
        creds = request.scope[CREDENTIALS] = credentials(request.scope, request.app.state.service.catalog)
    return creds


def credentials(scope: Scope, catalog: Catalog) -> Credentials:
    token = scope.get(PATH_TOKEN)
    if token is None:
        scheme, _, value = (Headers(scope=scope).get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return Credentials(presented=bool(scheme), restricted=bool(scheme))
        token = value.strip()
    # any request with a token is answered private, no-store, valid or not: a shared cache must not keep it
    if not TOKEN_PATTERN.match(token):
        return Credentials(presented=True, restricted=True)
    row = catalog.token_by_hash(digest(token))
    if row is None or not row.valid():
        return Credentials(presented=True, restricted=True)
    return Credentials(presented=True, token=token, row=row, restricted=True)  # its links embed the token


def admit(record: Record, creds: Credentials, data: bool, audit: Counter) -> None:
    """Raise unless ``creds`` may see ``record`` (``data``: read its voxels, not just its record)."""
    level = record.access_now()
    if level == "public":
        return
    if level == "embargoed" and not data:
        return  # the record of an embargoed dataset is public
    if creds.covers(record.id):
        creds.restricted = True
        _audit(audit, record, creds, 200, data)
        return
    if level == "private":
        _audit(audit, record, creds, 404, data)
        raise NotFound(f"no dataset {record.id!r}")  # the same words as for an id nobody registered
    status = 403 if creds.valid else 401
    _audit(audit, record, creds, status, data)
    if creds.valid:
        raise Forbidden(f"this token does not grant dataset {record.id!r} (embargoed)")
    raise Unauthorized(f"dataset {record.id!r} is embargoed: its data needs a token "
                       "(Authorization: Bearer TOKEN, or the /t/TOKEN/ path prefix)")


def _audit(audit: Counter, record: Record, creds: Credentials, status: int, data: bool) -> None:
    if not data:
        return
    audit[(creds.name, record.id, status)] += 1
    log.info("restricted read dataset=%s token=%s status=%d", record.id, creds.name, status)


def readable(catalog: Catalog, creds: Credentials) -> list[str]:
    """The ids of the datasets whose voxels ``creds`` may read (:func:`admit` with ``data``, for every dataset
    at once from the catalog's access columns): public ones and those its token grants."""
    return [i for i, access, until in catalog.accesses() if effective(access, until) == "public" or creds.covers(i)]


def listing(creds: Credentials) -> dict:
    """Search arguments for what ``creds`` may list: public and embargoed records, plus granted private ones."""
    if creds.row is None:
        return {}
    if creds.row.datasets is None:
        return {"include_private": True}
    return {"granted": creds.row.datasets}


def link_base(request: Request, base: str) -> str:
    """The base of the links in a response: with the request's valid token embedded, so a shared link opens
    in viewers that cannot send headers."""
    creds = grant_of(request)
    return f"{base}{PREFIX}{creds.token}" if creds.valid else base


class TokenPrefix:
    """``/t/{TOKEN}/rest`` is ``/rest`` with that token. The path is rewritten in place, so the access log
    (which prints the scope's path) never shows the token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            token, _, rest = scope["path"][len(PREFIX):].partition("/")
            scope[PATH_TOKEN] = token
            scope["path"] = "/" + rest
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class NoStoreWhenRestricted:
    """A response about non-public data, or to a request with a token, is ``private, no-store``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            creds = scope.get(CREDENTIALS)
            if message["type"] == "http.response.start" and (creds is not None and creds.restricted):
                message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"].append((b"cache-control", b"private, no-store"))
            await send(message)

        await self.app(scope, receive, send_private)
