"""The bundled viewer's files live in --cache-mb (issue 22 item 6): each is read and gzipped once into the
``encoded`` cache, so a source map asked again is neither read nor gzipped again, and a small budget bounds
the bundle too (it had a budget of its own, 64 MiB outside --cache-mb, and maps were gzipped per request)."""

from __future__ import annotations

import re

import httpx

from tests.helpers import Server
from tests.require import skip_without
from transformer.server.routes.neuroglancer import client_dir

pytestmark = skip_without("modules", client_dir() is not None, "the neuroglancer package is not installed")


def _encoded(url: str) -> dict[str, int]:
    text = httpx.get(f"{url}/metrics").text
    return {stat: int(value) for stat, value in re.findall(r'transformer_cache_(\w+)\{cache="encoded"\} (\d+)', text)}


def test_a_source_map_is_read_and_gzipped_once_inside_the_budget(generated):
    largest = max(client_dir().glob("*.js.map"), key=lambda p: p.stat().st_size)
    raw = largest.read_bytes()
    with Server(generated["_catalog"], "--cache-mb", "256") as srv:
        before = _encoded(srv.url)
        first = httpx.get(f"{srv.url}/viewer/{largest.name}", headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
        assert first.content == raw  # httpx undoes the gzip
        kept = _encoded(srv.url)
        assert kept["misses"] - before["misses"] == 2  # the file, then its gzipped copy
        assert kept["bytes"] - before["bytes"] >= len(raw) + int(first.headers["content-length"])
        again = httpx.get(f"{srv.url}/viewer/v/standalone/{largest.name}", headers={"Accept-Encoding": "gzip"})
        assert again.content == raw and again.headers["etag"] == first.headers["etag"]
        after = _encoded(srv.url)
        assert (after["hits"] - kept["hits"], after["misses"] - kept["misses"]) == (2, 0)
        plain = httpx.get(f"{srv.url}/viewer/{largest.name}", headers={"Accept-Encoding": "identity"})
        assert plain.content == raw and "content-encoding" not in plain.headers


def test_the_whole_bundle_stays_within_a_small_budget(generated):
    names = sorted(p.name for p in client_dir().iterdir() if p.is_file() and not p.name.startswith("."))
    with Server(generated["_catalog"], "--cache-mb", "8") as srv:
        for name in names:
            r = httpx.get(f"{srv.url}/viewer/{name}", headers={"Accept-Encoding": "gzip"})
            assert r.status_code in (200, 404), name  # 404: a name the viewer does not serve (e.g. no suffix)
        stats = _encoded(srv.url)
        assert 0 < stats["bytes"] <= stats["budget"] == int(8 * 2**20 * 0.15)
