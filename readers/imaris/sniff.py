"""Cheap recognition of HDF5 files from their superblock signature, without opening h5py."""

from __future__ import annotations

from pathlib import Path

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: the superblock sits at 0 or at 512·2^k (after a user block); past 1 MiB nobody puts one
SUPERBLOCK_OFFSETS = (0, *(512 << k for k in range(12)))


def is_hdf5(path: Path) -> bool:
    """True if ``path`` is a file whose HDF5 signature sits at one of the allowed offsets."""
    try:
        with open(path, "rb") as fh:
            for offset in SUPERBLOCK_OFFSETS:
                fh.seek(offset)
                head = fh.read(len(HDF5_MAGIC))
                if len(head) < len(HDF5_MAGIC):
                    return False  # past the end of the file
                if head == HDF5_MAGIC:
                    return True
    except OSError:
        return False
    return False
