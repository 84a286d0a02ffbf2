"""Neuroglancer precomputed at /precomputed/{id}[/t/{t}][/{encoding}]/(info | {scale}/{chunk}): info,
chunk names, and raw / jpeg / compressed_segmentation chunks.

Options are plain path segments because clients append ``/info`` and ``/{key}/{chunk}`` to a base URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from writers import keys, listing
from writers.codecs import plain_buffer
from writers.errors import MalformedKey, NoSuchKey, WriterError
from writers.listing import Folder, Merge, fixed
from writers.neuroglancer import Source
from writers.spec import ImageSpec, LevelSpec
from writers.view import Chunk, Document, PeekBlock, ReadBlock, View, ViewOptions

ENCODINGS = ("raw", "jpeg", "compressed_segmentation")
CSEG_BLOCK = (8, 8, 8)
PROBED_ABSENT = ("provenance", "transform.json", "attributes.json")  # probed by some clients: 404, not 400

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
        _, _, nz, ny, nx = level.shape
        vz, vy, vx = level.voxel_size
        scale = {
            "key": scale_key(i),
            "size": [nx, ny, nz],
            "resolution": [vx * 1000.0, vy * 1000.0, vz * 1000.0],  # µm -> nm
            "voxel_offset": [0, 0, 0],
            # Neuroglancer picks per view orientation the position whose chunk size at the finest scale has the
            # largest cross-section (flat for xy views of a slice stack, thin for xz and yz) and reads that
            # position at every scale: LevelSpec.orientations keeps each position one orientation throughout
            "chunk_sizes": [[cx, cy, cz] for _, _, cz, cy, cx in (level.orientations or level.layouts)],
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
    layout: int = 0  # which of the level's chunk_sizes (LevelSpec.layouts)

    def grid_index(self, level: LevelSpec) -> tuple[int, int, int]:
        _, _, cz, cy, cx = level.layouts[self.layout]
        return self.z.start // cz, self.y.start // cy, self.x.start // cx


_NAME = re.compile(r"^([0-9]+)-([0-9]+)_([0-9]+)-([0-9]+)_([0-9]+)-([0-9]+)$")


def parse_chunk(key: str, name: str, spec: ImageSpec) -> ChunkName:
    """``{x0}-{x1}_{y0}-{y1}_{z0}-{z1}`` of scale ``key``; it must be exactly one chunk of one of the
    scale's chunk grids (the first that fits: bounds shared by two layouts name the same voxels)."""
    level_index = keys.level_index(key, key, spec)
    match = _NAME.fullmatch(name)
    bounds = [keys.decimal(v) for v in match.groups()] if match else [None]
    if None in bounds:
        raise MalformedKey(f"{keys.shown(name)} is not a chunk name x0-x1_y0-y1_z0-z1")
    x0, x1, y0, y1, z0, z1 = bounds
    level = spec.levels[level_index]
    _, _, nz, ny, nx = level.shape
    for lo, axis, n in ((x0, "x", nx), (y0, "y", ny), (z0, "z", nz)):
        if lo >= n:
            raise NoSuchKey(f"{axis} {lo} is outside the volume (size {n})")
    misfit = ""
    for layout, (_, _, cz, cy, cx) in enumerate(level.layouts):
        misfit = next((f"{axis} chunk grid ({c} voxels, size {n})" for lo, hi, c, n, axis in
                       ((x0, x1, cx, nx, "x"), (y0, y1, cy, ny, "y"), (z0, z1, cz, nz, "z"))
                       if lo % c or hi != min(lo + c, n)), "")
        if not misfit:
            chunk = ChunkName(level_index, slice(x0, x1), slice(y0, y1), slice(z0, z1), layout)
            if name != chunk_name(level, chunk.grid_index(level), layout):
                raise MalformedKey(f"{keys.shown(name)} is not canonical")
            return chunk
    which = "the" if len(level.layouts) == 1 else "any"
    raise MalformedKey(f"{keys.shown(name)} is not aligned to {which} {misfit}")


