"""The JPEG2000 reader plugin: a cheap sniff for scanning and a lazy ``open``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from readers.base import ReaderPlugin, Volume
from readers.jpeg2000.files import EXTENSIONS, first_slice, has_magic, siz_signature, slice_files

if TYPE_CHECKING:
    from readers.resources import ReaderResources


class Jpeg2000Plugin(ReaderPlugin):
    """JPEG2000 slices (.jp2 .j2k .j2c .jpx .jph): one file, or a folder of them as a z stack.

    ``backend`` is ``"glymur"``, ``"imagecodecs"`` or ``"auto"``; None defers to the ``jp2_backend``
    of the resources each open gets (the service's configuration), then to auto.
    """

    name = "jpeg2000"
    extensions = EXTENSIONS

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def claims(self, path: Path) -> bool:
        # extension of one file plus its first 12 bytes: no header parsing, no decoding
        one = first_slice(Path(path))
        return one is not None and has_magic(one)

    #: the slices of a folder, for the scan's layout rules (catalog.layout)
    slice_files = staticmethod(slice_files)

    @staticmethod
    def slice_signature(path: Path) -> tuple[tuple, bool]:
        """(what the slices of one stack must share, is it one 2-D image): a JPEG2000 file always is."""
        return siz_signature(path), True

    def preload(self) -> None:
        from readers.jpeg2000 import backend, openjpeg, volume  # noqa: F401 - imported for later opens

        backend.openjpeg_loaded()  # imports glymur and loads libopenjp2 (~0.1 s)

    def open(self, path: Path, resources: ReaderResources | None = None) -> Volume:
        from readers.jpeg2000.volume import open_jpeg2000  # numpy/glymur only when really opening
        from readers.resources import default_resources

        return open_jpeg2000(Path(path), self.backend, resources or default_resources())
