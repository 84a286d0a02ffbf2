"""The one cache primitive of the service: a byte-budgeted LRU whose misses are computed once.

Every cache (decoded blocks, reduced parts, encoded chunks, warm responses, decoded TIFF tiles,
JPEG2000 regions and planes, open file handles, open datasets) is a :class:`Cache`, so eviction,
single flight, statistics and prefix discards are written once. It lives in readers/ because readers
must not import transformer/, while transformer/ may import readers/.

A "byte" budget may count anything: a handle pool weighs every entry 1, so its budget is a count.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import numpy as np


def nbytes(value: Any) -> int:
    """The size of an array, a bytes-like value, or anything with an ``nbytes`` attribute."""
    size = getattr(value, "nbytes", None)
    return int(size) if size is not None else len(value)


class _Flight:
    """One computation that other threads asking for the same key wait for."""

    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Cache:
    """A thread-safe LRU bounded by the summed ``size`` of its values, with single flight.

    ``freeze`` makes kept arrays read-only: a cached array is shared between callers, so nobody may
    modify it. ``on_evict`` is called (outside the lock) with every value that leaves the cache by
    eviction, discard or clear: a handle pool closes files there.
    """

    def __init__(self, name: str, budget: int, *, size: Callable[[Any], int] = nbytes, freeze: bool = False,
                 on_evict: Callable[[Any], None] | None = None) -> None:
        self.name = name
        self.budget = budget
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._size, self._freeze, self._on_evict = size, freeze, on_evict
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}
        self._async_flights: dict[Hashable, asyncio.Future] = {}

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, key: Hashable) -> Any | None:
        """The value for ``key`` (now the most recently used), or None; counted as a hit or a miss."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def peek(self, key: Hashable) -> Any | None:
        """The value for ``key`` without touching its recency or the statistics."""
        item = self._items.get(key)  # a dict read is atomic: no lock, so it is cheap on the event loop
        return None if item is None else item[0]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    # -- storing ---------------------------------------------------------------------------------

    def put(self, key: Hashable, value: Any, size: int | None = None) -> None:
        """Keep ``value`` (``size`` defaults to the cache's size function); one larger than the whole
        budget is not kept (the caller still serves it) and evicts nothing."""
        size = self._size(value) if size is None else size
        if self._freeze and isinstance(value, np.ndarray):
            value.flags.writeable = False
        if size > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            gone = [old[0]] if old is not None and old[0] is not value else []
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (evicted, evicted_size) = self._items.popitem(last=False)
                self.used -= evicted_size
                gone.append(evicted)
        self._evicted(gone)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value, else ``compute()`` it once however many threads ask at the same moment.

        The computing thread runs ``compute`` outside the lock; the others wait and get its value, or
        its exception (which is not cached: the next call computes again).
        """
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            item = self._items.get(key)  # kept between our miss and taking the lock
            if item is not None:
                return item[0]
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = _Flight()
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = compute()
            self.put(key, flight.value)
            return flight.value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    async def get_or_compute_async(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The event loop's face of :meth:`get_or_compute`: identical concurrent awaits share one
        ``compute()`` (which typically runs the blocking work in a thread). Call it from one loop only."""
        value = self.get(key)
        if value is not None:
            return value
        return await self.compute_async(key, compute)

    async def compute_async(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        """:meth:`get_or_compute_async` for a caller that has just looked ``key`` up and missed: joins the
        flight computing it, or computes and keeps it."""
        future = self._async_flights.get(key)
        if future is not None:
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self._async_flights[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark it retrieved: there may be no waiter
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value
        finally:
            del self._async_flights[key]

    # -- forgetting ------------------------------------------------------------------------------

    def discard(self, key: Hashable, expected: Any = None) -> bool:
        """Forget ``key`` (only if its value is ``expected``, when given); True if something went."""
        with self._lock:
            item = self._items.get(key)
            if item is None or (expected is not None and item[0] is not expected):
                return False
            del self._items[key]
            self.used -= item[1]
        self._evicted([item[0]])
        return True

    def drop_where(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget every entry whose key satisfies ``predicate``."""
        with self._lock:
            keys = [k for k in self._items if predicate(k)]
            gone = [self._items.pop(k) for k in keys]
            self.used -= sum(size for _, size in gone)
        self._evicted([value for value, _ in gone])

    def discard_prefix(self, prefix: tuple) -> None:
        """Forget every entry whose (tuple) key starts with ``prefix``, e.g. one closed volume's."""
        n = len(prefix)
        self.drop_where(lambda k: isinstance(k, tuple) and k[:n] == prefix)

    def clear(self) -> list[Any]:
        """Forget everything; returns the values that were kept."""
        with self._lock:
            gone = [value for value, _ in self._items.values()]
            self._items.clear()
            self.used = 0
        self._evicted(gone)
        return gone

    def _evicted(self, values: list[Any]) -> None:
        if self._on_evict is not None:
            for value in values:
                self._on_evict(value)

    # -- reporting -------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        return {"bytes": self.used, "budget": self.budget, "entries": len(self._items), "hits": self.hits,
                "misses": self.misses, "inflight": len(self._flights) + len(self._async_flights)}