def chunk_name(level: LevelSpec, index: tuple[int, ...], layout: int = 0) -> str:
    """``{x0}-{x1}_{y0}-{y1}_{z0}-{z1}`` of the chunk at grid index (z, y, x) of chunk size ``layout``,
    clipped at the volume edge."""
    _, _, zs, ys, xs = level.in_layout(layout).chunk_region((0, 0, *index))
    return f"{xs.start}-{xs.stop}_{ys.start}-{ys.stop}_{zs.start}-{zs.stop}"


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


@dataclass(frozen=True)
class Info(Document):
    """The ``info`` of time point ``t`` in ``encoding`` (None: the dataset's default, not spelt)."""

    name: str = "info"
    t: int = 0
    encoding: str | None = None


@dataclass(frozen=True)
class PrecomputedChunk(Chunk):
    """``index`` is (t, z, y, x) in the grid of chunk size ``layout``: a precomputed chunk holds every channel."""

    encoding: str | None = None
    layout: int = 0


def _options(parts: list[str], n_times: int) -> tuple[int, str | None, list[str]]:
    """Consume the optional ``t/{t}`` and ``{encoding}`` segments; return (t, encoding, rest).

    ``t/0`` is accepted as another name of the default time point (which is spelt without it).
    """
    t = 0
    if len(parts) >= 2 and parts[0] == "t":
        t = keys.decimal(parts[1])
        if t is None:
            raise MalformedKey(f"t/{keys.shown(parts[1])}: a time point is a non-negative integer")
        if t >= n_times:
            raise NoSuchKey(f"time point {t} does not exist (0..{n_times - 1})")
        parts = parts[2:]
    encoding = None
    if parts and parts[0] in ENCODINGS:
        encoding, parts = parts[0], parts[1:]
    return t, encoding, parts


