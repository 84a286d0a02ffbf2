"""JPEG2000 reader: slices or stacks of slices, native levels from the wavelet reductions.

Importing this package is cheap (no glymur, no imagecodecs); decoding libraries load on ``open``.
"""

from readers.jpeg2000.plugin import Jpeg2000Plugin

PLUGIN = Jpeg2000Plugin()

__all__ = ["PLUGIN", "Jpeg2000Plugin"]
