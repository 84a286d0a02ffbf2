"""A bounded pool of open file handles shared by the readers.

Opening a TIFF or HDF5 file parses its header, which costs far more than reading one tile, so
handles are kept open; the pool closes the least recently used one beyond its bound so a catalog of
thousands of files never exhausts file descriptors. A handle taken with :meth:`HandlePool.lease` is
never closed under a reader's feet: eviction defers its closing until the lease ends.

The pool is a :class:`~readers.caching.Cache` in which every handle weighs 1 (so its budget is the
number of open files) plus lease counting, which a plain cache has no notion of.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from readers.caching import Cache


class _Entry:
    """An open handle, its closer and the reads currently using it."""

    __slots__ = ("handle", "closer", "leases", "retired", "closed", "lock")

    def __init__(self, handle: Any, closer: Callable[[Any], None]) -> None:
        self.handle, self.closer = handle, closer
        self.leases = 0
        self.retired = False  # gone from the pool: close when the last lease ends
        self.closed = False
        self.lock = threading.Lock()

    def take(self) -> bool:
        """Lease the handle unless it was closed meanwhile."""
        with self.lock:
            if self.closed:
                return False
            self.leases += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.leases -= 1
            close_now = self._closing()
        if close_now:
            self.closer(self.handle)

    def retire(self) -> None:
        """Called by the pool when the entry leaves it (evicted, discarded, cleared)."""
        with self.lock:
            self.retired = True
            close_now = self._closing()
        if close_now:
            self.closer(self.handle)

    def _closing(self) -> bool:
        if self.retired and self.leases == 0 and not self.closed:
            self.closed = True
            return True
        return False


class HandlePool:
    """At most ``max_open`` open handles; with ``slot_bytes``, a handle whose ``header_bytes`` (its parsed
    header held in memory) exceed that takes as many slots as it fills, so ``max_open * slot_bytes`` also
    bounds the memory of the headers kept."""

    def __init__(self, max_open: int = 256, slot_bytes: int | None = None, name: str = "handles") -> None:
        self.max_open = max_open
        self.slot_bytes = slot_bytes
        self._entries = Cache(name, max_open, size=self._slots, on_evict=_Entry.retire)

    def _slots(self, entry: _Entry) -> int:
        if self.slot_bytes is None:
            return 1
        return max(1, -(-getattr(entry.handle, "header_bytes", 0) // self.slot_bytes))

    def get(self, key: Hashable, opener: Callable[[], Any], closer: Callable[[Any], None]) -> Any:
        """The open handle for ``key``, opening it with ``opener`` on first use (one thread opens a
        given file; the others wait for it)."""
        return self._entries.get_or_compute(key, lambda: _Entry(opener(), closer)).handle

    @contextlib.contextmanager
    def lease(self, key: Hashable, opener: Callable[[], Any], closer: Callable[[Any], None]) -> Iterator[Any]:
        """The handle for ``key``, guaranteed open until the ``with`` block ends."""
        while True:
            entry = self._entries.get_or_compute(key, lambda: _Entry(opener(), closer))
            if entry.take():
                break
            # evicted and closed between the lookup and the lease: the next lookup opens it again
        try:
            yield entry.handle
        finally:
            entry.release()

    def discard(self, key: Hashable) -> None:
        """Close and forget the handle for ``key`` (closing waits for its leases to end)."""
        self._entries.discard(key)

    def discard_prefix(self, prefix: tuple) -> None:
        self._entries.discard_prefix(prefix)

    def close_all(self) -> None:
        self._entries.clear()

    def stats(self) -> dict[str, int]:
        return self._entries.stats()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
