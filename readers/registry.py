"""Discovery of reader plugins through the ``transformer.readers`` entry-point group."""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points
from pathlib import Path

from readers.base import ReaderError, ReaderPlugin, UnsupportedSource, Volume
from readers.resources import ReaderResources

log = logging.getLogger(__name__)
GROUP = "transformer.readers"


@functools.cache
def plugins() -> tuple[ReaderPlugin, ...]:
    """Every installed plugin, in the order they are asked: priority, then name.

    A plugin that fails to load is logged and skipped so one broken package cannot take the
    service down.
    """
    found: list[ReaderPlugin] = []
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            plugin = obj() if isinstance(obj, type) else obj
            if not isinstance(plugin, ReaderPlugin):
                raise TypeError(f"{ep.value} is not a ReaderPlugin")
            found.append(plugin)
        except Exception:  # noqa: BLE001 - any failure in third-party code
            log.exception("reader plugin %r failed to load; skipped", ep.name)
    return tuple(sorted(found, key=lambda p: (p.priority, p.name)))


def preload() -> None:
    """Every plugin's :meth:`ReaderPlugin.preload`; a failure is logged (the plugin's opens will report it)."""
    for plugin in plugins():
        try:
            plugin.preload()
        except Exception:  # noqa: BLE001 - any failure in third-party code
            log.exception("reader plugin %r failed to preload", plugin.name)


def plugin_named(name: str) -> ReaderPlugin:
    for plugin in plugins():
        if plugin.name == name:
            return plugin
    raise UnsupportedSource(f"no reader plugin named {name!r} is installed")


def claimants(path: Path) -> list[ReaderPlugin]:
    """Plugins whose cheap sniff accepts ``path``."""
    out = []
    for plugin in plugins():
        try:
            if plugin.claims(path):
                out.append(plugin)
        except OSError:
            continue
    return out


def open_volume(path: Path, reader: str | None = None,
                resources: ReaderResources | None = None) -> tuple[ReaderPlugin, Volume]:
    """Open ``path`` with the named reader, or with the first plugin that claims and opens it
    (with ``resources``, else the library's default ones)."""
    candidates = [plugin_named(reader)] if reader else claimants(path)
    if not candidates:
        raise UnsupportedSource(f"no reader recognises {path.name!r}")
    errors = []
    for plugin in candidates:
        try:
            return plugin, plugin.open(path, resources)
        except ReaderError as exc:
            errors.append(f"{plugin.name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a plugin choking on a bad file is a refusal, not a crash
            log.debug("reader %s failed on %s", plugin.name, path, exc_info=True)
            errors.append(f"{plugin.name}: {path.name}: cannot be read ({exc.__class__.__name__}: {exc})")
    raise UnsupportedSource("; ".join(errors))
