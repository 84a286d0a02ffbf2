"""A bounded pool of open file handles shared by the readers.

Opening a TIFF or HDF5 file parses its header, which costs far more than reading one tile, so
handles are kept open; the pool closes the least recently used one beyond its bound so a catalog of
thousands of files never exhausts file descriptors. A handle taken with :meth:`HandlePool.lease` is
never closed under a reader's feet: eviction defers its closing until the lease ends.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any


class _Entry:
    __slots__ = ("handle", "closer", "leases", "retired")

    def __init__(self, handle: Any, closer: Callable[[Any], None]) -> None:
        self.handle, self.closer = handle, closer
        self.leases = 0
        self.retired = False  # evicted or discarded while leased: close when the last lease ends


class HandlePool:
    def __init__(self, max_open: int = 256) -> None:
        self.max_open = max_open
        self._open: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, opener: Callable[[], Any], closer: Callable[[Any], None]) -> Any:
        """The open handle for ``key``, opening it with ``opener`` on first use."""
        return self._acquire(key, opener, closer, lease=False).handle

    @contextlib.contextmanager
    def lease(self, key: Hashable, opener: Callable[[], Any], closer: Callable[[Any], None]) -> Iterator[Any]:
        """The handle for ``key``, guaranteed open until the ``with`` block ends."""
        entry = self._acquire(key, opener, closer, lease=True)
        try:
            yield entry.handle
        finally:
            with self._lock:
                entry.leases -= 1
                close_now = entry.retired and entry.leases == 0
            if close_now:
                entry.closer(entry.handle)

    def _acquire(self, key, opener, closer, lease: bool) -> _Entry:
        with self._lock:
            entry = self._take(key, lease)
            if entry is not None:
                return entry
            gate = self._opening.setdefault(key, threading.Lock())
        with gate:  # one thread opens a given file; the others wait for it
            with self._lock:
                entry = self._take(key, lease)
                if entry is not None:
                    return entry
            entry = _Entry(opener(), closer)
            with self._lock:
                entry.leases += lease
                self._open[key] = entry
                self._opening.pop(key, None)
                evicted = []
                while len(self._open) > self.max_open:
                    evicted.append(self._open.popitem(last=False)[1])
                to_close = self._retire(evicted)
        for old in to_close:
            old.closer(old.handle)
        return entry

    def _take(self, key, lease: bool) -> _Entry | None:
        entry = self._open.get(key)
        if entry is not None:
            self._open.move_to_end(key)
            entry.leases += lease
        return entry

    @staticmethod
    def _retire(entries: list[_Entry]) -> list[_Entry]:
        """Mark entries gone from the pool; return those nobody is using (close them outside the lock)."""
        for entry in entries:
            entry.retired = True
        return [e for e in entries if e.leases == 0]

    def discard(self, key: Hashable) -> None:
        """Close and forget the handle for ``key`` (closing waits for its leases to end)."""
        with self._lock:
            entry = self._open.pop(key, None)
            to_close = self._retire([entry] if entry else [])
        for e in to_close:
            e.closer(e.handle)

    def discard_prefix(self, prefix: tuple) -> None:
        with self._lock:
            keys = [k for k in self._open if isinstance(k, tuple) and k[: len(prefix)] == prefix]
            to_close = self._retire([self._open.pop(k) for k in keys])
        for e in to_close:
            e.closer(e.handle)

    def __len__(self) -> int:
        return len(self._open)

    def close_all(self) -> None:
        with self._lock:
            to_close = self._retire(list(self._open.values()))
            self._open.clear()
        for e in to_close:
            e.closer(e.handle)


#: the process-wide pool; readers key it by (plugin name, resolved path, ...)
POOL = HandlePool()
