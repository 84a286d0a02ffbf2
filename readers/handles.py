"""A bounded pool of open file handles shared by the readers.

Opening a TIFF or HDF5 file parses its header, which costs far more than reading one tile, so
handles are kept open; the pool closes the least recently used one beyond its bound so a catalog of
thousands of files never exhausts file descriptors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class HandlePool:
    def __init__(self, max_open: int = 256) -> None:
        self.max_open = max_open
        self._open: OrderedDict[Hashable, tuple[Any, Callable[[Any], None]]] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, opener: Callable[[], Any], closer: Callable[[Any], None]) -> Any:
        """The open handle for ``key``, opening it with ``opener`` on first use."""
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key][0]
            gate = self._opening.setdefault(key, threading.Lock())
        with gate:  # one thread opens a given file; the others wait for it
            with self._lock:
                if key in self._open:
                    self._open.move_to_end(key)
                    return self._open[key][0]
            handle = opener()
            evicted = []
            with self._lock:
                self._open[key] = (handle, closer)
                self._opening.pop(key, None)
                while len(self._open) > self.max_open:
                    evicted.append(self._open.popitem(last=False)[1])
        for old, close in evicted:
            close(old)
        return handle

    def discard(self, key: Hashable) -> None:
        """Close and forget the handle for ``key`` (e.g. after an I/O error)."""
        with self._lock:
            entry = self._open.pop(key, None)
        if entry:
            entry[1](entry[0])

    def discard_prefix(self, prefix: tuple) -> None:
        with self._lock:
            keys = [k for k in self._open if isinstance(k, tuple) and k[: len(prefix)] == prefix]
            entries = [self._open.pop(k) for k in keys]
        for handle, close in entries:
            close(handle)

    def __len__(self) -> int:
        return len(self._open)

    def close_all(self) -> None:
        with self._lock:
            entries = list(self._open.values())
            self._open.clear()
        for handle, close in entries:
            close(handle)


#: the process-wide pool; readers key it by (plugin name, resolved path, ...)
POOL = HandlePool()
