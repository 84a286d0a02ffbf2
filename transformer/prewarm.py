"""Prewarm: request a dataset's coarse levels (or all of them) through the front door, so the proxy's disk cache
and the workers' RAM hold them before the first viewer asks (issue 14).

The URLs are the immutable ones of the current version (``versioned_links`` of the record), which nginx keeps for
a year. The requests run on local threads, or as tasks of a dask.distributed cluster (``scheduler``), each task
fetching a batch over one kept-alive connection.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

#: a level is "coarse" while it has at most this many chunks (the overview levels a viewer opens first)
COARSE_MAX_CHUNKS = 4096
BATCH = 64


@dataclass
class Warmed:
    requests: int = 0
    bytes: int = 0
    failed: int = 0

    def add(self, other: Warmed) -> Warmed:
        return Warmed(self.requests + other.requests, self.bytes + other.bytes, self.failed + other.failed)


def level_urls(base: str, dataset_id: str, levels: str = "coarse", token: str | None = None,
               max_chunks: int = COARSE_MAX_CHUNKS) -> list[str]:
    """Every chunk URL of the chosen levels of the zarr v2 view, coarsest first (``coarse``: up to the first level
    with more than ``max_chunks`` chunks)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(headers=headers, timeout=60) as client:
        record = client.get(f"{base.rstrip('/')}/api/datasets/{dataset_id}")
        record.raise_for_status()
        # links embed a valid token (/t/TOKEN/): out of the URLs, which are task arguments and logged; the
        # header carries it
        root = record.json()["versioned_links"]["zarr"].replace(f"/t/{token}/", "/")
        multiscales = client.get(f"{root}/.zattrs").raise_for_status().json()["multiscales"][0]
        urls: list[str] = []
        for entry in reversed(multiscales["datasets"]):  # coarsest first
            meta = client.get(f"{root}/{entry['path']}/.zarray").raise_for_status().json()
            grid = [-(-n // c) for n, c in zip(meta["shape"], meta["chunks"], strict=True)]
            count = 1
            for n in grid:
                count *= n
            if levels == "coarse" and count > max_chunks:
                break
            urls += [f"{root}/{entry['path']}/{'/'.join(map(str, index))}"
                     for index in itertools.product(*(range(n) for n in grid))]
    return urls


def fetch(urls: list[str], token: str | None = None) -> Warmed:
    """GET each URL once, body read and dropped (a dask task: plain arguments and result)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = Warmed()
    with httpx.Client(headers=headers, timeout=300) as client:
        for url in urls:
            try:
                r = client.get(url)
                ok = r.status_code == 200
                done = done.add(Warmed(1, len(r.content) if ok else 0, 0 if ok else 1))
            except httpx.HTTPError:
                done = done.add(Warmed(1, 0, 1))
    return done


def batches(urls: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for i in range(0, len(urls), size):
        yield urls[i:i + size]


def prewarm(base: str, dataset_id: str, levels: str = "coarse", scheduler: str | None = None,
            token: str | None = None, threads: int = 8, max_chunks: int = COARSE_MAX_CHUNKS) -> Warmed:
    """Request every chunk of ``levels`` of ``dataset_id`` from ``base`` (the proxy); ``scheduler``: a
    dask.distributed scheduler address whose workers make the requests."""
    urls = level_urls(base, dataset_id, levels, token, max_chunks)
    total = Warmed()
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            # the token goes to the workers as data, by key: as a task argument it would be in every task's
            # spec, which the scheduler keeps and its dashboard shows
            secret = client.scatter(token, broadcast=True, hash=False) if token else None  # a random key
            for done in client.gather(client.map(fetch, list(batches(urls)), token=secret, pure=False)):
                total = total.add(done)
        return total
    with ThreadPoolExecutor(threads) as pool:
        for done in pool.map(lambda b: fetch(b, token), batches(urls, max(1, min(BATCH, len(urls) // threads)))):
            total = total.add(done)
    return total
