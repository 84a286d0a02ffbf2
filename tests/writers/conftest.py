"""Keys of every view over every level and grid edge, for the serverless writer tests."""

from __future__ import annotations

import itertools

from writers.precomputed import ENCODINGS, Info, PrecomputedChunk, check_encoding
from writers.registry import installed
from writers.spec import ImageSpec
from writers.view import Chunk, Document, View
from writers.zarr_v2 import ZarrV2
from writers.zarr_v3 import ZarrV3
from writers.zarr_v3_sharded import ZarrV3Sharded, sharded

VIEWS = {view.name: view for view in installed()}


def edges(n: int) -> list[int]:
    """The first and the last index of an axis of ``n`` chunks."""
    return sorted({0, n - 1})


def grid_edges(grid: tuple[int, ...]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(edges(n) for n in grid)))


def offered(spec: ImageSpec) -> list[str | None]:
    """The precomputed encodings a spec is served in (None: the default, named by no segment)."""
    out: list[str | None] = [None]
    for encoding in ENCODINGS:
        try:
            check_encoding(spec, encoding)
        except LookupError:
            continue
        out.append(encoding)
    return out


def keys_of(view: View, spec: ImageSpec) -> list[Document | Chunk]:
    """Every document and the chunks at every grid corner of every level."""
    out: list[Document | Chunk] = []
    levels = range(len(spec.levels))
    if isinstance(view, ZarrV2):
        out += [Document(".zgroup"), Document(".zattrs"), Document(".zmetadata")]
        out += [Document(".zarray", level) for level in levels]
    elif isinstance(view, ZarrV3):
        out += [Document("zarr.json")] + [Document("zarr.json", level) for level in levels]
    if isinstance(view, ZarrV2 | ZarrV3):
        grids = sharded(spec) if isinstance(view, ZarrV3Sharded) else spec  # its chunk keys index shards
        out += [Chunk(level, index) for level in levels for index in grid_edges(grids.levels[level].grid)]
        return out
    n_times = spec.levels[0].shape[0]
    for encoding in offered(spec):
        out += [Info(t=t, encoding=encoding) for t in edges(n_times)]
        for level in levels:
            for layout in range(len(spec.levels[level].layouts)):  # every chunk size the info lists
                t_grid, _, *zyx = spec.levels[level].in_layout(layout).grid
                out += [PrecomputedChunk(level, index, encoding, layout) for index in grid_edges((t_grid, *zyx))]
    return out
