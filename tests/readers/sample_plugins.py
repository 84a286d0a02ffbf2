"""Small but complete reader plugins that registry tests install through fake entry points.

``NpyPlugin`` serves a ``.npy`` file holding a (z, y, x) array (loaded whole); the other objects are
the kinds of broken or odd plugin the registry must survive.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from readers.base import Level, LevelGeometry, ReaderPlugin, SourceError, UnsupportedSource, Volume, default_channels

#: what entry points name: "tests.readers.sample_plugins:NPY"
MODULE = __name__


class NpyLevel(Level):
    def __init__(self, data: np.ndarray, voxel_size: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__(LevelGeometry((1, 1, *data.shape), data.dtype, voxel_size, (1, *data.shape[1:])))
        self.data = data

    def _read(self, t, c, z, y, x):
        return np.array(self.data[z, y, x])


class NpyPlugin(ReaderPlugin):
    name = "npy"
    extensions = (".npy",)

    def claims(self, path: Path) -> bool:
        return path.suffix == ".npy" and path.read_bytes()[:6] == b"\x93NUMPY"

    def open(self, path: Path, resources=None) -> Volume:
        try:
            data = np.load(path)
        except ValueError as exc:
            raise UnsupportedSource(f"{path.name}: {exc}") from exc
        if data.ndim != 3:
            raise UnsupportedSource(f"{path.name}: {data.ndim}-D, not (z, y, x)")
        return Volume([NpyLevel(data)], default_channels(1), "npy", files=[path])


class EagerNpyPlugin(NpyPlugin):
    """Asked before ``npy`` (lower priority number) but refuses anything of fewer than 2 planes."""

    name = "npy-eager"
    priority = 10

    def open(self, path: Path, resources=None) -> Volume:
        volume = super().open(path, resources)
        if volume.shape[2] < 2:
            raise SourceError(f"{path.name}: a single plane")
        return volume


class FlakyClaimPlugin(NpyPlugin):
    """Its sniff fails with an OSError (say, a permission problem): it simply does not claim."""

    name = "flaky"

    def claims(self, path: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(path))


class BuggyOpenPlugin(NpyPlugin):
    """A plugin with a bug in ``open``."""

    name = "buggy"
    priority = 1

    def open(self, path: Path, resources=None) -> Volume:
        return None.shape  # type: ignore[attr-defined]


NPY = NpyPlugin()
EAGER = EagerNpyPlugin  # a class: the registry instantiates it
FLAKY = FlakyClaimPlugin()
BUGGY = BuggyOpenPlugin()
NOT_A_PLUGIN = object()


class BuggyLevel(NpyLevel):
    """A level whose read hook has a bug: it uses an attribute it never set."""

    def _read(self, t, c, z, y, x):
        return self.decoded[z, y, x]  # type: ignore[attr-defined]


class BuggyReadPlugin(NpyPlugin):
    """Claims ``*.bug.npy`` files and serves them through :class:`BuggyLevel`."""

    name = "buggy-read"
    priority = 1

    def claims(self, path: Path) -> bool:
        return path.name.endswith(".bug.npy") and super().claims(path)

    def open(self, path: Path, resources=None) -> Volume:
        volume = super().open(path, resources)
        volume.levels = [BuggyLevel(volume.levels[0].data)]
        return volume


BUGGY_READ = BuggyReadPlugin()



class ZeroVoxelPlugin(NpyPlugin):
    """Describes its level with a zero voxel size: a plugin bug that geometry validation catches at open."""

    name = "zero-voxel"

    def open(self, path: Path, resources=None) -> Volume:
        return Volume([NpyLevel(np.load(path), voxel_size=(1.0, 0.0, 1.0))], default_channels(1), "npy")


ZERO_VOXEL = ZeroVoxelPlugin()
