"""How much of the memory-mapped raw files may stay in this process's resident set."""

from __future__ import annotations

import mmap
import threading


class MapResidency:
    """Bounds how much of the memory-mapped raw files stays in this process's resident set.

    Copied-from pages would otherwise stay resident until unmapped (RSS grows to the size of every raw
    file read). Dropping them after every copy costs a page fault on each re-read (neighbouring chunks
    re-read the same rows), so they are dropped in bulk once ``limit`` bytes were copied.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.copied = 0
        self.drops = 0
        self.maps: dict[int, mmap.mmap] = {}
        self.lock = threading.Lock()

    def register(self, mm: mmap.mmap) -> None:
        with self.lock:
            self.maps[id(mm)] = mm

    def unregister(self, mm: mmap.mmap) -> None:
        with self.lock:
            self.maps.pop(id(mm), None)

    def copied_from(self, size: int) -> None:
        with self.lock:
            self.copied += size
            if self.copied < self.limit:
                return
            self.copied = 0
            self.drops += 1
            maps = list(self.maps.values())
        for mm in maps:  # the pages stay in the OS page cache; only this process lets go of them
            try:
                mm.madvise(mmap.MADV_DONTNEED)
            except (AttributeError, OSError, ValueError):  # closed meanwhile, or no madvise here
                pass

    def stats(self) -> dict[str, int]:
        """In the shape of :meth:`readers.caching.Cache.stats`: bytes copied since the last drop."""
        return {"bytes": self.copied, "budget": self.limit, "entries": len(self.maps), "drops": self.drops}
