"""Fixtures of the reader tests: sample plugins installed through real entry points, .npy sources."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np
import pytest

from readers import registry


@pytest.fixture
def installed(monkeypatch):
    """Install the named entry points (name -> "module:attribute") as the only reader plugins."""

    def install(**points: str) -> None:
        eps = [EntryPoint(name, value, registry.GROUP) for name, value in points.items()]

        def entry_points(group: str):
            return [ep for ep in eps if ep.group == group]

        monkeypatch.setattr(registry, "entry_points", entry_points)
        registry.plugins.cache_clear()

    yield install
    registry.plugins.cache_clear()  # the next test discovers the real plugins again


@pytest.fixture
def npy_file(tmp_path):
    def make(shape: tuple[int, ...]):
        path = tmp_path / f"{'x'.join(map(str, shape))}.npy"
        data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
        np.save(path, data)
        return path, data

    return make