class Precomputed(View):
    name = "precomputed"
    prefix = "/precomputed"
    root_hint = "a precomputed source is read from {base}/info"
    neuroglancer = Source("precomputed://", ome_axes=False)

    def parse(self, key: str, spec: ImageSpec) -> Info | PrecomputedChunk:
        t, encoding, rest = _options(key.split("/"), spec.levels[0].shape[0])
        served = encoding or default_encoding(spec)
        if rest == ["info"]:
            check_encoding(spec, served)
            return Info(t=t, encoding=encoding)
        if len(rest) == 1 and rest[0] in PROBED_ABSENT:
            raise NoSuchKey(f"{rest[0]!r} does not exist")
        if len(rest) != 2:
            raise MalformedKey(f"{'/'.join(rest)!r}: expected info or {{scale}}/{{x0-x1_y0-y1_z0-z1}}")
        check_encoding(spec, served)
        name = parse_chunk(rest[0], rest[1], spec)
        return PrecomputedChunk(name.level, (t, *name.grid_index(spec.levels[name.level])), encoding, name.layout)

    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        t, encoding = (key.index[0], key.encoding) if isinstance(key, PrecomputedChunk) else (key.t, key.encoding)
        parts = [f"t/{t}"] if t else []
        if encoding is not None:
            parts.append(encoding)
        if isinstance(key, PrecomputedChunk):
            parts += [scale_key(key.level), chunk_name(spec.levels[key.level], key.index[1:], key.layout)]
        else:
            parts.append(key.name)
        return "/".join(parts)

    @staticmethod
    def encoding(key: Info | PrecomputedChunk, spec: ImageSpec, options: ViewOptions) -> str:
        """The encoding ``key`` is served in: its own, else raw for plain options, else the dataset's default."""
        return key.encoding or ("raw" if options.plain else default_encoding(spec))

    def document(self, key: Info, spec: ImageSpec, options: ViewOptions) -> dict:
        return info(spec, self.encoding(key, spec, options))

    def chunk_identity(self, key: PrecomputedChunk, spec: ImageSpec, options: ViewOptions) -> Hashable:
        return self.encoding(key, spec, options), key.level, key.layout, key.index

    def encode(self, key: PrecomputedChunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        t, zi, yi, xi = key.index
        n_channels = spec.levels[key.level].shape[1]
        if key.layout == 0:
            blocks = [read(key.level, (t, c, zi, yi, xi)) for c in range(n_channels)]
        else:  # another chunk size of the level (a block of its own, see Pyramid.chunk)
            blocks = [read(key.level, (t, c, zi, yi, xi), key.layout) for c in range(n_channels)]
        return encode(np.stack(blocks), spec, self.encoding(key, spec, options))

    def plain_in_memory(self, key: PrecomputedChunk, spec: ImageSpec, peek: PeekBlock) -> memoryview | None:
        # one channel's (z, y, x) block, clipped at the edge like the chunk, is the raw chunk as it lies
        if key.layout or key.encoding not in (None, "raw") or spec.levels[key.level].shape[1] != 1:
            return None
        block = peek(key.level, (key.index[0], 0, *key.index[1:]))
        if block is None or block.dtype != np.dtype(served_dtype(spec.dtype, spec.kind)):
            return None
        return plain_buffer(block, block.shape)

    def chunk_size(self, key: PrecomputedChunk, spec: ImageSpec, options: ViewOptions) -> int | None:
        if self.encoding(key, spec, options) != "raw":
            return None
        level = spec.levels[key.level].in_layout(key.layout)
        _, _, zs, ys, xs = level.chunk_region((0, 0, *key.index[1:]))
        voxels = (zs.stop - zs.start) * (ys.stop - ys.start) * (xs.stop - xs.start) * level.shape[1]
        return voxels * np.dtype(served_dtype(spec.dtype, spec.kind)).itemsize

    def tree(self, spec: ImageSpec, options: ViewOptions) -> Folder | None:
        if self.refusal(spec) is not None:
            return None
        n_times = spec.levels[0].shape[0]
        later = listing.axis(n_times, "/", lambda t: self._time_tree(spec, t), start=1)  # t/0 is spelt without t/
        return fixed([*self._time_entries(spec, 0), *([("t/", later)] if n_times > 1 else [])])

    def _time_tree(self, spec: ImageSpec, t: int) -> Folder:
        return fixed(self._time_entries(spec, t))

    def _time_entries(self, spec: ImageSpec, t: int) -> list[tuple[str, object]]:
        scales = [(f"{scale_key(i)}/", functools.partial(_scale_tree, spec.levels[i], i, t))
                  for i in range(len(spec.levels))]
        return [("info", Info(t=t)), *scales]

    def compressible(self, key: PrecomputedChunk, spec: ImageSpec) -> bool:
        return (key.encoding or default_encoding(spec)) == "raw"  # jpeg and compressed_segmentation are compact

    def refusal(self, spec: ImageSpec) -> str | None:
        try:
            served_dtype(spec.dtype, spec.kind)
        except WriterError as exc:
            return str(exc)
        return None

    def neuroglancer_url(self, url: str, t: int) -> str:
        return f"{url}/t/{t}" if t else url


@functools.lru_cache(maxsize=64)
def _bounds(n: int, c: int, tail: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The name parts ``{lo}-{hi}{tail}`` of one axis (size ``n``, chunk ``c``) in string order, and the grid
    index of each."""
    parts = sorted((f"{lo}-{min(lo + c, n)}{tail}", lo // c) for lo in range(0, n, c))
    return tuple(p for p, _ in parts), tuple(i for _, i in parts)


def _scale_tree(level: LevelSpec, index: int, t: int) -> Folder | Merge:
    """The chunk names of one scale (``x0-x1_y0-y1_z0-z1``, one name part per axis) of every chunk size."""
    trees = [_layout_tree(index, t, layout, level.shape, shape) for layout, shape in enumerate(level.layouts)]
    return trees[0] if len(trees) == 1 else Merge(trees)


def _layout_tree(index: int, t: int, layout: int, shape: tuple[int, ...], chunks: tuple[int, ...]) -> Folder:
    _, _, nz, ny, nx = shape
    _, _, cz, cy, cx = chunks

    def zs(xi: int, yi: int) -> Folder:
        return _parts(nz, cz, "", lambda zi: PrecomputedChunk(index, (t, zi, yi, xi), None, layout))

    def ys(xi: int) -> Folder:
        return _parts(ny, cy, "_", lambda yi: zs(xi, yi))

    return _parts(nx, cx, "_", ys)


def _parts(n: int, c: int, tail: str, entry) -> Folder:
    names, order = _bounds(n, c, tail)
    return Folder(names, lambda k: entry(order[k]))
