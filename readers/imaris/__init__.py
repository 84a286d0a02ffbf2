"""Imaris ``.ims`` reader plugin (entry point ``imaris = "readers.imaris:PLUGIN"``).

Modules, one job each:

- ``plugin``: the cheap plugin object (extension + HDF5 signature sniff)
- ``attributes``: decoding Imaris's 1-byte-string attributes
- ``files``: opening HDF5 files (with compression plugins) through the shared handle pool
- ``layout``: discovering levels, time points, channels, sizes and external files
- ``metadata``: voxel size, units, channel names, colours and contrast windows
- ``level``: reading a region of one native level
- ``volume``: assembling the :class:`readers.base.Volume`
- ``writer``: writing valid Imaris files (tests and demo data)
"""

from readers.imaris.plugin import ImarisPlugin

PLUGIN = ImarisPlugin()

__all__ = ["PLUGIN", "ImarisPlugin"]
