"""A file whose disk space is taken before a library writes it, for writers that must not see a failed write.

HDF5 that failed a write (a full disk, the process's file size limit) left itself in a state in which the next
file the process wrote crashed it (SIGSEGV, h5py 3 with HDF5 1.14). :class:`Preallocated` allocates the
bytes first (``posix_fallocate``: the disk or the limit refuses *now*, with an ordinary OSError) and shows
the writer a file object that starts empty and ends where the writer wrote, so the library never meets a
refusal; :meth:`Preallocated.finish` cuts the file to that end.
"""

from __future__ import annotations

import io
import os


class Preallocated(io.RawIOBase):
    """The file open as ``fd`` with ``size`` bytes allocated, seen by its writer as empty at first. h5py
    writes through it (its ``fileobj`` driver calls read, write, seek, tell, truncate and flush)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        os.posix_fallocate(fd, 0, size)
        self._fd = fd
        self._pos = 0
        self.end = 0  # the end of what the writer wrote (or truncated to)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.end}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self.end - self._pos)
        data = os.pread(self._fd, left if size is None or size < 0 else min(size, left), self._pos)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data) -> int:
        n = os.pwrite(self._fd, data, self._pos)
        self._pos += n
        self.end = max(self.end, self._pos)
        return n

    def truncate(self, size: int | None = None) -> int:
        self.end = self._pos if size is None else size
        return self.end

    def flush(self) -> None:
        pass  # pwrite has handed every byte to the kernel

    def finish(self) -> None:
        """Cut the file to what was written (the allocation beyond it is given back)."""
        os.ftruncate(self._fd, self.end)
