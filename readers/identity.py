"""Which content a path holds: a file re-copied, truncated or replaced since it was opened reads wrong.

Offsets and layouts parsed when a source was opened are only valid for the content they were parsed
from, so every read compares the file's identity now with the one seen at open and refuses a change
(a clear error for the affected chunks) instead of serving a mix of old layout and new bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

from readers.base import SourceError

Identity = tuple[int, int, int]  # inode, size, modification time (ns)


def identity(path: str | Path) -> Identity:
    st = os.stat(path)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def check_unchanged(path: str | Path, opened: Identity) -> None:
    """Raise SourceError when ``path`` no longer holds the content it held when it was opened."""
    try:
        now = identity(path)
    except OSError as exc:
        raise SourceError(f"{Path(path).name}: the file is gone ({exc.strerror})") from exc
    if now != opened:
        raise SourceError(f"{Path(path).name}: the file changed while being served")
