"""Part 11 — catalog search at scale: the search page and the JSON search on a 10,000-dataset catalog.

The catalog is written directly (``catalog.synthetic``: records with varied metadata, no image files), served
by a real ``transformer serve``, and each query is asked sequentially, warm (the database pages cached), over
one keep-alive connection. The floor is the same query answered by ``Catalog.find`` in this process (no HTTP,
no HTML): server ÷ floor is what routing, rendering and the network add.
"""

from __future__ import annotations

import time

import httpx

from bench.common import Context, Goal, Part, pct, serve, table
from catalog.store import Catalog, Query
from catalog.synthetic import synthetic

SIZE = 10_000
REPEATS = 30
PAGE_P95_MS = 100.0
#: (label, query string): what people type and click
QUERIES = [
    ("everything (first page)", ""),
    ("one word", "q=mouse"),
    ("prefix", "q=hippo"),
    ("hyphenated words", "q=light-sheet+cortex"),
    ("facet filter", "technique=light&species=mus"),
    ("text + facet + sort", "q=brain&format=tiff&sort=largest"),
    ("deep page", "q=brain&page=200"),
    ("no match", "q=zzzzqqq"),
]


def _query(text: str) -> Query:
    params = dict(p.split("=", 1) for p in text.split("&") if p)
    page = int(params.pop("page", "1"))
    return Query(**{k: v.replace("+", " ") for k, v in params.items()}, limit=20, offset=(page - 1) * 20)


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(ctx: Context, size: int = SIZE, repeats: int = REPEATS) -> Part:
    part = Part("search", f"11. Catalog search on {size:,} datasets")
    db = ctx.tmp / "search.sqlite"
    db.unlink(missing_ok=True)
    catalog = Catalog(db)
    start = time.perf_counter()
    catalog.put_many(synthetic(size))
    written = time.perf_counter() - start
    rows, worst_page = [], 0.0
    with serve(db) as srv, httpx.Client(base_url=srv.url, timeout=60) as client:
        for label, text in QUERIES:
            found = catalog.find(_query(text))
            floor = _timed(lambda text=text: catalog.find(_query(text)), repeats)

            def get(path: str) -> None:
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code)

            page = _timed(lambda text=text: get(f"/?{text}"), repeats)
            api = _timed(lambda text=text: get(f"/api/datasets?limit=20&{text.replace('page=200', 'offset=3980')}"),
                         repeats)
            worst_page = max(worst_page, pct(page, 95))
            rows.append((label, f"`{text or '–'}`", found.total, pct(floor, 50), pct(page, 50), pct(page, 95),
                         pct(api, 50), pct(page, 50) / pct(floor, 50)))
    catalog.close()
    part.tables.append(table(
        ["query", "parameters", "matches", "Catalog.find p50 ms", "page p50 ms", "page p95 ms", "JSON API p50 ms",
         "page ÷ find"], rows))
    part.notes += [
        f"{size:,} records written in one transaction in {written:.1f} s; each query asked {repeats} times after one "
        "warm-up, one at a time over one keep-alive connection; the page is the server-rendered HTML (20 cards "
        "with facet counts over all matches), the JSON API the same search with facets.",
        "The load generator and the server share this machine's cores (and other work ran beside it).",
    ]
    part.goals.append(Goal("search page p95 on the slowest query (ms)", worst_page, f"<= {PAGE_P95_MS:.0f}",
                           worst_page <= PAGE_P95_MS))
    return part
