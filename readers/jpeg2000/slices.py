"""Every slice's header of a JPEG2000 stack, parsed lazily: opening is O(1) in the number of slices.

A few slices (first, middle, last) are parsed at open and must agree (else the stack is refused, as
before). Every other slice is parsed on its first read and checked against them: a slice that
disagrees (size, components, sample type, fewer wavelet levels than the stack serves, another grid
origin) is a SourceError naming it by file name, so a bad slice is a clear 500 on the chunks that need
it, never silent data. Each slice's identity is taken just before its header is parsed, so a decode
under a header of other content is refused (readers.identity).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from readers.base import SourceError, UnsupportedSource
from readers.identity import Identity, identity
from readers.jpeg2000.header import SliceHeader


def describe(h: SliceHeader) -> str:
    return f"{h.width} x {h.height} x {h.components} {h.dtype}"


class SliceHeaders:
    """``headers[i]``: slice ``i``'s header (parsed and checked on first use); ``identity(i)`` its identity."""

    def __init__(self, files: list[Path], parse: Callable[[Path], SliceHeader]) -> None:
        self.files, self._parse = files, parse
        self._known: dict[int, tuple[Identity, SliceHeader]] = {}  # set once per slice; racing parses agree
        n = len(files)
        self.sampled = sorted({0, n // 2, n - 1})
        for i in self.sampled:
            try:
                self._known[i] = (identity(files[i]), parse(files[i]))
            except OSError as exc:
                raise UnsupportedSource(f"{files[i].name}: the slice vanished while it was opened") from exc
        first = self[0]
        for i in self.sampled[1:]:
            if self[i].key() != first.key():
                raise UnsupportedSource(f"{self[i].name}: {describe(self[i])} differs from {first.name}: "
                                        f"{describe(first)}")
        #: the wavelet levels the stack serves: every slice must have at least these
        self.dwt_levels = min(self[i].dwt_levels for i in self.sampled)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> SliceHeader:
        known = self._known.get(index)
        return known[1] if known is not None else self._first_use(index)[1]

    def identity(self, index: int) -> Identity:
        known = self._known.get(index)
        return known[0] if known is not None else self._first_use(index)[0]

    def sample(self) -> list[SliceHeader]:
        """The headers parsed at open."""
        return [self[i] for i in self.sampled]

    def _first_use(self, index: int) -> tuple[Identity, SliceHeader]:
        path, first = self.files[index], self[0]
        try:
            known = (identity(path), self._parse(path))
        except (UnsupportedSource, OSError) as exc:
            raise SourceError(f"{path.name}: {exc if isinstance(exc, UnsupportedSource) else 'cannot be read'}"
                              ) from exc
        head = known[1]
        if head.key() != first.key():
            raise SourceError(f"{head.name}: {describe(head)} differs from the stack ({first.name}: {describe(first)})")
        if head.dwt_levels < self.dwt_levels or head.origin != first.origin:
            raise SourceError(f"{head.name}: {head.dwt_levels} wavelet levels at origin {head.origin} differ from the "
                              f"stack ({first.name}: {self.dwt_levels} at {first.origin})")
        self._known[index] = known
        return known


class Identities:
    """``identities[i]``: the identity slice ``i`` had when its header was parsed (SliceDecoder.opened)."""

    def __init__(self, headers: SliceHeaders) -> None:
        self.headers = headers

    def __getitem__(self, index: int) -> Identity:
        return self.headers.identity(index)
