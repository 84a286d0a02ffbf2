"""The cache primitive (readers.caching.Cache) and the handle pool built on it."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from readers.caching import Cache
from readers.handles import HandlePool

THREADS = 8


def _wait_until(condition) -> None:
    """Spin until ``condition()`` holds (no timing assumption: the threads get there eventually)."""
    while not condition():
        threading.Event().wait(0.001)


def _ask_together(cache: Cache, result) -> tuple[list, int]:
    """THREADS threads ask for one key while its computation (``result()``) is held open until every
    thread has missed; their outcomes and how many computations ran."""
    release, calls = threading.Event(), []
    outcomes: list = [None] * THREADS

    def compute():
        calls.append(1)
        release.wait()
        return result()

    def ask(i: int) -> None:
        try:
            outcomes[i] = cache.get_or_compute("k", compute)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    _wait_until(lambda: cache.misses == THREADS)  # every thread missed: all of them share the flight
    release.set()
    for t in threads:
        t.join()
    return outcomes, len(calls)


def test_threads_asking_one_key_compute_it_once():
    cache = Cache("t", 10_000)
    outcomes, calls = _ask_together(cache, lambda: np.arange(10))
    assert calls == 1
    assert all(o is outcomes[0] for o in outcomes)
    np.testing.assert_array_equal(outcomes[0], np.arange(10))
    assert cache.stats() == {"bytes": 80, "budget": 10_000, "entries": 1, "hits": 0, "misses": THREADS,
                             "inflight": 0}


def test_errors_reach_every_waiter_and_are_not_cached():
    cache = Cache("t", 10_000)
    outcomes, calls = _ask_together(cache, lambda: (_ for _ in ()).throw(ValueError("boom")))
    assert calls == 1
    assert all(isinstance(o, ValueError) and str(o) == "boom" for o in outcomes)
    assert len(cache) == 0
    assert cache.get_or_compute("k", lambda: b"ok") == b"ok"  # the next call computes again
    assert cache.get("k") == b"ok"


def test_budget_is_respected_least_recently_used_first():
    cache = Cache("t", 100, size=len)
    cache.put("a", b"x" * 40)
    cache.put("b", b"x" * 40)
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", b"x" * 40)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.used == 80 <= cache.budget
    cache.put("a", b"x" * 10)  # replacing a value updates the bytes
    assert cache.used == 50 and len(cache) == 2


def test_oversize_values_are_served_but_not_kept():
    cache = Cache("t", 100)
    cache.put("small", np.zeros(10, np.uint8))
    big = cache.get_or_compute("big", lambda: np.zeros(101, np.uint8))
    assert big.shape == (101,)
    assert "big" not in cache and "small" in cache and cache.used == 10


def test_frozen_caches_share_read_only_arrays():
    frozen, plain = Cache("f", 1000, freeze=True), Cache("p", 1000)
    a = frozen.get_or_compute("k", lambda: np.zeros(4))
    with pytest.raises(ValueError):
        a[0] = 1
    plain.get_or_compute("k", lambda: np.zeros(4))[0] = 1  # not frozen: the owner may write


def test_discards_report_every_value_that_leaves():
    gone = []
    cache = Cache("t", 3, size=lambda _v: 1, on_evict=gone.append)
    for key in [("v1", 0), ("v1", 1), ("v2", 0)]:
        cache.put(key, key)
    cache.discard_prefix(("v1",))
    assert gone == [("v1", 0), ("v1", 1)] and len(cache) == 1
    assert not cache.discard(("v2", 0), expected="another value")
    assert cache.discard(("v2", 0), expected=("v2", 0)) and len(cache) == 0
    cache.put("x", "x")
    cache.drop_where(lambda k: k == "x")
    for i in range(4):  # one beyond the budget of 3 evicts the oldest
        cache.put(i, f"h{i}")
    assert gone[-2:] == ["x", "h0"]
    assert cache.clear() == ["h1", "h2", "h3"] and cache.used == 0


def test_async_face_shares_one_computation():
    async def main():
        cache = Cache("t", 1000, size=len)
        calls = []

        async def work():
            calls.append(1)
            await asyncio.sleep(0)  # let the other awaits join this flight
            return b"42"

        results = await asyncio.gather(*[cache.get_or_compute_async("k", work) for _ in range(10)])

        async def fail():
            calls.append(1)
            await asyncio.sleep(0)
            raise ValueError("boom")

        errors = await asyncio.gather(*[cache.get_or_compute_async("e", fail) for _ in range(5)],
                                      return_exceptions=True)
        return results, errors, calls, cache

    results, errors, calls, cache = asyncio.run(main())
    assert results == [b"42"] * 10 and cache.get("k") == b"42"
    assert all(isinstance(e, ValueError) for e in errors) and "e" not in cache
    assert len(calls) == 2


def test_handle_pool_is_bounded():
    closed = []
    pool = HandlePool(max_open=3)
    for i in range(5):
        pool.get(i, lambda i=i: f"h{i}", closed.append)
    assert len(pool) == 3 and closed == ["h0", "h1"]
    pool.close_all()
    assert len(pool) == 0 and len(closed) == 5


class _Header:
    def __init__(self, name: str, header_bytes: int) -> None:
        self.name, self.header_bytes = name, header_bytes


def test_a_pool_with_slots_weighs_a_big_header_as_the_slots_it_fills():
    """The slices pool bounds descriptors and header memory at once: a 100 KiB header takes four 32 KiB
    slots, so four of them fill a 16-slot pool and the fifth evicts the first."""
    closed = []
    pool = HandlePool(max_open=16, slot_bytes=32 << 10)
    for i in range(5):
        pool.get(i, lambda i=i: _Header(f"h{i}", 100 << 10), closed.append)
    assert len(pool) == 4 and [h.name for h in closed] == ["h0"]
    for i in range(5, 21):
        pool.get(i, lambda i=i: _Header(f"h{i}", 1000), closed.append)  # a small header: one slot
    assert len(pool) == 16 and pool.stats()["bytes"] == 16
    assert HandlePool(4).get("x", lambda: _Header("x", 1 << 30), closed.append).name == "x"  # no slots: count


def test_leased_handle_survives_eviction_until_released():
    closed = []
    pool = HandlePool(max_open=1)
    with pool.lease("a", lambda: "ha", closed.append) as handle:
        pool.get("b", lambda: "hb", closed.append)  # evicts "a" while it is being read
        assert handle == "ha" and closed == []
    assert closed == ["ha"]
    pool.discard("b")
    assert closed == ["ha", "hb"]


def test_a_handle_is_opened_once_by_concurrent_readers():
    pool, opened, release = HandlePool(4), [], threading.Event()

    def opener():
        opened.append(1)
        release.wait()
        return "h"

    results = []
    threads = [threading.Thread(target=lambda: results.append(pool.get("f", opener, lambda h: None)))
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    _wait_until(lambda: pool.stats()["misses"] == THREADS)
    release.set()
    for t in threads:
        t.join()
    assert opened == [1] and results == ["h"] * THREADS


def test_a_failed_open_is_not_kept():
    pool = HandlePool(4)
    with pytest.raises(OSError):
        pool.get("f", lambda: (_ for _ in ()).throw(OSError("gone")), lambda h: None)
    assert "f" not in pool
    assert pool.get("f", lambda: "h", lambda h: None) == "h"
