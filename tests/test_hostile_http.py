"""Hostile HTTP against a real server (uvicorn, real sockets): a seeded fuzz of 2,400 URLs over every
route family with no 5xx, no dropped keep-alive connection and no server path in any reason; idle
connections closed by the header timeout; healthz answered while source maps and cold chunks flood in."""

from __future__ import annotations

import http.client
import json
import socket
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from bench.fuzzurls import SAMPLE_KEYS, FuzzUrls
from tests.require import skip_without
from transformer.server.routes.neuroglancer import client_dir
from transformer.testing import Server
from writers.registry import installed

N_URLS = 2400


def _ids(generated) -> list[str]:
    return [g.dataset_id for name, g in generated.items() if not name.startswith("_")]


def test_fuzzed_urls_never_5xx_never_drop_the_connection_never_name_a_path(server, generated):
    fuzz = FuzzUrls(installed(), _ids(generated), SAMPLE_KEYS, seed=12)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    statuses: dict[int, int] = {}
    secrets = {str(generated["_catalog"].parent), str(generated["big"].path.parent)}
    try:
        conn.connect()
        sock = conn.sock
        for url in fuzz.generate(N_URLS):
            conn.request("GET", url)
            r = conn.getresponse()
            body = r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            assert r.status < 500, (url[:120], r.status, body[:300])
            if r.status >= 400:
                reason = json.loads(body)["reason"]
                assert not any(s in reason for s in secrets), (url[:120], reason)
            # the same socket: nothing closed the kept-alive connection
            assert not r.will_close and conn.sock is sock, (url[:120], r.status)
    finally:
        conn.close()
    # every family was reached: successes, bad requests and misses all occur
    assert sum(statuses.values()) == N_URLS
    assert statuses.get(200, 0) > 50 and statuses.get(400, 0) > 300 and statuses.get(404, 0) > 300, statuses


def test_a_connection_that_sends_nothing_is_closed(generated, tmp_path):
    with Server(generated["_catalog"], "--header-timeout", "1") as srv:
        silent = socket.create_connection(("127.0.0.1", srv.port))
        partial = socket.create_connection(("127.0.0.1", srv.port))
        partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        for sock in (silent, partial):
            sock.settimeout(60)  # generous: the server closes it after 1 s
            assert sock.recv(1024) == b""  # closed by the server, nothing answered
            sock.close()
        # a client that keeps talking is served
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.close()


def _cold_chunk_urls(generated) -> list[str]:
    """Every level-0 chunk of the largest dataset in all three views: none cached yet."""
    ds = generated["big"].dataset_id
    nz, ny, nx = (-(-n // 64) for n in generated["big"].data.shape[2:])
    zyx = [(z, y, x) for z in range(nz) for y in range(ny) for x in range(nx)]
    return ([f"/zarr/{ds}.ome.zarr/0/0/0/{z}/{y}/{x}" for z, y, x in zyx]
            + [f"/zarr3/{ds}.ome.zarr/0/c/0/0/{z}/{y}/{x}" for z, y, x in zyx]
            + [f"/precomputed/{ds}/0/{x * 64}-{min(x * 64 + 64, 261)}_{y * 64}-{min(y * 64 + 64, 300)}_"
               f"{z * 64}-{min(z * 64 + 64, 70)}" for z, y, x in zyx])


def _get(port: int, url: str, headers: dict[str, str] | None = None) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", url, headers=headers or {})
        r = conn.getresponse()
        return r.status, len(r.read())
    finally:
        conn.close()


def _healthz_during_flood(port: int, flood: list[str], connections: int, healthz_calls: int) -> None:
    """Start the flood; once its first answer is out, call healthz ``healthz_calls`` times one after the other:
    they must all be answered while part of the flood is still unanswered. Then every flood answer is a 200."""
    assert _get(port, "/healthz")[0] == 200
    pool = ThreadPoolExecutor(connections)
    done = [pool.submit(_get, port, url, {"Accept-Encoding": "gzip"}) for url in flood]
    try:
        while not any(f.done() for f in done):  # the flood is under way
            wait(done, return_when=FIRST_COMPLETED)
        for _ in range(healthz_calls):
            assert _get(port, "/healthz")[0] == 200
        unfinished = sum(not f.done() for f in done)
        results = [f.result() for f in done]
    finally:
        pool.shutdown(cancel_futures=True)
    assert unfinished > 0, "healthz waited for the flood"
    assert all(status == 200 and size > 0 for status, size in results), results[:5]


@skip_without("modules", client_dir() is not None, "the neuroglancer package (viewer bundle) is not installed")
def test_healthz_is_answered_while_source_maps_and_cold_chunks_flood_in(generated):
    """100 healthz calls one after the other finish before a flood of every source map of the viewer, twice
    (16 MB read and gzipped: under --cache-mb 8 the larger maps do not fit the encoded cache and are read and
    gzipped per request), and 150 cold chunks on 8 connections does. Were a map read or gzipped on the event
    loop, each healthz would wait for at least one (the loop takes ready requests in turn)."""
    maps = sorted(p.name for p in client_dir().glob("*.js.map"))
    flood = [f"/viewer/{name}" for name in maps] * 2 + _cold_chunk_urls(generated)
    # the flood spells 64³ keys: pin that layout (the default follows the sources: flat chunks for slice stacks)
    with Server(generated["_catalog"], "--cache-mb", "8", "--chunks", "64,64,64") as srv:
        _healthz_during_flood(srv.port, flood, connections=8, healthz_calls=100)


def _every_cold_chunk(generated) -> list[str]:
    """Level 0 of every generated dataset in zarr v2 and v3: a few hundred chunks, none cached yet."""
    urls = []
    for name, g in generated.items():
        if name.startswith("_"):
            continue
        nt, nc, *zyx = g.data.shape
        grid = [range(-(-n // 64)) for n in zyx]
        for t in range(nt):
            for c in range(nc):
                for z in grid[0]:
                    for y in grid[1]:
                        for x in grid[2]:
                            urls.append(f"/zarr/{g.dataset_id}.ome.zarr/0/{t}/{c}/{z}/{y}/{x}")
                            urls.append(f"/zarr3/{g.dataset_id}.ome.zarr/0/c/{t}/{c}/{z}/{y}/{x}")
    return urls


def test_healthz_does_not_queue_behind_a_cold_chunk_flood(generated):
    """64 connections ask for every cold chunk at once while 2 worker threads compute them; 10 healthz calls
    one after the other finish before the flood does. healthz used to count datasets on the chunk pool,
    queued behind every cold chunk asked before it (the audit's 6.4 s under 3,000 cold requests)."""
    flood = _every_cold_chunk(generated)
    with Server(generated["_catalog"], "--cache-mb", "64", "--threads", "2", "--chunks", "64,64,64") as srv:
        _healthz_during_flood(srv.port, flood, connections=64, healthz_calls=10)
