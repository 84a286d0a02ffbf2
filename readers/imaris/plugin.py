"""The light half of the Imaris reader: name, extensions and a cheap sniff.

Nothing here imports h5py; ``open`` pulls in the heavy modules only when a file is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from readers.base import ReaderPlugin, Volume
from readers.imaris.sniff import is_hdf5

if TYPE_CHECKING:
    from readers.resources import ReaderResources


class ImarisPlugin(ReaderPlugin):
    """Imaris 5.5 ``.ims`` files (HDF5), including BigDataProcessor header + ``.h5`` pairs."""

    name = "imaris"
    priority = 50
    extensions = (".ims",)

    def claims(self, path: Path) -> bool:
        path = Path(path)
        return path.suffix.lower() in self.extensions and path.is_file() and is_hdf5(path)

    def preload(self) -> None:
        import h5py  # noqa: F401 - imported for later opens

        from readers.imaris import files, volume  # noqa: F401

        files.load_filters()  # hdf5plugin

    def open(self, path: Path, resources: ReaderResources | None = None) -> Volume:
        from readers.imaris.volume import open_ims  # heavy: h5py, hdf5plugin
        from readers.resources import default_resources

        return open_ims(Path(path), resources or default_resources())
