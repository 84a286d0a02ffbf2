"""Part 9 — soak: many clients for minutes mixing warm, cold and fuzzed URLs against one server.

Clients (aiohttp, one keep-alive connection each) cycle warm chunk, fuzzed URL, cold chunk, fuzzed URL
until the duration is over and the fuzz quota has been sent. Meanwhile a separate process asks /healthz
every 50 ms on its own connection (its latency is the liveness probe's view), and the server's anonymous
RSS is sampled ten times a second. Fuzzed URLs come from bench/fuzzurls.py (the fuzz test's generator).
"""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing
import random
import time
from dataclasses import dataclass, field

import aiohttp
import yarl

from bench.common import Context, Goal, MemoryWatch, MiB, Part, ZarrView, pct, serve, table
from bench.fuzzurls import SAMPLE_KEYS, FuzzUrls
from bench.memory import ALLOWANCE_MB
from writers.registry import installed

FORMAT = "tiff"
HEALTHZ_P99_MS = 100.0
PROBE_INTERVAL_S = 0.05


@dataclass
class Tally:
    requests: dict[str, int] = field(default_factory=lambda: {"warm": 0, "cold": 0, "fuzz": 0})
    errors: list[str] = field(default_factory=list)  # connection failures, and non-200 warm/cold answers
    fuzz_5xx: int = 0
    fuzz_statuses: dict[int, int] = field(default_factory=dict)


def _probe(port: int, stop, out) -> None:
    """In its own process: GET /healthz every PROBE_INTERVAL_S until ``stop`` is set; send the latencies."""
    latencies, failures = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        start = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            failures += r.status != 200
        except (OSError, http.client.HTTPException):
            failures += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - start)
        stop.wait(PROBE_INTERVAL_S)
    out.send((latencies, failures))


async def _load(base: str, warm: list[str], cold: list[str], fuzz: FuzzUrls, clients: int, seconds: float,
                fuzz_quota: int) -> Tally:
    tally = Tally()
    fuzzed = fuzz.generate(fuzz_quota)
    cold_left = iter(cold)
    rng = random.Random(3)
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=600)

    def next_url(kind: str) -> str | None:
        if kind == "fuzz":
            return next(fuzzed, None)
        if kind == "cold":
            return next(cold_left, None) or rng.choice(warm)  # every chunk fetched once: the rest repeat
        return rng.choice(warm)

    async def client(session: aiohttp.ClientSession) -> None:
        cycle = ("warm", "fuzz", "cold", "fuzz")
        i = rng.randrange(len(cycle))
        while True:
            kind = cycle[i % len(cycle)]
            i += 1
            fuzz_left = tally.requests["fuzz"] < fuzz_quota
            if time.monotonic() > deadline and not fuzz_left:
                return
            if kind == "fuzz" and not fuzz_left:
                kind = "warm"
            url = next_url(kind)
            if url is None:
                continue
            tally.requests[kind] += 1
            try:
                async with session.get(yarl.URL(base + url, encoded=True)) as r:
                    await r.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                tally.errors.append(f"{kind} {url[:80]}: {type(exc).__name__}")
                continue
            if kind == "fuzz":
                tally.fuzz_statuses[r.status] = tally.fuzz_statuses.get(r.status, 0) + 1
                tally.fuzz_5xx += r.status >= 500
            elif r.status != 200:
                tally.errors.append(f"{kind} {url[:80]}: {r.status}")

    async def one_client() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout,
                                         auto_decompress=False) as session:
            await client(session)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return tally


def run(ctx: Context) -> Part:
    s = ctx.settings
    part = Part("soak", f"9. Soak ({s.soak_clients} clients, warm + cold + fuzzed URLs, {s.soak_seconds:.0f} s)")
    fmt = FORMAT if FORMAT in s.formats else s.formats[0]
    record, db, _ = ctx.register(fmt, "soak")
    cache_mb = s.memory_cache_mb
    with serve(db, "--cache-mb", str(cache_mb)) as srv:
        watch = MemoryWatch(srv.proc.pid, cache_mb)
        view = ZarrView(srv.url, record.id)
        coarse = range(1, len(view.levels))
        warm = [f"{view.path}/{k}" for k in view.metadata_keys() + view.all_keys(coarse)]
        cold = [f"{view.path}/{k}" for k in view.all_keys([0])]
        random.Random(s.seed).shuffle(cold)
        fuzz = FuzzUrls(installed(), [record.id], SAMPLE_KEYS, seed=s.seed)
        for url in warm:  # warm: fetched once before the clock starts
            http_get(srv.port, url)
        stop = multiprocessing.Event()
        mine, theirs = multiprocessing.Pipe(duplex=False)
        prober = multiprocessing.Process(target=_probe, args=(srv.port, stop, theirs), daemon=True)
        prober.start()
        start = time.perf_counter()
        tally = asyncio.run(_load(srv.url, warm, cold, fuzz, s.soak_clients, s.soak_seconds, s.soak_fuzz))
        seconds = time.perf_counter() - start
        stop.set()
        latencies, probe_failures = mine.recv()
        prober.join()
        peak = watch.peak()
        alive = srv.proc.poll() is None
    total = sum(tally.requests.values())
    p50, p99 = pct(latencies, 50) * 1e3, pct(latencies, 99) * 1e3
    anon_mb, limit_mb = peak.anon / MiB, cache_mb + ALLOWANCE_MB
    errors = len(tally.errors) + probe_failures + (not alive)
    part.tables.append(table(
        ["seconds", "requests", "req/s", "warm", "cold", "fuzzed", "errors", "fuzzed 5xx", "healthz probes",
         "healthz p50 ms", "healthz p99 ms", "healthz max ms", "peak anonymous RSS MB", "--cache-mb"],
        [(seconds, total, total / seconds, tally.requests["warm"], tally.requests["cold"], tally.requests["fuzz"],
          errors, tally.fuzz_5xx, len(latencies), p50, p99, max(latencies, default=0) * 1e3, anon_mb, cache_mb)]))
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(tally.fuzz_statuses.items()))
    part.notes += [
        f"Format {fmt}, one dataset; warm = metadata and levels 1+ (fetched once before the clock), cold = the "
        f"{len(cold)} level-0 chunks in random order, each fetched once (then warm repeats). Fuzzed answers: "
        f"{statuses}.",
        "healthz is asked every 50 ms from a separate process on its own keep-alive connection; errors count "
        "connection failures, timeouts, non-200 warm/cold answers, failed probes and a dead server.",
    ]
    if tally.errors:
        part.notes.append("first errors: " + "; ".join(tally.errors[:5]))
    part.goals += [
        Goal("soak: errors (requests + probes + server alive)", float(errors), "0", errors == 0),
        Goal("soak: healthz p99 ms", p99, f"≤ {HEALTHZ_P99_MS:.0f}", p99 <= HEALTHZ_P99_MS),
        Goal(f"soak: peak anonymous RSS ÷ (--cache-mb + {ALLOWANCE_MB} MB)", anon_mb / limit_mb, "≤ 1.0",
             anon_mb <= limit_mb),
        Goal(f"soak: 5xx in {tally.requests['fuzz']} fuzzed URLs", float(tally.fuzz_5xx), "0",
             tally.fuzz_5xx == 0 and tally.requests["fuzz"] >= s.soak_fuzz),
    ]
    return part


def http_get(port: int, url: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("GET", url)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()
