"""The small objects pyramids are built from: what a pyramid looks like, and what all of them share."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field

from readers.caching import Cache
from readers.resources import ReaderResources, default_resources
from transformer.config import AUTO_TARGET, OVERVIEWS, chunk_layout


@dataclass(frozen=True)
class PyramidOptions:
    """The shape of every pyramid: chunk layout, top level size, how computed levels are made."""

    #: with ``auto`` the voxel budget of one chunk (its product) and the shape of cubic chunks; else the
    #: one chunk shape of every level
    chunk: tuple[int, int, int] = AUTO_TARGET
    #: choose each level's chunks from the source's decode unit (see pyramid.auto_chunks); the service's
    #: default (--chunks auto) sets it, a pyramid built directly keeps one fixed shape unless asked
    auto: bool = False
    top: int = 64  # levels are added until every spatial axis fits in this
    overview: str = "auto"  # see Pyramid._mean_levels
    exact_limit: int = 512 << 20  # bytes per time point and channel

    def __post_init__(self) -> None:
        if self.overview not in OVERVIEWS:
            raise ValueError(f"overview must be one of {OVERVIEWS}, not {self.overview!r}")

    @classmethod
    def from_chunks(cls, chunks: str, **kwargs) -> PyramidOptions:
        """Options for a ``--chunks`` value: ``auto`` or one fixed z,y,x shape."""
        fixed = chunk_layout(chunks)
        return cls(AUTO_TARGET, auto=True, **kwargs) if fixed is None else cls(fixed, auto=False, **kwargs)


@dataclass
class Engine:
    """What every open pyramid shares: its caches, the pool source reads split across, counters, and
    the readers' resources the sources are opened with."""

    blocks: Cache  # decoded blocks the pyramid reads through
    # blocks reduced for the next level, kept apart so a flood of level-0 blocks cannot evict them
    parts: Cache | None = None  # None: the blocks cache
    leaves: Executor | None = None  # source reads split across cores (decoders release the GIL)
    stats: Counter = field(default_factory=Counter)  # "source_reads", "sampled_reads"
    readers: ReaderResources = field(default_factory=default_resources)
    leaf_split: int = os.cpu_count() or 2  # slabs a slice-stack read is split into
