"""The one path scrubber: no message a reader raises (and so no HTTP answer) names a server path.

Decoders and the OS put full paths into their messages (glymur's ``self.filename``, HDF5's
``name = '/srv/...'``, an OSError's ``filename``); clients must only ever see the bare file name.
"""

from __future__ import annotations

import re
from pathlib import Path

# a run of path components, absolute or relative, POSIX or Windows: kept is the last component only
_PATHS = re.compile(r"(?:[A-Za-z]:|[^\\/\s'\"]+)?(?:[\\/][^\\/\s'\"]+)*[\\/]([^\\/\s'\"]+)")


def scrub(message: str, *known: Path) -> str:
    """``message`` with every path reduced to its file name.

    ``known`` paths are replaced whole first (a folder with a space in its name would otherwise leave a
    piece of it behind); the pattern then catches any other path.
    """
    for path in known:
        for p in {path, path.absolute(), path.resolve()}:
            message = message.replace(str(p), path.name)
            message = message.replace(str(p.parent) + "/", "").replace(str(p.parent), "<folder>")
    return _PATHS.sub(r"\1", message)


def describe(exc: BaseException, *known: Path) -> str:
    """Class and scrubbed message of a failure; an OSError by its reason and bare file name."""
    if isinstance(exc, OSError):
        where = f" ({Path(exc.filename).name})" if exc.filename else ""
        return f"{type(exc).__name__}: {exc.strerror or 'input/output error'}{where}"
    return scrub(f"{type(exc).__name__}: {exc}", *known)
