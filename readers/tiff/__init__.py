"""TIFF reader plugin: folders of 2-D slices, multipage, OME-TIFF, ImageJ, BigTIFF, pyramids."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from readers.base import ReaderPlugin, Volume
from readers.slices import sorted_slices

if TYPE_CHECKING:
    from readers.resources import ReaderResources

TIFF_EXTENSIONS = (".tif", ".tiff", ".btf", ".tf8", ".svs", ".ome.tif", ".ome.tiff")
_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def is_tiff_name(name: str) -> bool:
    return name.lower().endswith(TIFF_EXTENSIONS) and not name.startswith(".")


def slice_files(folder: Path) -> list[Path]:
    """The TIFF slices of ``folder`` in z order."""
    return sorted_slices(folder, is_tiff_name)


def has_magic(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in _MAGIC


class TiffPlugin(ReaderPlugin):
    name = "tiff"
    priority = 50
    extensions = TIFF_EXTENSIONS

    def claims(self, path: Path) -> bool:
        if path.is_dir():
            files = slice_files(path)
            return len(files) >= 2 and has_magic(files[0])
        return path.is_file() and is_tiff_name(path.name) and has_magic(path)

    #: the slices of a folder and what each one's first IFD says, for the scan's layout rules (catalog.layout)
    slice_files = staticmethod(slice_files)

    @staticmethod
    def slice_signature(path: Path) -> tuple[tuple, bool]:
        from readers.tiff.header import slice_signature

        return slice_signature(path)

    def preload(self) -> None:
        from readers.tiff import volume  # noqa: F401 - tifffile, imported for later opens

    def open(self, path: Path, resources: ReaderResources | None = None) -> Volume:
        from readers.resources import default_resources
        from readers.tiff.volume import open_file, open_folder

        resources = resources or default_resources()
        return open_folder(path, resources) if path.is_dir() else open_file(path, resources)


PLUGIN = TiffPlugin()
