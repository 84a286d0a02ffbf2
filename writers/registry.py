"""The registered output views: the built-in ones, plus plugins of the ``transformer.views`` entry-point
group (loaded defensively, like reader plugins). Adding a view = one module + one ``register`` line."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from writers.precomputed import Precomputed
from writers.view import View
from writers.zarr_v2 import ZarrV2
from writers.zarr_v3 import ZarrV3
from writers.zarr_v3_sharded import ZarrV3Sharded

log = logging.getLogger(__name__)
GROUP = "transformer.views"

#: built-in views by name, in the order records list their links
VIEWS: dict[str, View] = {}


def register(view: View, into: dict[str, View] = VIEWS) -> View:
    """Add ``view``; its name and URL prefix must be new."""
    if not isinstance(view, View):
        raise TypeError(f"{view!r} is not a View")
    for other in into.values():
        if view.name == other.name or view.prefix == other.prefix:
            raise ValueError(f"view {view.name!r} ({view.prefix}) clashes with {other.name!r} ({other.prefix})")
    into[view.name] = view
    return view


register(ZarrV2())
register(ZarrV3())
register(Precomputed())
register(ZarrV3Sharded())


@functools.cache
def installed() -> tuple[View, ...]:
    """The built-in views, then every view plugin that loads (a broken one is logged and skipped)."""
    found = dict(VIEWS)
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            register(obj() if isinstance(obj, type) else obj, found)
        except Exception:  # noqa: BLE001 - any failure in third-party code
            log.exception("view plugin %r failed to load; skipped", ep.name)
    return tuple(found.values())


def view_named(name: str, views: Iterable[View] | None = None) -> View:
    for view in installed() if views is None else views:
        if view.name == name:
            return view
    raise LookupError(f"no view named {name!r}")
