"""Neuroglancer precomputed volumes: info, chunk names, and raw / jpeg / compressed_segmentation chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from writers import keys
from writers.errors import MalformedKey, NoSuchKey, WriterError
from writers.spec import ImageSpec, LevelSpec

ENCODINGS = ("raw", "jpeg", "compressed_segmentation")
CSEG_BLOCK = (8, 8, 8)

# Types neuroglancer lacks, and what they are served as: float64 loses precision only; int64 and
# uint64 images are clipped to 32 bits (uint64 stays uint64 for segmentation, which needs it).
_CONVERT = {"float64": "float32", "int64": "int32", "bool": "uint8"}
_SUPPORTED = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32"}


def served_dtype(dtype: str, kind: str = "intensity") -> str:
    if dtype == "uint64" and kind != "labels":
        return "uint32"
    out = _CONVERT.get(dtype, dtype)
    if out not in _SUPPORTED:
        raise WriterError(f"{dtype} cannot be served as neuroglancer precomputed")
    return out


def default_encoding(spec: ImageSpec) -> str:
    dtype = served_dtype(spec.dtype, spec.kind)
    if spec.kind == "labels" and dtype in ("uint32", "uint64"):
        return "compressed_segmentation"
    return "raw"


def check_encoding(spec: ImageSpec, encoding: str) -> None:
    dtype = served_dtype(spec.dtype, spec.kind)
    nc = len(spec.channels)
    if encoding == "jpeg" and not (dtype == "uint8" and nc in (1, 3)):
        raise NoSuchKey("jpeg encoding is only offered for uint8 data with 1 or 3 channels")
    if encoding == "compressed_segmentation" and not (dtype in ("uint32", "uint64") and nc == 1):
        raise NoSuchKey("compressed_segmentation is only offered for single-channel uint32/uint64 labels")
    if encoding not in ENCODINGS:
        raise MalformedKey(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")


def scale_key(level: int) -> str:
    return str(level)


def info(spec: ImageSpec, encoding: str) -> dict:
    check_encoding(spec, encoding)
    scales = []
    for i, level in enumerate(spec.levels):
        _, _, cz, cy, cx = level.chunks
        _, _, nz, ny, nx = level.shape
        vz, vy, vx = level.voxel_size
        scale = {
            "key": scale_key(i),
            "size": [nx, ny, nz],
            "resolution": [vx * 1000.0, vy * 1000.0, vz * 1000.0],  # µm -> nm
            "voxel_offset": [0, 0, 0],
            "chunk_sizes": [[cx, cy, cz]],
            "encoding": encoding,
        }
        if encoding == "compressed_segmentation":
            scale["compressed_segmentation_block_size"] = list(CSEG_BLOCK)
        if encoding == "jpeg":
            scale["jpeg_quality"] = 90
        scales.append(scale)
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation" if spec.kind == "labels" else "image",
        "data_type": served_dtype(spec.dtype, spec.kind),
        "num_channels": len(spec.channels),
        "scales": scales,
    }


@dataclass(frozen=True)
class ChunkName:
    level: int
    x: slice
    y: slice
    z: slice

    def grid_index(self, level: LevelSpec) -> tuple[int, int, int]:
        _, _, cz, cy, cx = level.chunks
        return self.z.start // cz, self.y.start // cy, self.x.start // cx


_NAME = re.compile(r"^(\d+)-(\d+)_(\d+)-(\d+)_(\d+)-(\d+)$")


def parse_chunk(key: str, name: str, spec: ImageSpec) -> ChunkName:
    """``{x0}-{x1}_{y0}-{y1}_{z0}-{z1}`` of scale ``key``; it must be exactly one chunk of the grid."""
    level_index = keys.level_index(key, key, spec)
    match = _NAME.match(name)
    if not match or not name.isascii():
        raise MalformedKey(f"{name!r} is not a chunk name x0-x1_y0-y1_z0-z1")
    x0, x1, y0, y1, z0, z1 = (int(v) for v in match.groups())
    level = spec.levels[level_index]
    _, _, cz, cy, cx = level.chunks
    _, _, nz, ny, nx = level.shape
    for lo, hi, c, n, axis in ((x0, x1, cx, nx, "x"), (y0, y1, cy, ny, "y"), (z0, z1, cz, nz, "z")):
        if lo >= n:
            raise NoSuchKey(f"{axis} {lo} is outside the volume (size {n})")
        if lo % c or hi != min(lo + c, n):
            raise MalformedKey(f"{name!r} is not aligned to the {axis} chunk grid ({c} voxels, size {n})")
    if name != f"{x0}-{x1}_{y0}-{y1}_{z0}-{z1}":
        raise MalformedKey(f"{name!r} is not canonical")
    return ChunkName(level_index, slice(x0, x1), slice(y0, y1), slice(z0, z1))


def encode(block_czyx: np.ndarray, spec: ImageSpec, encoding: str) -> bytes:
    """A (channels, z, y, x) block, truncated at the volume edge, as a precomputed chunk."""
    dtype = np.dtype(served_dtype(spec.dtype, spec.kind))
    block = _convert(block_czyx, dtype)
    if encoding == "raw":
        # C order of (c, z, y, x) is x fastest and channel slowest: exactly precomputed's layout
        return np.ascontiguousarray(block, dtype=dtype.newbyteorder("<")).tobytes()
    if encoding == "jpeg":
        return _jpeg(block)
    if encoding == "compressed_segmentation":
        import compressed_segmentation as cseg

        xyzc = np.asfortranarray(block.transpose(3, 2, 1, 0))
        return bytes(cseg.compress(xyzc, block_size=CSEG_BLOCK, order="F"))
    raise MalformedKey(f"unknown encoding {encoding!r}")


def _convert(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if block.dtype == dtype:
        return block
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(block, info.min, info.max).astype(dtype)
    return block.astype(dtype)


def _jpeg(block: np.ndarray) -> bytes:
    """Z slices stacked vertically: width X, height Y*Z; 3 channels as interleaved RGB with 4:4:4 chroma."""
    import imagecodecs

    nc, nz, ny, nx = block.shape
    if nc == 1:
        image = block[0].reshape(nz * ny, nx)
        return bytes(imagecodecs.jpeg8_encode(image, level=90))
    image = np.ascontiguousarray(block.transpose(1, 2, 3, 0).reshape(nz * ny, nx, nc))
    return bytes(imagecodecs.jpeg8_encode(image, level=90, subsampling="444"))
