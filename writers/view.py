"""What an output view is: one object per served format (zarr v2, zarr v3, precomputed, ...).

A view owns its URL grammar in both directions (``parse`` a key into a typed ``Document`` or ``Chunk``,
``spell`` a typed key back into the only string that names it), its metadata documents, its chunk
encoding, whether chunk responses may be gzipped, and how Neuroglancer opens it. The HTTP layer
(transformer/server/routes/views.py) mounts every registered view with one thin handler and derives
the warm-path prefixes and the ``links`` of a record from the same objects (writers/registry.py).

Keys are canonical: ``parse(spell(key), spec) == key`` for every key, and a string that is not the
spelling of a key raises ``MalformedKey`` (HTTP 400), or ``NoSuchKey`` (404) when it is well formed
but names nothing (a level or chunk outside the grid, a document the view does not have).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from writers.codecs import Compressor
from writers.errors import NoSuchKey
from writers.listing import Folder, walk
from writers.neuroglancer import Source
from writers.spec import ImageSpec


@dataclass(frozen=True)
class Document:
    """A metadata document (JSON) of a view; ``level`` is set for per-level (array) documents."""

    name: str
    level: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A chunk of ``level`` at ``index`` of the view's chunk grid (its own axes, documented per view)."""

    level: int
    index: tuple[int, ...]


@dataclass(frozen=True)
class Part:
    """A run of a chunk's bytes made on its own (``View.parts``): the encoded ``chunk`` of the view's finer grid,
    or fixed ``data`` (an index)."""

    size: int
    chunk: Chunk | None = None
    data: bytes = b""


@dataclass(frozen=True)
class ViewOptions:
    """Service settings a view may use to encode."""

    compressor: Compressor
    #: chunks as plain arrays (precomputed's default encoding is raw): with the ``none`` compressor every chunk's
    #: size follows from the geometry, which S3 listings must state before any chunk is made (routes/s3.py)
    plain: bool = False


def version_tag(version: str) -> str:
    """The URL form of a dataset version (``Dataset.version``, which may carry ``~stamp`` when files changed
    since the scan): 16 hex digits, so ``{id}@{tag}`` names one immutable content."""
    return hashlib.blake2b(version.encode(), digest_size=8).hexdigest()


#: reads the decoded (z, y, x) block of ``level`` at a (t, c, z, y, x) grid index, clipped at the volume
#: edge (Pyramid.chunk); an optional third argument ``layout`` indexes the grid of ``LevelSpec.layouts``
ReadBlock = Callable[..., np.ndarray]
#: the decoded block ``ReadBlock`` would give (layout 0), if it is in memory now, else None (Pyramid.peek)
PeekBlock = Callable[[int, tuple[int, ...]], np.ndarray | None]


