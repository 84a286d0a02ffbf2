"""The stack (issue 14) with real nginx and two real workers: the same bytes as one server, one worker per URL,
nginx HITs, one computation for a burst of identical cold requests, no caching of restricted data, retries past
a killed worker, and versioned URLs that follow the source."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from tests.helpers import Server
from tests.require import module, skip_without
from transformer.prewarm import level_urls, prewarm
from transformer.stack import Stack

pytestmark = skip_without("nginx", shutil.which("nginx") is not None, "nginx (scripts/system-deps.sh --all)")

BYPASS = {"Authorization": "Bearer not-a-token"}  # a request with a token is never answered from nginx's cache


def volume(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60000, (70, 150, 140), dtype=np.uint16)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    for name, seed in (("open", 1), ("secret", 2)):
        (root / "data" / name).mkdir(parents=True)
        tifffile.imwrite(root / "data" / name / f"{name}.tif", volume(seed), metadata={"axes": "ZYX"})
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    scan(root / "data" / "open", catalog)
    scan(root / "data" / "secret", catalog, access="private")
    ids = {Path(r.source).stem: r.id for r in catalog.all()}
    token, row = new_token("reader", [ids["secret"]], None)
    catalog.put_token(row)
    catalog.close()
    # each worker's metrics on its own loopback listener: the restricted reads are counted only there
    with Stack(db, 2, serve_args=["--cache-mb", "64"], run=root / "run", worker_metrics=True) as stack:
        yield stack, db, ids, token, root


def metric(stack: Stack, name: str) -> int:
    total = 0
    for w in stack.workers:
        for line in httpx.get(w.metrics_url).text.splitlines():
            if line.startswith(name) and line[len(name)] in " {,":  # the metric, any of its labels
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def grid(url: str, dataset_id: str, level: int) -> list[int]:
    """Chunks per axis (z, y, x) of a zarr level, as the server lays it out."""
    meta = httpx.get(f"{url}/zarr/{dataset_id}.ome.zarr/{level}/.zarray").json()
    return [-(-n // c) for n, c in zip(meta["shape"][2:], meta["chunks"][2:], strict=True)]


def chunk_keys(url: str, dataset_id: str, level: int, count: int) -> list[str]:
    """``count`` distinct chunk keys (z/y/x) of a level, walking its grid from the far corner."""
    nz, ny, nx = grid(url, dataset_id, level)
    cells = [(z, y, x) for z in range(nz) for y in range(ny) for x in range(nx)][::-1]
    return ["/".join(map(str, cell)) for cell in cells[:count]]


def chunk_paths(url: str, dataset_id: str) -> list[str]:
    zarr = [f"/zarr/{dataset_id}.ome.zarr/{lv}/0/0/{key}" for lv in (0, 1, 2) for key in chunk_keys(url, dataset_id,
                                                                                                  lv, 6)]
    return [*zarr, f"/zarr3/{dataset_id}.ome.zarr/zarr.json", f"/precomputed/{dataset_id}/info"]


def test_chunks_equal_one_server_and_each_url_has_one_worker(world):
    stack, db, ids, _, _ = world
    workers: dict[str, set[str]] = {}
    with Server(db, "--cache-mb", "64") as single:
        paths = chunk_paths(single.url, ids["open"])
        for path in paths:
            expected = httpx.get(single.url + path)
            assert expected.status_code == 200
            first = httpx.get(stack.url + path)
            second = httpx.get(stack.url + path)
            assert first.content == second.content == expected.content
            assert first.headers["x-cache-status"] in ("MISS", "EXPIRED") and second.headers["x-cache-status"] == "HIT"
            for _ in range(3):  # past the cache: the worker that answers this URL every time
                workers.setdefault(path, set()).add(httpx.get(stack.url + path, headers=BYPASS).headers["x-worker"])
    assert all(len(names) == 1 for names in workers.values()), workers
    assert set().union(*workers.values()) == {"w0", "w1"}  # the URLs are spread over both


def test_identical_cold_requests_compute_once_across_the_stack(world):
    stack, _, ids, _, _ = world
    # the 7th level-0 chunk from the far corner: the test before fetched 6 (and all of the 4-chunk level 1)
    path = f"/zarr/{ids['open']}.ome.zarr/0/0/0/{chunk_keys(stack.url, ids['open'], 0, 7)[-1]}"
    before = metric(stack, "transformer_chunks_computed_total")
    barrier = threading.Barrier(12)

    def get(_):
        barrier.wait()
        return httpx.get(stack.url + path, timeout=30)

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(get, range(12)))
    assert {r.status_code for r in answers} == {200} and len({r.content for r in answers}) == 1
    assert metric(stack, "transformer_chunks_computed_total") - before == 1


def test_restricted_data_is_never_cached(world):
    stack, _, ids, token, _ = world
    path = f"/zarr/{ids['secret']}.ome.zarr/0/0/0/0/0/0"  # the first chunk, whatever the layout
    counted = 'transformer_restricted_reads_total{token="reader"'
    before = metric(stack, counted)
    for _ in range(3):
        anonymous = httpx.get(stack.url + path)
        assert anonymous.status_code == 404 and anonymous.headers["x-cache-status"] != "HIT"
        bearer = httpx.get(stack.url + path, headers={"Authorization": f"Bearer {token}"})
        prefixed = httpx.get(f"{stack.url}/t/{token}{path}")
        for r in (bearer, prefixed):
            assert r.status_code == 200 and r.headers["x-cache-status"] == "BYPASS"
            assert r.headers["cache-control"] == "private, no-store"
    assert bearer.content == prefixed.content
    assert metric(stack, counted) - before == 6  # every read reached a worker and was authorised there
    assert httpx.get(stack.url + path).status_code == 404  # and none of them was kept for anyone else


@pytest.mark.slow
def test_a_killed_worker_loses_no_request(world):
    stack, _, ids, _, _ = world
    paths = [f"/zarr/{ids['open']}.ome.zarr/0/0/0/{key}" for key in chunk_keys(stack.url, ids["open"], 0, 24)]
    victim = stack.workers[0]
    statuses: list[int] = []
    with httpx.Client(headers=BYPASS, timeout=30) as client:
        for i in range(120):
            if i == 40:
                victim.proc.send_signal(signal.SIGKILL)
                victim.proc.wait()
            statuses.append(client.get(stack.url + paths[i % len(paths)]).status_code)
        victim.start()
        victim.wait()
        deadline = time.monotonic() + 20  # nginx tries a failed server again after fail_timeout (2 s)
        while {client.get(stack.url + p).headers["x-worker"] for p in paths} != {"w0", "w1"}:  # back in the ring
            assert time.monotonic() < deadline, "the restarted worker never answered again"
            time.sleep(0.5)
    assert statuses == [200] * 120, [(i, s) for i, s in enumerate(statuses) if s != 200]


def test_prewarm_fills_the_proxy_cache(world):
    stack, _, ids, _, _ = world
    urls = level_urls(stack.url, ids["open"], "coarse", max_chunks=20)
    assert urls and all(f"/{ids['open']}@" in u for u in urls)  # the immutable URLs nginx keeps for a year
    assert 0 < len(urls) < len(level_urls(stack.url, ids["open"], "all"))
    done = prewarm(stack.url, ids["open"], "coarse", max_chunks=20)
    assert (done.requests, done.failed) == (len(urls), 0) and done.bytes > 0
    assert {httpx.get(u).headers["x-cache-status"] for u in urls} == {"HIT"}


def test_views_are_cached_once_for_every_host_name(world):
    """Prewarm asks by the proxy's inner name (compose: http://proxy:8080), users by the public one: a view's
    answer is cached once for both, while documents that carry links stay apart per Host."""
    stack, _, ids, _, _ = world
    root = httpx.get(f"{stack.url}/api/datasets/{ids['open']}", headers=BYPASS).json()["versioned_links"]["zarr"]
    path = root[len(stack.url):] + f"/0/0/0/{chunk_keys(stack.url, ids['open'], 0, 9)[-1]}"
    inner = httpx.get(stack.url + path, headers={"Host": "proxy:8080"})
    public = httpx.get(stack.url + path, headers={"Host": "data.example.org"})
    assert inner.status_code == public.status_code == 200 and inner.content == public.content
    assert inner.headers["x-cache-status"] == "MISS" and public.headers["x-cache-status"] == "HIT"
    record = f"{stack.url}/api/datasets/{ids['open']}?cache-test"  # a URL nobody asked for before
    statuses = [httpx.get(record, headers={"Host": host}).headers["x-cache-status"]
                for host in ("proxy:8080", "proxy:8080", "data.example.org")]
    assert statuses == ["MISS", "HIT", "MISS"]  # its links may name the Host (--allowed-hosts): kept apart


@pytest.mark.slow
def test_prewarm_on_a_dask_cluster(world):
    distributed = module("distributed")
    stack, _, ids, _, _ = world
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://",
                                  dashboard_address=None) as cluster:
        done = prewarm(stack.url, ids["open"], "all", scheduler=cluster.scheduler_address)
    urls = level_urls(stack.url, ids["open"], "all")
    assert (done.requests, done.failed) == (len(urls), 0)
    assert {httpx.get(u).headers["x-cache-status"] for u in urls[-5:]} == {"HIT"}


@pytest.mark.slow
def test_versioned_urls_follow_the_source(world):
    # last in the module: until every worker has noticed the rewritten source (≤ 5 s, or at once for a URL that
    # names the new version), plain URLs may answer 500 on the others (the reader refuses a changed file)
    stack, _, ids, _, root = world
    record = f"{stack.url}/api/datasets/{ids['open']}"
    links = httpx.get(record, headers=BYPASS).json()["versioned_links"]
    old, old3 = links["zarr"], links["zarr3"]
    seen = httpx.get(f"{old}/0/0/0/0/0/0")
    assert seen.status_code == 200 and seen.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(f"{old}/0/0/0/0/0/0").headers["x-cache-status"] == "HIT"
    tifffile.imwrite(root / "data" / "open" / "open.tif", volume(3), metadata={"axes": "ZYX"})
    deadline = time.monotonic() + 30  # each worker restamps its open datasets every 5 s
    while (new := httpx.get(record, headers=BYPASS).json()["versioned_links"]["zarr"]) == old:
        assert time.monotonic() < deadline, "the version did not change"
        time.sleep(0.5)
    fresh = httpx.get(f"{new}/0/0/0/0/0/0")
    assert fresh.status_code == 200 and fresh.content != seen.content
    # a key of the old version no cache holds (prewarm fetched the zarr v2 ones): 404 with a pointer to the
    # current URL of that key. A worker that has not restamped yet (≤ 5 s) still answers the old version, rightly:
    # nginx keeps that answer for the URL, so each try asks for a key nobody asked for before.
    new3 = httpx.get(record, headers=BYPASS).json()["versioned_links"]["zarr3"]
    for key in [f"0/c/0/0/{k}" for k in chunk_keys(stack.url, ids["open"], 0, 40)]:
        stale = httpx.get(f"{old3}/{key}")
        if stale.status_code != 200:
            break
        time.sleep(0.4)  # 18 keys (a 64³ grid) outlast the 5 s restamp period
    assert stale.status_code == 404 and stale.json()["current"] == f"{new3}/{key}"
    assert stale.headers["x-cache-status"] == "MISS"  # and the 404 is not kept
    # the old version's bytes nginx holds are still that version's bytes: immutable, as promised
    assert httpx.get(f"{old}/0/0/0/0/0/0").content == seen.content


def test_sharded_view_and_ranges_through_the_proxy(world):
    """A shard read in ranges through nginx (zarr-python: the index by a suffix range, then inner chunks): nginx
    fetches the whole shard from one worker once, keeps it, and answers every range from it (206)."""
    zarr = module("zarr")
    stack, _, ids, _, _ = world
    url = f"{stack.url}/zarr3-sharded/{ids['open']}.ome.zarr"
    group = zarr.open_group(zarr.storage.FsspecStore.from_url(url, read_only=True), mode="r")
    plain = zarr.open_group(zarr.storage.FsspecStore.from_url(f"{stack.url}/zarr3/{ids['open']}.ome.zarr",
                                                              read_only=True), mode="r")
    assert np.array_equal(group["0"][:], plain["0"][:])  # (an earlier test rewrites the source: not volume(1))
    shard = url + "/0/c/0/0/0/0/0"
    whole = httpx.get(shard, headers=BYPASS)  # straight from a worker
    assert whole.status_code == 200 and whole.headers["x-cache-status"] == "BYPASS"
    for spec, part in (("bytes=-20", whole.content[-20:]), ("bytes=100-4195", whole.content[100:4196])):
        r = httpx.get(shard, headers={"Range": spec})
        assert (r.status_code, r.content) == (206, part)
        assert r.headers["x-cache-status"] == "HIT"  # zarr-python's reads above made nginx keep the shard
