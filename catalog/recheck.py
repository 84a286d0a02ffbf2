"""The periodic recheck of ``serve --data-root``: records whose source vanished leave the catalog.

A full rescan reads every dataset (windows are estimated from voxels), too costly to repeat while
serving; whether a source and the files its record lists still exist costs one ``stat`` each. A source
that is still there but now refused is found by ``transformer scan --prune``; meanwhile the server's
own recheck (transformer.engine.datasets) answers its chunks with a 500 and a reason.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from catalog.store import Catalog

log = logging.getLogger(__name__)

#: how often the server looks for vanished sources
RECHECK_SECONDS = 60.0


def prune_vanished(root: Path, catalog: Catalog) -> list[tuple[str, str]]:
    """Remove the records under ``root`` whose source, or a file their manifest lists, is gone;
    (name relative to root, reason) of each."""
    root = root.resolve()
    pruned = []
    for record in catalog.all():
        source = Path(record.source)
        if not source.is_relative_to(root):
            continue
        base = source if source.is_dir() else source.parent
        missing = [m["name"] for m in record.manifest if not (base / m["name"]).exists()]
        if source.exists() and not missing:
            continue
        reason = "the source vanished" if not source.exists() else f"{missing[0]} vanished"
        if catalog.remove(record.id):
            name = source.relative_to(root).as_posix() or "."
            log.warning("removed %s from the catalog: %s", name, reason)
            pruned.append((name, reason))
    return pruned


def start_recheck(root: Path, catalog_path: Path, interval: float = RECHECK_SECONDS) -> threading.Event:
    """Run :func:`prune_vanished` every ``interval`` seconds in a daemon thread; set the returned event
    to stop it."""
    stop = threading.Event()

    def loop() -> None:
        catalog = Catalog(catalog_path)  # a connection of this thread's own
        try:
            while not stop.wait(interval):
                try:
                    prune_vanished(root, catalog)
                except Exception:  # noqa: BLE001 - a failed round must not end the rechecks
                    log.warning("the recheck of %s failed", root.name, exc_info=True)
        finally:
            catalog.close()

    threading.Thread(target=loop, name="recheck", daemon=True).start()
    return stop