class View(ABC):
    name: ClassVar[str]  #: the key in a record's ``links`` and the Neuroglancer ``source=`` value
    prefix: ClassVar[str]  #: URL prefix, e.g. ``/zarr``; a dataset is served under ``{prefix}/{segment}/``
    suffix: ClassVar[str] = ""  #: the dataset segment is ``{id}{suffix}``
    #: 404 reason for the bare ``{prefix}/{segment}`` (None: that URL is no route of this view)
    root_hint: ClassVar[str | None] = None
    #: how Neuroglancer opens this view (None: Neuroglancer cannot)
    neuroglancer: ClassVar[Source | None] = None

    # -- naming ------------------------------------------------------------------------------------

    def dataset_segment(self, dataset_id: str, version: str | None = None) -> str:
        """``{id}{suffix}``, or with ``version`` the immutable form ``{id}@{version_tag(version)}{suffix}``."""
        return dataset_id + (f"@{version_tag(version)}" if version else "") + self.suffix

    def dataset_ref(self, segment: str) -> tuple[str, str | None] | None:
        """(dataset id, version tag or None) a URL segment names, or None if it is not spelt like this view's."""
        if not segment.endswith(self.suffix):
            return None
        dataset_id, at, tag = segment[: len(segment) - len(self.suffix)].partition("@")
        return dataset_id, (tag if at else None)

    def dataset_id(self, segment: str) -> str | None:
        """The dataset id a URL segment names (versioned or not), or None if the segment is not spelt like
        this view's."""
        ref = self.dataset_ref(segment)
        return None if ref is None else ref[0]

    def naming_error(self) -> NoSuchKey:
        return NoSuchKey(f"{self.name} views are named {{id}}{self.suffix}")

    # -- keys ----------------------------------------------------------------------------------------

    @abstractmethod
    def parse(self, key: str, spec: ImageSpec) -> Document | Chunk:
        """The typed key a path below the dataset segment names (MalformedKey / NoSuchKey otherwise)."""

    @abstractmethod
    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        """The only path that names ``key`` (the inverse of ``parse``)."""

    # -- content -------------------------------------------------------------------------------------

    @abstractmethod
    def document(self, key: Document, spec: ImageSpec, options: ViewOptions) -> dict:
        """The JSON document ``key`` names."""

    @abstractmethod
    def chunk_identity(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> Hashable:
        """What, beside the dataset version, decides the chunk's bytes (its encoded-cache key)."""

    @abstractmethod
    def encode(self, key: Chunk, spec: ImageSpec, read: ReadBlock, options: ViewOptions) -> bytes:
        """The chunk's bytes; ``read`` gives the decoded blocks it is made of."""

    def plain_in_memory(self, key: Chunk, spec: ImageSpec, peek: PeekBlock) -> memoryview | None:
        """The chunk's plain bytes (``ViewOptions.plain`` with no compressor) as a view of a decoded block that
        is already in memory, without a copy; None when that block is not in memory or must be laid out first
        (an edge to pad, another byte order or dtype, several channels). Nothing here reads or computes: the S3
        route calls it on the event loop and goes to the worker pool (``encode``) on None."""
        return None

    def parts(self, key: Chunk, spec: ImageSpec) -> list[Part] | None:
        """The chunk as runs of bytes made one by one, in order (None: made whole by ``encode``). A view whose
        chunks are large and whose layout the geometry decides (a zarr shard of plain inner chunks) says so,
        and the server then makes only the parts a byte range touches, and sends a whole chunk part by part."""
        return None

    def encode_part(self, part: Part, spec: ImageSpec, read: ReadBlock) -> bytes:
        """The bytes of one of ``parts`` (exactly ``part.size``)."""
        raise NotImplementedError

    def part_in_memory(self, part: Part, spec: ImageSpec, peek: PeekBlock) -> bytes | memoryview | None:
        """``encode_part`` without reading or computing (from a block in memory, as ``plain_in_memory``), else
        None."""
        return None

    def compressible(self, key: Chunk, spec: ImageSpec) -> bool:
        """Whether a chunk response may be gzipped for clients that accept it (already compressed: no)."""
        return False

    # -- listing (the S3 facade and folder browsing) -----------------------------------------------------

    def tree(self, spec: ImageSpec, options: ViewOptions) -> Folder | None:
        """Every key of a dataset below its segment, as a tree (writers/listing.py); None: not enumerable."""
        return None

    def keys(self, spec: ImageSpec, options: ViewOptions, after: str = "") -> Iterator[tuple[str, Document | Chunk]]:
        """(key, typed key) of every key greater than ``after``, in lexicographic order, in constant memory."""
        tree = self.tree(spec, options)
        return iter(()) if tree is None else walk(tree, "", after)

    def chunk_size(self, key: Chunk, spec: ImageSpec, options: ViewOptions) -> int | None:
        """The bytes ``encode`` gives for ``key``, if the geometry decides them (None: known once made)."""
        return None

    # -- Neuroglancer ----------------------------------------------------------------------------------

    def refusal(self, spec: ImageSpec) -> str | None:
        """Why this view cannot serve ``spec`` at all (None: it can)."""
        return None

    def neuroglancer_url(self, url: str, t: int) -> str:
        """The source URL showing time point ``t``, given the view's URL of the dataset."""
        return url
