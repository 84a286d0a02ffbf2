"""The periodic recheck of ``serve --data-root``: records whose source vanished or is now refused leave
the catalog, and a sidecar made stricter takes effect without a rescan.

A full rescan reads every dataset (windows are estimated from voxels), too costly to repeat while
serving. Each round costs a ``stat`` per file instead: whether the files a record lists still exist,
and whether they or the sidecars that speak for them changed since the last round. Only a changed
dataset is described again; if it is now refused it is removed, and if its sidecars now say something
stricter its access follows. A recheck never makes a dataset laxer (that takes a rescan), because it
cannot know which of the record's facts came from ``transformer add --access/--meta``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from catalog.access import strictest
from catalog.record import Record
from catalog.scan import content_stamp, describe
from catalog.sidecar import SIDECAR, sidecar_path
from catalog.store import Catalog

log = logging.getLogger(__name__)

#: how often the server looks for vanished sources
RECHECK_SECONDS = 60.0


def _records_under(root: Path, catalog: Catalog) -> Iterator[tuple[Record, Path]]:
    """(record, source path) of each record whose source lies under ``root`` (resolved)."""
    for record in catalog.all():
        source = Path(record.source)
        if source.is_relative_to(root):
            yield record, source


def _base(source: Path) -> Path:
    """The folder a record's manifest names its files in."""
    return source if source.is_dir() else source.parent


def prune_vanished(root: Path, catalog: Catalog) -> list[tuple[str, str]]:
    """Remove the records under ``root`` whose source, or a file their manifest lists, is gone;
    (name relative to root, reason) of each."""
    root = root.resolve()
    pruned = []
    for record, source in _records_under(root, catalog):
        base = _base(source)
        missing = [m["name"] for m in record.manifest if not (base / m["name"]).exists()]
        if source.exists() and not missing:
            continue
        reason = "the source vanished" if not source.exists() else f"{missing[0]} vanished"
        if catalog.remove(record.id):
            name = source.relative_to(root).as_posix() or "."
            log.warning("removed %s from the catalog: %s", name, reason)
            pruned.append((name, reason))
    return pruned


def observed(record: Record, root: Path) -> str:
    """What a round compares: a stamp of the record's files and of the sidecars above them."""
    source = Path(record.source)
    base = _base(source)
    files = [base / m["name"] for m in record.manifest]
    sidecars = [p for p in (sidecar_path(source), *(f / SIDECAR for f in source.parents if f.is_relative_to(root)))
                if p is not None and p.is_file()]
    return content_stamp(files, base) + content_stamp(sidecars, root)


def recheck_changed(root: Path, catalog: Catalog, seen: dict[str, str]) -> list[tuple[str, str]]:
    """Describe again each dataset under ``root`` whose files or sidecars changed since ``seen`` (the
    previous round's :func:`observed`, updated here): remove it when it is now refused, make its access
    stricter when its sidecars now say so. (name relative to root, what happened) of each change."""
    root = root.resolve()
    changes = []
    for record, source in _records_under(root, catalog):
        try:
            now = observed(record, root)
        except OSError:
            continue  # vanished meanwhile: prune_vanished's business
        before, seen[record.id] = seen.get(record.id), now
        if before is None or before == now:
            continue
        name = source.relative_to(root).as_posix() or "."
        try:
            fresh = describe(source, root, catalog, reader=record.reader)
        except Exception as exc:  # noqa: BLE001 - whatever refuses it now, it must stop being served
            if catalog.remove(record.id):
                log.warning("removed %s from the catalog: now refused (%s)", name, exc)
                changes.append((name, f"refused: {exc}"))
            continue
        access = strictest(record.access, fresh.access)
        if access != record.access:
            catalog.put(replace(record, access=access, public=access == "public",
                                embargo_until=fresh.embargo_until if access == "embargoed" else ""))
            changes.append((name, f"access is now {access}"))
    return changes


class Recheck:
    """The running recheck thread: :meth:`stop` ends it after the round in progress and closes its catalog."""

    def __init__(self, root: Path, catalog_path: Path, interval: float) -> None:
        self.root, self.catalog_path, self.interval = root, catalog_path, interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="recheck", daemon=True)
        self.thread.start()

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        seen: dict[str, str] = {}
        catalog = None
        first = True
        while first or not self._stop.wait(self.interval):
            try:  # every round, the first too: a failed round must not end the rechecks
                catalog = catalog or Catalog(self.catalog_path)  # a connection of this thread's own
                if not first:
                    prune_vanished(self.root, catalog)
                recheck_changed(self.root, catalog, seen)  # the first round only takes note of what is there
            except Exception:  # noqa: BLE001 - logged, and the next round tries again
                log.warning("the recheck of %s failed", self.root.name, exc_info=True)
            first = False
        if catalog is not None:
            catalog.close()


def start_recheck(root: Path, catalog_path: Path, interval: float = RECHECK_SECONDS) -> Recheck:
    """Run :func:`prune_vanished` and :func:`recheck_changed` every ``interval`` seconds in a daemon thread until
    the returned handle's ``stop()``."""
    return Recheck(root, catalog_path, interval)
