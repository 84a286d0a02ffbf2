"""A small byte-bounded LRU of decoded arrays, shared by the readers.

Decodes worth keeping: a TIFF tile or strip that several chunks cut (a 256^2 tile feeds sixteen 64^2
chunks), a JPEG2000 RGB region (red, green and blue are requested separately), and in imagecodecs
mode a whole decoded JPEG2000 slice (imagecodecs cannot decode a region).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class ArrayLRU:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Event] = {}

    def get_or_make(self, key: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key``; otherwise ``make()`` it (outside the lock) and keep it if it fits.

        Threads asking for a key another thread is making wait for it instead of decoding it again
        (nested overview levels ask for the same slices at once).
        """
        while True:
            value = self.get(key)
            if value is not None:
                return value
            with self._lock:
                pending = self._making.get(key)
                if pending is None:
                    self._making[key] = pending = threading.Event()
                    break
            pending.wait()
            value = self.get(key)
            if value is not None:
                return value
            # the maker failed, or its value did not fit: make it here
        try:
            value = make()
            self.put(key, value)
            return value
        finally:
            with self._lock:
                del self._making[key]
            pending.set()

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        value.flags.writeable = False  # shared between callers: nobody may modify it
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._bytes += value.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def discard_prefix(self, prefix: tuple) -> None:
        """Forget every entry whose (tuple) key starts with ``prefix``, e.g. one closed volume's."""
        with self._lock:
            for key in [k for k in self._items if isinstance(k, tuple) and k[: len(prefix)] == prefix]:
                self._bytes -= self._items.pop(key).nbytes

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
