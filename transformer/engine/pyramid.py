"""Complete a Volume's native levels into a full multiscale pyramid, computed lazily and cached.

A missing level is made from the next finer level (never from level 0 directly), chunk by chunk,
through a decoded-block cache, so a whole pyramid costs about 1/7 more than level 0 and a coarse
chunk re-reads nothing whose finer blocks are cached.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from itertools import product

import numpy as np

from readers.base import Level, Volume
from transformer.engine import downsample
from transformer.engine.options import Engine, PyramidOptions
from writers.spec import ChannelSpec, ImageSpec, LevelSpec, assemble, blocks_touched, paste

FLAT_CHUNK = (1, 256, 256)  # for 2-D images: a 64-voxel z chunk would be pointless
MIN_ROWS = 8  # a chunk of whole rows is at least this tall (else it is cut like any wide unit)
# a sampled level's plane is one source slice (not a mean of many), so a chunk's depth is its cost in slice
# decodes to show one plane; measured on a 10,000-slice JPEG2000 xy view (docs/chunk-layouts.md): 64 deep
# 2.7-3.2 s CPU, 16 deep 1.6-2.0 s, 8 deep 1.2-1.3 s, 4 deep 1.0 s (chunks of 128 KiB, twice the requests)
SAMPLED_DEPTH = 8
THIN_WIDTH = 8  # an xz/yz chunk one voxel thin is this many cube sides wide (64³: 64 × 1 × 512, 64 KiB of uint16)


@dataclass(frozen=True)
class Sampling:
    """A bounded-cost level: voxel i is voxel stride·i of the native level (nearest, not a mean).

    A chunk then reads one chunk's worth of source voxels however coarse the level, so the overview of
    a 5 TB stack costs what one of its chunks costs, not a read of all 5 TB.
    """

    native: Level
    stride: tuple[int, int, int]


@dataclass(frozen=True)
class PyramidLevel:
    spec: LevelSpec
    native: Level | None  # read from the source; else computed from the finer level
    factors: tuple[int, int, int]  # reduction from the previous level (computed levels)
    sampling: Sampling | None = None  # computed by sampling the native level, not by a mean


def plan_factors(shape_zyx: tuple[int, int, int], voxel: tuple[float, float, float]) -> tuple[int, int, int]:
    """Anisotropy-aware reduction: halve an axis only if its voxels are not much coarser than the finest.

    With 4 µm z and 1 µm x/y, x and y halve twice before z joins, so levels approach isotropy.
    """
    live = [v for n, v in zip(shape_zyx, voxel, strict=True) if n > 1]
    if not live:
        return (1, 1, 1)
    finest = min(live)
    return tuple(2 if n > 1 and v <= 1.5 * finest else 1 for n, v in zip(shape_zyx, voxel, strict=True))


def chunk_shape(level0_zyx: tuple[int, int, int], zyx: tuple[int, int, int], target: tuple[int, int, int]):
    """One fixed chunk shape (``--chunks z,y,x``), clipped to the level; flat for a 2-D image."""
    base = FLAT_CHUNK if level0_zyx[0] == 1 else target
    return (1, 1, *(min(c, n) for c, n in zip(base, zyx, strict=True)))


def auto_chunks(zyx: tuple[int, int, int], target: tuple[int, int, int], planes: int,
                unit: tuple[int, int, int] | None, fill: bool = False, max_depth: int | None = None
                ) -> tuple[int, ...]:
    """``--chunks auto`` for one level of a slice stack whose every plane holds ``planes`` source planes.

    A stack decodes whole planes (and whole JPEG2000 tiles), so a cubic chunk decodes ``target[0]``
    planes to show one in an xy view. Chunks are ``planes`` deep instead (1 at full resolution, so
    one source plane and tile per chunk), as wide as the voxel budget ``prod(target)`` allows, and
    cubic once a plane of the level averages ``target[0]`` source planes. ``unit`` is a native level's
    decode unit (tile or strip): a flat chunk takes its width where it is up to twice the budget's,
    and a multiple of it where it is narrower, so no chunk cuts a tile that another chunk must decode
    again. A wider unit is cut (its decode is shared through the reader's tile cache): an 8192² strip
    must never become one 128 MiB chunk. A unit of whole rows (raw strips, read a row at a time) gives
    chunks as wide as the row and as tall as the budget allows, so no two chunks read the same row.
    With ``fill`` (every level but the finest) a level narrower than a chunk gets deeper chunks up to
    the budget: a JPEG2000 wavelet level of 64² would otherwise be 64 chunks of 64×64×1. A level as wide
    as its chunks keeps the planes' depth (8×128², not 16×128², at 8 planes per plane): a deeper flat chunk
    would tie with the cube in an xz view's cross-section, and Neuroglancer takes the first listed, the flat
    one, which reads twice the rows the cube does. ``max_depth`` caps the depth (a sampled level, whose every
    plane is one more source slice to decode, however many source planes it stands for).
    """
    limit = min(target[0], max_depth or target[0])
    depth = min(limit, planes)
    side = max(min(target[1:]), 1 << int(math.log2(math.sqrt(math.prod(target) / depth))))
    sides = [side, side]
    if unit is not None and depth == 1:
        for axis, u in enumerate(unit[1:]):
            sides[axis] = u if side <= u <= 2 * side else side // u * u if u < side else side
        rows = side * side // unit[2]
        if unit[1] == 1 and unit[2] > 2 * side and rows >= MIN_ROWS:
            sides = [1 << int(math.log2(rows)), unit[2]]
    cy, cx = (min(c, n) for c, n in zip(sides, zyx[1:], strict=True))
    if fill and (cy < sides[0] or cx < sides[1]):
        depth = max(depth, min(limit, 1 << int(math.log2(math.prod(target) // (cy * cx)))))
    return (1, 1, min(depth, zyx[0]), cy, cx)


def thin_chunks(zyx: tuple[int, int, int], flat: tuple[int, ...], cube: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Chunks one voxel thin across an xz view (y 1) and a yz view (x 1), as deep as ``cube``.

    A cube shows an xz view one of its rows per plane, so it reads ``cube`` rows of every slice to show one; a
    thin chunk reads what the view shows, and its cross-section at the finest level (``THIN_WIDTH`` × the
    cube's) makes Neuroglancer pick it for that view. As wide as the flat chunks where they are wider, so a
    JPEG2000 tile is decoded once per slice for the whole view; at most as wide as the level.
    """
    shapes = []
    for axis in (1, 2):  # thin in y (for xz), then thin in x (for yz)
        across = 2 if axis == 1 else 1
        shape = [1, 1, cube[2], 0, 0]
        shape[2 + axis], shape[2 + across] = 1, min(max(flat[2 + across], THIN_WIDTH * cube[2 + across]), zyx[across])
        shapes.append(tuple(shape))
    return shapes


def flat_chunks(chunks: tuple[int, ...]) -> tuple[int, ...]:
    """``chunks`` one plane deep: the cheapest chunk of its cross-section for an xy view."""
    return (*chunks[:2], 1, *chunks[3:])


class Pyramid:
    def __init__(self, key: str, volume: Volume, engine: Engine, options: PyramidOptions | None = None) -> None:
        options = options or PyramidOptions()
        self.key = key
        self.volume = volume
        self.blocks = engine.blocks
        # reduced parts live apart from the blocks they summarise (1/8 their size; a one-plane chunk's 2x2
        # sums, half, until the next plane's join them into one mean), so a flood of level-0 blocks cannot
        # evict them and force a re-read of level 0
        self.parts = engine.parts if engine.parts is not None else engine.blocks
        self.leaves = engine.leaves
        self.leaf_split = engine.leaf_split
        self.stats = engine.stats  # "source_reads": native chunk reads
        self.dtype = np.dtype(volume.dtype)
        self.reduce = downsample.mode if volume.kind == "labels" else downsample.mean
        # a mean finished from exact sums of its parts equals the mean of the whole (a mode does not split)
        self.summable = self.reduce is downsample.mean and downsample.summable(self.dtype)
        self.overview, self.exact_limit = options.overview, options.exact_limit
        self.auto = options.auto
        # a slice stack (one file per plane) gets flat chunks under --chunks auto; a 2-D image keeps FLAT_CHUNK
        level0 = self.volume.levels[0]
        self.stack = options.auto and level0.read_chunks[0] == 1 and level0.shape[2] > 1
        self.levels = self._plan(options.chunk, options.top)
        self._axes: dict[int, list[tuple[int, int, int]]] = {}  # _finer_axes, by level
        self._groups_lock = threading.Lock()  # parts of a group kept and counted as one step (_partial)

    def _plan(self, chunk: tuple[int, int, int], top: int) -> list[PyramidLevel]:
        v0 = self.volume.levels[0].voxel_size
        zyx0 = self.volume.shape[2:]
        levels: list[PyramidLevel] = []
        for native in self.volume.levels:
            origin = native.origin
            if origin is None:
                origin = tuple((v - b) / 2 for v, b in zip(native.voxel_size, v0, strict=True))
            spec = self._spec(native.shape, native.voxel_size, origin, chunk, zyx0, native.read_chunks)
            levels.append(PyramidLevel(spec, native, (1, 1, 1)))
        native = levels[-1].native
        means = self._mean_levels(native)
        stride = (1, 1, 1)
        while max(levels[-1].spec.shape[2:]) > top:
            last = levels[-1].spec
            factors = plan_factors(last.shape[2:], last.voxel_size)
            if factors == (1, 1, 1):
                break
            shape = (*last.shape[:2], *(math.ceil(n / f) for n, f in zip(last.shape[2:], factors, strict=True)))
            voxel = tuple(v * f for v, f in zip(last.voxel_size, factors, strict=True))
            stride = tuple(a * f for a, f in zip(stride, factors, strict=True))
            if means:
                # a block mean's first voxel centre moves by half the growth of the voxel
                origin = tuple(o + (v - p) / 2 for o, v, p in zip(last.translation, voxel, last.voxel_size,
                                                                  strict=True))
                levels.append(PyramidLevel(self._spec(shape, voxel, origin, chunk, zyx0), None, factors))
            else:  # every n-th voxel of the level above keeps that level's first voxel centre
                spec = self._spec(shape, voxel, last.translation, chunk, zyx0, sampled=True)
                levels.append(PyramidLevel(spec, None, factors, Sampling(native, stride)))
        return levels

    def _mean_levels(self, native: Level) -> bool:
        """Whether computed levels are exact block means (else every n-th voxel of ``native``).

        An exact overview reads all of ``native`` once: up to ``exact_limit`` bytes (per time point and
        channel) that takes seconds, beyond it minutes to hours, which is not "open it now".
        """
        if self.overview == "auto":
            return native.read_cost() <= self.exact_limit
        return self.overview == "exact"

    @property
    def sampled_from(self) -> int | None:
        """The level whose every n-th voxel the sampled levels are, if any level is sampled."""
        for i, level in enumerate(self.levels):
            if level.sampling is not None:
                return i - 1
        return None

    def _spec(self, shape, voxel, origin, chunk, zyx0, unit=None, sampled: bool = False) -> LevelSpec:
        zyx = tuple(shape[2:])
        if not self.stack:
            return LevelSpec(tuple(shape), chunk_shape(zyx0, zyx, chunk), tuple(voxel), tuple(origin))
        chunks = auto_chunks(zyx, chunk, max(1, round(zyx0[0] / zyx[0])), unit, fill=zyx != tuple(zyx0),
                             max_depth=SAMPLED_DEPTH if sampled else None)
        cube = chunk_shape(zyx0, zyx, chunk)
        # Views that can choose (precomputed) are offered, at every level, a chunk one plane deep for xy views (a
        # deep chunk decodes its depth in source planes to show one, at a sampled level one slice each), the
        # cube, and chunks one row (xz) or one column (yz) thin: each reads what its view shows, a block of its own
        orientations = (flat_chunks(chunks), cube, *thin_chunks(zyx, chunks, cube))
        return LevelSpec(tuple(shape), chunks, tuple(voxel), tuple(origin), orientations)

    def image_spec(self, name: str) -> ImageSpec:
        return ImageSpec(
            name=name,
            dtype=self.dtype.newbyteorder("=").name,
            levels=tuple(level.spec for level in self.levels),
            channels=tuple(self._channel_specs()),
            downsampling="mode" if self.volume.kind == "labels" else self.volume.downsampling,
            kind=self.volume.kind,
            sampled_from=self.sampled_from,
        )

    def _channel_specs(self):
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            full = (float(info.min), float(info.max))
        else:
            full = (0.0, 1.0)
        for ch in self.volume.channels:
            window = ch.window or full
            yield ChannelSpec(ch.name, ch.color, (float(window[0]), float(window[1])),
                              (min(full[0], window[0]), max(full[1], window[1])))

    # -- reading ---------------------------------------------------------------------------------

    def chunk(self, level: int, index: tuple[int, ...], layout: int = 0) -> np.ndarray:
        """The decoded (z, y, x) block of chunk ``index`` (t, c, zi, yi, xi), clipped at the edges; ``layout``
        indexes the level's chunk shapes (``LevelSpec.layouts``; 0: its own)."""
        if layout:
            return self._other_layout(level, index, layout)
        key = (self.key, level, *index)
        computed = []

        def compute() -> np.ndarray:
            block = self._compute(level, index)
            computed.append(block)
            return block

        block = self.blocks.get_or_compute(key, compute)
        if computed and self.leaves is not None and self._reduces_by_parts(level + 1):
            # Reduce this block for the next level now, in the background: 1/8 of its size, so the
            # next level never needs this block again, even after the cache has dropped it.
            self.leaves.submit(self._partial, level + 1, index, block)
        return block

    def peek(self, level: int, index: tuple[int, ...]) -> np.ndarray | None:
        """The block ``chunk(level, index)`` gives, if it is in memory now (nothing is read or computed, so the
        event loop may ask), else None."""
        return self.blocks.peek((self.key, level, *index))

    def _other_layout(self, level: int, index: tuple[int, ...], layout: int) -> np.ndarray:
        """A chunk of another chunk shape of ``level``, cached as a block of its own.

        Never copied out of the level's own (flat) blocks: a 64³ chunk of a flat-chunked slice stack
        would make 64 of them, each 512² for the 64² it shows (measured: an xz view of a raw TIFF stack
        24x slower at level 0, 2x at the coarser levels). At a native level it is read from the source
        like any block, at a sampled level by one strided read of its own; at a computed level it is the
        mean of the finer level's region in that level's deepest chunks (the cubic chunks make a pyramid
        of their own, as under ``--chunks 64,64,64``).
        """
        plan = self.levels[level]
        t, c, z, y, x = plan.spec.in_layout(layout).chunk_region(index)

        def compute() -> np.ndarray:
            if plan.sampling is not None:
                return self._sample(plan.sampling, t.start, c.start, (z, y, x))
            if plan.native is not None:
                return self._read_native(plan.native, t.start, c.start, z, y, x)
            return self._reduce_finer(level, t.start, c.start, (z, y, x), self._finer_layout(level, layout))

        return self.blocks.get_or_compute((self.key, level, "layout", layout, *index), compute)

    def _finer_layout(self, level: int, layout: int) -> int:
        """The finer level's chunk shape a computed chunk of shape ``layout`` is reduced from: the deepest
        one thin along the same axes (a thin chunk from thin chunks, a cube from cubes), so each layout
        makes a pyramid of its own and reads only the rows it needs."""
        thin = [n == 1 for n in self.levels[level].spec.layouts[layout][3:]]
        finer = self.levels[level - 1].spec.layouts
        same = [i for i, f in enumerate(finer) if [n == 1 for n in f[3:]] == thin] or range(len(finer))
        return max(same, key=lambda i: finer[i][2])

    def _reduces_by_parts(self, level: int) -> bool:
        """Whether ``level`` is computed and every finer chunk maps onto whole output voxels, or (a mean of
        integers, see :meth:`_part_factors`) onto a whole fraction of them."""
        if level >= len(self.levels) or self.levels[level].native is not None or self.levels[level].sampling:
            return False
        return all(c % f == 0 or g == 1 or (self.summable and f % c == 0) for c, f, g in self._finer_axes(level))

    def _finer_axes(self, level: int) -> list[tuple[int, int, int]]:
        """Per z, y, x: (the finer level's chunk size, ``level``'s factor, the finer level's chunk count); kept,
        as every part and every chunk of a computed level asks (a spec's grid is computed on each call)."""
        axes = self._axes.get(level)
        if axes is None:
            finer = self.levels[level - 1].spec
            axes = self._axes[level] = list(zip(finer.chunks[2:], self.levels[level].factors, finer.grid[2:],
                                                strict=True))
        return axes

    def _part_factors(self, level: int) -> tuple[int, int, int] | None:
        """The groups a finer chunk's part sums when it holds a fraction of ``level``'s voxels (a 1-plane
        chunk under a level that halves z: each plane's part sums its 2×2 groups, a pair of parts makes
        one output plane); None when every finer chunk reduces to whole output voxels."""
        if all(c % f == 0 or g == 1 for c, f, g in self._finer_axes(level)):
            return None
        return tuple(min(c, f) for c, f, _ in self._finer_axes(level))

    def _partial(self, level: int, finer_index: tuple[int, ...], block: np.ndarray | None = None) -> np.ndarray | None:
        """Finer chunk ``finer_index`` reduced by ``level``'s factors (exactly that part of ``level``). When it holds
        fractions of ``level``'s voxels (:meth:`_part_factors`), its exact sums wait in the parts cache for its
        siblings' (:meth:`_siblings`); the last to come finishes the group's mean (:meth:`_finish`), kept in their
        place: a quarter of their bytes for a pair of 16-bit planes, and no sums left for ``level``'s chunks."""
        siblings = self._siblings(level, finer_index)
        if siblings is None:
            key = (self.key, "part", level, *finer_index)
            return self.parts.get_or_compute(
                key, lambda: self._reduced(level, block if block is not None else self.chunk(level - 1, finer_index)))
        group_key = (self.key, "group", level, *siblings[0])
        if group_key in self.parts:
            return None
        part = self._reduced(level, block if block is not None else self.chunk(level - 1, finer_index))
        keys = [(self.key, "part", level, *s) for s in siblings]
        with self._groups_lock:  # exactly one sibling (the last kept) sees them all
            self.parts.put(keys[siblings.index(finer_index)], part)
            parts = [self.parts.peek(k) for k in keys]
        if any(p is None for p in parts):
            return None
        self.parts.put(group_key, self._finish(level, siblings, parts))
        for k in keys:
            self.parts.discard(k)
        return None

    def _siblings(self, level: int, finer_index: tuple[int, ...]) -> list[tuple[int, ...]] | None:
        """The finer chunks whose summed parts add up to the same voxels of ``level`` as ``finer_index``'s (a
        one-plane chunk and the next under a level that halves z), first one first; None when parts are whole."""
        if self._part_factors(level) is None:
            return None
        ranges = []
        for j, (c, f, g) in zip(finer_index[2:], self._finer_axes(level), strict=True):
            first = j - j % (f // c) if c < f else j  # c < f: f // c chunks make one voxel along this axis
            ranges.append(range(first, min(first + f // c, g)) if c < f else range(j, j + 1))
        return [(*finer_index[:2], *j) for j in product(*ranges)]

    def _group_region(self, level: int, siblings: list[tuple[int, ...]]) -> list[slice]:
        """The (z, y, x) voxels of ``level`` a group of sibling finer chunks makes."""
        finer = self.levels[level - 1].spec
        first, last = finer.chunk_region(siblings[0])[2:], finer.chunk_region(siblings[-1])[2:]
        return [slice(a.start // f, -(-b.stop // f))
                for a, b, f in zip(first, last, self.levels[level].factors, strict=True)]

    def _finish(self, level: int, siblings: list[tuple[int, ...]], parts: list[np.ndarray]) -> np.ndarray:
        """The mean of ``level``'s voxels a group of siblings makes, from the exact sums of their parts."""
        total = parts[0] if len(parts) == 1 else np.add(parts[0], parts[1])
        for part in parts[2:]:
            total += part
        finer = self.levels[level - 1].spec.shape[2:]
        counts = [downsample.group_counts(n, f, range(s.start, s.stop))
                  for n, f, s in zip(finer, self.levels[level].factors, self._group_region(level, siblings),
                                     strict=True)]
        if all((axis == axis[0]).all() for axis in counts):  # no partial group (not at an edge): one count
            return downsample.mean_of_sums(total, int(np.prod([axis[0] for axis in counts])), self.dtype)
        return downsample.mean_of_sums(total, np.einsum("i,j,k->ijk", *counts), self.dtype)

    def _reduced(self, level: int, finer: np.ndarray) -> np.ndarray:
        """A finer block reduced for ``level``: its exact sums (:meth:`_part_factors`) or its reduction."""
        groups = self._part_factors(level)
        if groups is not None:
            return downsample.sums(finer, groups)
        return self.reduce(finer, self.levels[level].factors)

    def _part_to_assemble(self, level: int, finer_index: tuple[int, ...]) -> np.ndarray:
        """The whole part a chunk of ``level`` is assembled from. One the parts cache let go while its block is
        still kept is reduced again from the block and not put back: the parts of a level are made in the order
        they are then used, so putting it back would evict the part the next chunk needs, and so on for every
        one (measured: a 128 x 1024² slice stack whose level-0 parts overflowed the share by 3 % recomputed all
        of them at level 1, which then cost 3x its share of voxels)."""
        part = self.parts.get((self.key, "part", level, *finer_index))
        if part is not None:
            return part
        block = self.blocks.peek((self.key, level - 1, *finer_index))
        if block is None:  # never made (a coarse level asked first): made and kept for the chunks after it
            return self._partial(level, finer_index)
        return self._reduced(level, block)

    def _group_to_assemble(self, level: int, siblings: list[tuple[int, ...]]) -> np.ndarray:
        """The finished mean of a group of siblings (:meth:`_partial`). One the parts cache let go, or never
        finished, is made from its siblings' parts, those let go reduced again from their kept blocks, and not
        put back (as :meth:`_part_to_assemble`); a block never made is made, and the group then kept."""
        group = self.parts.get((self.key, "group", level, *siblings[0]))
        if group is not None:
            return group
        parts, made = [], False
        for s in siblings:
            part = self.parts.peek((self.key, "part", level, *s))
            if part is None:
                block = self.blocks.peek((self.key, level - 1, *s))
                made |= block is None
                part = self._reduced(level, self.chunk(level - 1, s) if block is None else block)
            parts.append(part)
        group = self._finish(level, siblings, parts)
        if made:
            self.parts.put((self.key, "group", level, *siblings[0]), group)
        return group

    def _compute(self, level: int, index: tuple[int, ...]) -> np.ndarray:
        plan = self.levels[level]
        t, c, z, y, x = plan.spec.chunk_region(index)
        # Level.read sorts a reader's failures (damaged source or reader bug): nothing to wrap here
        if plan.sampling is not None:
            return self._sample(plan.sampling, t.start, c.start, (z, y, x))
        if plan.native is not None:
            return self._read_native(plan.native, t.start, c.start, z, y, x)
        if self._reduces_by_parts(level):
            return self._assemble_parts(level, index)
        return self._reduce_finer(level, t.start, c.start, (z, y, x))

    def _reduce_finer(self, level: int, t: int, c: int, region: tuple[slice, slice, slice],
                      layout: int = 0) -> np.ndarray:
        """A region of computed ``level``: the mean (or mode) of the finer level's region under it, read in
        the finer level's chunk shape ``layout``."""
        factors = self.levels[level].factors
        finer = self.levels[level - 1].spec.shape[2:]
        src = [slice(s.start * f, min(s.stop * f, n)) for s, f, n in zip(region, factors, finer, strict=True)]
        return self.reduce(self.region(level - 1, t, c, *src, layout=layout), factors)

    def _assemble_parts(self, level: int, index: tuple[int, ...]) -> np.ndarray:
        """A computed chunk from the reduced parts (or the finished groups of exact sums) of the finer chunks
        it covers: copies only, the means were taken when the finer chunks were made."""
        spec, finer = self.levels[level].spec, self.levels[level - 1].spec
        factors = self.levels[level].factors
        t, c, *region = spec.chunk_region(index)
        out = np.empty(tuple(s.stop - s.start for s in region), self.dtype)
        ranges = []
        for s, f, fc in zip(region, factors, finer.chunks[2:], strict=True):
            ranges.append(range(s.start * f // fc, (s.stop * f - 1) // fc + 1))
        pasted = set()
        for j in product(*ranges):
            finer_index = (t.start, c.start, *j)
            if any(i >= g for i, g in zip(j, finer.grid[2:], strict=True)):
                continue
            siblings = self._siblings(level, finer_index)
            if siblings is None:
                origin = [i * fc // f for i, fc, f in zip(j, finer.chunks[2:], factors, strict=True)]
                paste(out, tuple(region), self._part_to_assemble(level, finer_index), origin)
            elif siblings[0] not in pasted:
                pasted.add(siblings[0])
                origin = [s.start for s in self._group_region(level, siblings)]
                paste(out, tuple(region), self._group_to_assemble(level, siblings), origin)
        return out

    def _sample(self, sampling: Sampling, t: int, c: int, region: tuple[slice, slice, slice]) -> np.ndarray:
        """A sampled level's region: one strided read of the native level."""
        self.stats["sampled_reads"] += 1
        reads = [slice(st * s.start, st * (s.stop - 1) + 1, st) for s, st in zip(region, sampling.stride,
                                                                                   strict=True)]
        return self._planes_in_parallel(sampling.native.read_sampled, sampling.native, t, c, *reads)

    def _read_native(self, native: Level, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """Read a region of the source."""
        self.stats["source_reads"] += 1
        return self._planes_in_parallel(native.read, native, t, c, z, y, x)

    def _planes_in_parallel(self, read, native: Level, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray:
        """``read`` (a ``native`` read method; ``z`` may have a step), its planes split into slabs that
        decode in parallel when ``native`` is a slice stack (one file per z).

        Leaf reads never wait on other pool work, so sharing one pool among requests cannot deadlock.
        """
        planes = range(z.start, z.stop, z.step or 1)
        if self.leaves is None or native.read_chunks[0] != 1 or len(planes) < 2 * self.leaf_split:
            return read(t, c, z, y, x)
        per = -(-len(planes) // self.leaf_split)
        groups = [planes[i : i + per] for i in range(0, len(planes), per)]
        slabs = [self.leaves.submit(read, t, c, slice(g.start, g[-1] + 1, z.step), y, x) for g in groups]
        return np.concatenate([f.result() for f in slabs])

    def region(self, level: int, t: int, c: int, z: slice, y: slice, x: slice, layout: int = 0) -> np.ndarray:
        """Any (z, y, x) region of one level, assembled from cached chunks (of chunk shape ``layout``)."""
        return assemble(self.levels[level].spec.in_layout(layout), lambda index: self.chunk(level, index, layout),
                        t, c, (z, y, x), self.dtype)

    def source_region(self, level: int, t: int, c: int, z: slice, y: slice, x: slice) -> np.ndarray | None:
        """A region of a level the source holds, or samples (an overview), read from the source without the
        chunk cache (the same voxels as :meth:`region`; a cutout's box need not read whole chunks), else None."""
        plan = self.levels[level]
        if plan.sampling is not None:
            return self._sample(plan.sampling, t, c, (z, y, x))
        return None if plan.native is None else self._read_native(plan.native, t, c, z, y, x)

    def region_chunks(self, level: int, t: int, c: int, z: slice, y: slice, x: slice) -> list[tuple[int, ...]]:
        """The chunk indices a (z, y, x) region of one level touches (to compute them ahead, in parallel)."""
        return blocks_touched(self.levels[level].spec, t, c, (z, y, x))

    def regions(self, level: int, t: slice, c: slice, z: slice, y: slice, x: slice) -> np.ndarray:
        """A (t, c, z, y, x) box of one level: :meth:`region` for each time point and channel."""
        out = np.empty((t.stop - t.start, c.stop - c.start, z.stop - z.start, y.stop - y.start,
                        x.stop - x.start), self.dtype)
        for ti, ci in product(range(t.start, t.stop), range(c.start, c.stop)):
            out[ti - t.start, ci - c.start] = self.region(level, ti, ci, z, y, x)
        return out
