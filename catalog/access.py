"""Access levels of a dataset: who may see its record and who may read its voxels.

- ``public``: everyone sees and reads it.
- ``embargoed``: everyone sees the record (with ``embargo_until``); voxels only with a token granting it.
  From ``embargo_until`` (a UTC date) on it is public without a rescan.
- ``private``: nothing about it exists without a token granting it.

Whenever two sources disagree (a folder's sidecar and a file's, a symlink and its target, ``--access`` and a
sidecar) the strictest wins: the scanner can make a dataset stricter than a sidecar says, never laxer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

LEVELS = ("public", "embargoed", "private")  # laxest first


def strictest(*levels: str | None) -> str:
    """The strictest of ``levels`` (None: no opinion); an unknown word counts as private (fail closed)."""
    rank = max((LEVELS.index(lv) if lv in LEVELS else len(LEVELS) - 1 for lv in levels if lv is not None),
               default=0)
    return LEVELS[rank]


def today() -> date:
    return datetime.now(UTC).date()


def effective(access: str, embargo_until: str, on: date | None = None) -> str:
    """The level that applies ``on`` a day (default today, UTC): an embargo ends on its date."""
    level = strictest(access)
    if level == "embargoed" and embargo_until:
        try:
            ends = date.fromisoformat(embargo_until)
        except ValueError:
            return level  # never laxer because of a date nobody can read
        if (on or today()) >= ends:
            return "public"
    return level
