"""Byte-budgeted LRU caches; the compute variant lets concurrent threads share one computation."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ByteLRU:
    """A thread-safe LRU bounded by the sum of its values' sizes in bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        if nbytes > self.budget:
            return  # larger than the whole budget: serve it, do not keep it
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            self._items[key] = (value, nbytes)
            self.used += nbytes
            while self.used > self.budget:
                _, (_, size) = self._items.popitem(last=False)
                self.used -= size

    def drop_where(self, predicate: Callable[[Hashable], bool]) -> None:
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                self.used -= self._items.pop(key)[1]

    def stats(self) -> dict:
        return {"bytes": self.used, "budget": self.budget, "entries": len(self._items),
                "hits": self.hits, "misses": self.misses}


class _Flight:
    __slots__ = ("done", "value", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class ComputeCache(ByteLRU):
    """ByteLRU whose misses are computed once even when several threads ask at the same moment."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        self._inflight: dict[Hashable, _Flight] = {}
        self._flight_lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any], size: Callable[[Any], int]) -> Any:
        value = self.get(key)
        if value is not None:
            return value
        with self._flight_lock:
            flight = self._inflight.get(key)
            owner = flight is None
            if owner:
                flight = self._inflight[key] = _Flight()
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = compute()
            self.put(key, flight.value, size(flight.value))
            return flight.value
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._flight_lock:
                self._inflight.pop(key, None)
            flight.done.set()
