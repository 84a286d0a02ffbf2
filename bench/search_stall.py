"""Part 14 — warm chunks while searches run: a search must not stall the event loop's warm path.

One ``transformer serve`` holds a 10,000-record catalog (``catalog.synthetic``) and one real dataset. A warm
chunk (its coarsest level, already cached) is asked again and again over one keep-alive connection, first
alone, then while ``FLOODERS`` clients ask the JSON search with facets (the heaviest catalog query) as fast as
they can. The warm path checks on the loop that the dataset's catalog record did not change
(``Catalog.generation``); when that check waits for the lock a whole search holds, every warm chunk waits for
a search (issue 22 item 4). The figure is the warm chunk's p99 during the flood against its p99 alone.
"""

from __future__ import annotations

import threading
import time

import httpx

from bench.common import Context, Goal, Part, ZarrView, pct, serve, table
from catalog.store import Catalog
from catalog.synthetic import synthetic

SIZE = 10_000
SECONDS = 5.0
FLOODERS = 4
SEARCH = "/api/datasets?q=brain&limit=20"
#: warm chunk p99 during the flood, at most this many times its p99 alone (plus the floor below)
GOAL_RATIO = 5.0
FLOOR_MS = 5.0  # below this a p99 is noise on a shared machine, not a stall


def _warm_latencies(client: httpx.Client, url: str, seconds: float) -> list[float]:
    out = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def _flood(base: str, stop: threading.Event, done: list[float], failures: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            start = time.perf_counter()
            r = client.get(SEARCH)
            done.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                failures.append(r.status_code)


def run(ctx: Context, size: int = SIZE, seconds: float = SECONDS, flooders: int = FLOODERS) -> Part:
    part = Part("search_stall", f"14. Warm chunks during a search flood ({size:,} records)")
    record, db, _ = ctx.register(ctx.settings.formats[0], "search_stall")
    catalog = Catalog(db)
    catalog.put_many(synthetic(size))
    catalog.close()
    with serve(db) as srv, httpx.Client(timeout=60) as client:
        view = ZarrView(srv.url, record.id, client)
        coarsest = len(view.levels) - 1
        url = f"{view.root}/{view.key(coarsest, (0,) * len(view.levels[coarsest].grid))}"
        assert client.get(url).status_code == 200  # computed once: every later request is a warm one
        alone = _warm_latencies(client, url, seconds)
        stop, searches, failures = threading.Event(), [], []
        threads = [threading.Thread(target=_flood, args=(srv.url, stop, searches, failures)) for _ in range(flooders)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)  # every flooder is asking
            during = _warm_latencies(client, url, seconds)
        finally:
            stop.set()
            for t in threads:
                t.join()
    rows = [("alone", len(alone), pct(alone, 50), pct(alone, 99), max(alone), "–"),
            (f"during {flooders} search clients", len(during), pct(during, 50), pct(during, 99), max(during),
             f"{len(searches)} ({pct(searches, 50):.0f} ms p50)")]
    part.tables.append(table(["warm chunk", "requests", "p50 ms", "p99 ms", "max ms", "searches answered"], rows))
    ratio = pct(during, 99) / max(pct(alone, 99), FLOOR_MS)
    part.notes += [
        f"The coarsest chunk of the {record.format} dataset, asked one at a time over one keep-alive connection for "
        f"{seconds:.0f} s alone, then for {seconds:.0f} s while {flooders} clients ask `{SEARCH}` (full text with "
        f"facet counts over every match) back to back; {size:,} synthetic records beside it in the catalog.",
        f"p99 alone is floored at {FLOOR_MS:.0f} ms for the ratio (below that it is noise on a shared machine). "
        "The load generator, the flooders and the server share this machine's cores.",
    ]
    part.goals.append(Goal("warm chunk p99 during the search flood ÷ alone", ratio, f"<= {GOAL_RATIO:.0f}",
                           ratio <= GOAL_RATIO and not failures))
    return part
