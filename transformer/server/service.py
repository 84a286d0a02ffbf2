"""The running service's state: catalog, open datasets, caches, worker pool, counters."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from catalog.record import Record
from catalog.store import Catalog
from transformer.config import Config
from transformer.engine.datasets import Dataset, DatasetRegistry
from transformer.engine.objects import ObjectStore
from transformer.engine.resources import Resources
from transformer.server.auth import CREDENTIALS, Credentials, admit
from transformer.server.fastpath import CachedResponse, cache_key
from transformer.server.http import UNVERSIONED_MAX_AGE, etag_of, gzip_bytes, gzip_wanted, ranged, respond
from transformer.server.ranges import wants_identity
from transformer.server.scratch import Scratch


class Encoded(NamedTuple):
    body: bytes
    etag: str


class Service:
    def __init__(self, config: Config, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or Catalog(config.catalog)
        # every cache, pool and executor, sized from the configuration (transformer.engine.resources)
        self.resources = resources = Resources(config)
        self.encoded = resources.encoded  # encoded chunk bytes, ready to send
        # final chunk responses for the warm path (bodies shared with ``encoded`` while both hold them)
        self.responses = resources.responses
        self.counters = resources.counters
        self.audit: Counter = Counter()  # (token name, dataset id, status) -> data reads of non-public datasets
        self.pool = resources.pool
        # temporary disk of cutout files: how many at once, how many bytes (transformer/server/scratch.py)
        self.scratch = Scratch(config.cutout_tmp_dir, config.cutout_tmp_mb, config.cutout_files)
        self.datasets = DatasetRegistry(self.catalog, resources.engine, resources.pyramid_options,
                                        config.max_open_datasets)
        self.objects = ObjectStore(resources.objects, self.catalog)  # neurons and cells beside the images

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Blocking work (file reads, decoding, encoding) goes to the bounded pool, never the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(fn, *args))

    async def dataset(self, dataset_id: str, grant: Credentials | None = None, data: bool = True) -> Dataset:
        """The dataset, if ``grant`` (``auth.grant_of(request)``; None: no token) may see it: the one access
        check of every route. ``data``: the caller serves voxels (any view, a Neuroglancer state, a cutout),
        not only the record. Raises NotFound (404), Unauthorized (401) or Forbidden (403)."""
        # an open dataset whose record was checked moments ago needs no thread hop or database read
        creds = grant or Credentials()
        ds = self.datasets.peek(dataset_id)
        if ds is None:
            checked, ds = await self.run(self._open_admitted, dataset_id, creds, data)
            if ds.record.version == checked.version:
                return ds
        admit(ds.record, creds, data, self.audit)
        return ds

    def _open_admitted(self, dataset_id: str, creds: Credentials, data: bool) -> tuple[Record, Dataset]:
        """The record checked before its dataset is opened: a refused request opens nothing, so nothing (the
        open datasets in /metrics, the time a first open takes) tells a private dataset from an unknown id."""
        record = self.datasets.record(dataset_id)
        admit(record, creds, data, self.audit)
        return record, self.datasets.get(dataset_id)

    async def encoded_chunk(self, key: Hashable, produce: Callable[[], bytes]) -> Encoded:
        """Cached encoded bytes (and their ETag) for ``key``; concurrent identical requests compute once."""
        cached = self.encoded.get(key)
        if cached is not None:
            self.counters["chunk_cache_hits"] += 1
            return cached

        def produce_tagged() -> Encoded:
            body = produce()
            return Encoded(body, etag_of(body))

        async def work() -> Encoded:
            self.counters["chunks_computed"] += 1
            return await self.run(produce_tagged)

        return await self.encoded.compute_async(key, work)

    async def chunk_response(self, request, ds: Dataset, key: Hashable, produce: Callable[[], bytes],
                             compressible: bool = False, immutable: bool = False):
        """The encoded chunk for ``key`` as a cacheable response, kept for the warm path too.

        ``compressible``: gzip it for clients that accept gzip (the gzipped bytes are cached beside it).
        ``immutable``: the URL names the dataset version (http.IMMUTABLE)."""
        chunk = await self.encoded_chunk(key, produce)
        gzipped = None
        if compressible and gzip_wanted(request, len(chunk.body)):
            body = chunk.body
            gzipped = (await self.encoded_chunk((key, "gzip"), lambda: gzip_bytes(body))).body
        response = respond(request, chunk.body, etag=chunk.etag, compressible=compressible, gzipped=gzipped,
                           max_age=UNVERSIONED_MAX_AGE, immutable=immutable, ranges=False)
        if ds.record.access_now() == "public":  # nothing else may be answered before the access check
            self.remember(request, ds.version, response)  # the whole body: the warm path cuts ranges itself
        return ranged(request, response)

    def remember(self, request, version: str, response) -> None:
        """Keep a 200 chunk response of public data for the warm path (transformer.server.fastpath)."""
        creds = request.scope.get(CREDENTIALS)
        if response.status_code != 200 or (creds is not None and creds.restricted):
            return
        identity = wants_identity(request.headers)  # a ranged request was answered without gzip
        key = cache_key(request.url.path, "" if identity else request.headers.get("accept-encoding", ""))
        entry = CachedResponse(version, response.headers["etag"], response.raw_headers, response.body)
        self.responses.put(key, entry, len(response.body) + 512)

    def close(self) -> None:
        self.datasets.close()
        self.resources.close()
        self.catalog.close()
