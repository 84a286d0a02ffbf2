"""Temporary disk for cutout files (OME-TIFF, HDF5: both writers seek back, so the file is finished on disk
before its first byte is sent): at most ``--cutout-files`` at once and ``--cutout-tmp-mb`` in all.

A cutout leases its bytes before writing. Beyond either bound, or when the disk itself has no room, it is
answered 503 with ``Retry-After`` at once instead of queueing (a queue of multi-GiB files would hold their
clients for minutes with no answer); a box that could never fit is 413.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from transformer.server.errors import TooLarge, Unavailable

#: seconds a client is asked to wait before trying again
RETRY_AFTER = 10
MIB = 1 << 20


class Lease:
    """Bytes and a slot of the scratch space, held until :meth:`release` (idempotent)."""

    def __init__(self, scratch: Scratch, nbytes: int) -> None:
        self._scratch, self.nbytes = scratch, nbytes
        self._released = False

    def release(self) -> None:
        with self._scratch.lock:
            if not self._released:
                self._released = True
                self._scratch.used -= self.nbytes
                self._scratch.files -= 1


class Scratch:
    def __init__(self, directory: Path | None, budget_mb: int, max_files: int) -> None:
        self.directory = Path(directory) if directory else Path(tempfile.gettempdir())
        self.budget = budget_mb * MIB
        self.max_files = max(1, max_files)
        self.lock = threading.Lock()
        self.used = 0  # bytes leased
        self.files = 0  # leases held

    def lease(self, nbytes: int) -> Lease:
        """Room for a file of at most ``nbytes``, or TooLarge (never fits) / Unavailable (not now)."""
        if nbytes > self.budget:
            raise TooLarge(
                f"the file would take up to {nbytes / MIB:.0f} MiB of temporary disk, more than the "
                f"{self.budget // MIB} MiB this server allows for cutout files: ask format=npy (sent "
                f"as it is read, no temporary file) or a smaller box"
            )
        free = shutil.disk_usage(self.directory).free
        with self.lock:
            if self.files >= self.max_files:
                raise Unavailable(
                    f"all {self.max_files} cutout files this server writes at once are being "
                    f"written: try again shortly, or ask format=npy",
                    RETRY_AFTER,
                )
            if self.used + nbytes > self.budget:
                raise Unavailable(
                    f"the temporary disk for cutout files is taken ({self.used / MIB:.0f} of "
                    f"{self.budget // MIB} MiB): try again shortly, or ask format=npy",
                    RETRY_AFTER,
                )
            if free - self.used < nbytes:  # what others leased may not be written yet
                raise Unavailable(
                    "the server's temporary disk is full: try again later, or ask format=npy", RETRY_AFTER
                )
            self.used += nbytes
            self.files += 1
        return Lease(self, nbytes)

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {"bytes": self.used, "budget": self.budget, "files": self.files, "max_files": self.max_files}
