"""A view's keys in lexicographic order, as a generator that can start after any string (constant memory).

A view describes its keys as a tree of ``Folder``s: each folder has sorted entry names (a name carries its
trailing ``/`` when it is a folder; names need not contain ``/`` at all: a precomputed chunk name is three
nested name parts) and makes an entry on demand. Because no name is a proper prefix of a sibling, walking the
names in order gives the keys in order, and a walk can skip every subtree that sorts before ``after`` by
bisecting names, so page 10,000 of a listing costs what page 1 does. Memory is the names of the folders on
the current path (one axis of a chunk grid each), never the keys.

The order is that of Python strings, which is S3's (UTF-8 byte order and code point order agree).
"""

from __future__ import annotations

import functools
import heapq
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: the largest code point: ``prefix + END`` sorts after every key that starts with ``prefix``
END = "\U0010ffff"
#: the leaf ``walk`` yields for a collapsed entry
COLLAPSED = object()


@dataclass(frozen=True)
class Folder:
    """Entries named ``names`` (sorted); ``entry(i)`` is the i-th: a Folder, a Merge, or a leaf (any object)."""

    names: Sequence[str]
    entry: Callable[[int], Any]


@dataclass(frozen=True)
class Merge:
    """Several trees under one name whose keys interleave (precomputed's chunk sizes of one scale); a key in
    more than one is listed once, with the leaf of the first tree that has it."""

    trees: Sequence[Folder]


def walk(node: Folder | Merge, base: str = "", after: str = "",
         collapse: Callable[[str], bool] | None = None) -> Iterator[tuple[str, Any]]:
    """(key, leaf) of every key below ``node`` (whose keys start with ``base``) greater than ``after``, in order.
    Callers pass an ``after`` that starts with ``base`` or sorts before every key below it. ``collapse(name)``:
    an entry so named is yielded as (name, COLLAPSED) without being made or walked into (a listing's common
    prefix; ``after = name + END`` then resumes past it)."""
    if isinstance(node, Merge):
        last = None
        walks = (walk(t, base, after, collapse) for t in node.trees)
        for key, leaf in heapq.merge(*walks, key=lambda kv: kv[0]):
            if key != last:
                last = key
                yield key, leaf
        return
    names = node.names
    first = 0
    if after.startswith(base):
        rest = after[len(base):]
        first = bisect_right(names, rest)
        name = names[first - 1] if first else ""
        # ``after`` lies inside that entry (and not past its end): resume within it
        if first and rest.startswith(name) and not rest[len(name):].startswith(END):
            if collapse is None or not collapse(base + name):
                child = node.entry(first - 1)
                if isinstance(child, Folder | Merge):
                    yield from walk(child, base + name, after, collapse)
    for i in range(first, len(names)):
        if collapse is not None and collapse(base + names[i]):
            yield base + names[i], COLLAPSED
            continue
        child = node.entry(i)
        if isinstance(child, Folder | Merge):
            yield from walk(child, base + names[i], "", collapse)
        else:
            yield base + names[i], child


def mapped(node: Folder | Merge | None, leaf: Callable[[Any], Any]) -> Folder | Merge:
    """``node`` with every leaf replaced by ``leaf(it)`` (None: an empty folder)."""
    if node is None:
        return Folder((), lambda i: None)
    if isinstance(node, Merge):
        return Merge([mapped(t, leaf) for t in node.trees])

    def entry(i: int) -> Any:
        child = node.entry(i)
        return mapped(child, leaf) if isinstance(child, Folder | Merge) else leaf(child)

    return Folder(node.names, entry)


@functools.lru_cache(maxsize=256)
def numbered(n: int, suffix: str = "") -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The names ``{i}{suffix}`` for i in 0..n-1 in string order, and the i of each (a grid axis)."""
    order = tuple(sorted(range(n), key=str))
    return tuple(f"{i}{suffix}" for i in order), order


def fixed(entries: Sequence[tuple[str, Any]]) -> Folder:
    """A folder of a few named entries (documents, levels), sorted here; values may be thunks (callables
    without arguments) for subtrees made only when walked into."""
    ordered = sorted(entries, key=lambda e: e[0])
    names = tuple(name for name, _ in ordered)

    def entry(i: int) -> Any:
        value = ordered[i][1]
        return value() if callable(value) and not isinstance(value, Folder | Merge) else value

    return Folder(names, entry)


def axis(n: int, suffix: str, entry: Callable[[int], Any], start: int = 0) -> Folder:
    """A folder of the grid indices start..n-1 (names ``{i}{suffix}``); ``entry(i)`` takes the index itself."""
    names, order = numbered(n, suffix)
    if start:
        kept = [k for k, i in enumerate(order) if i >= start]
        names, order = tuple(names[k] for k in kept), tuple(order[k] for k in kept)
    return Folder(names, lambda k: entry(order[k]))


def grid(shape: Sequence[int], leaf: Callable[[tuple[int, ...]], Any], done: tuple[int, ...] = ()) -> Folder:
    """The keys ``i0/i1/.../in`` of a chunk grid of ``shape``; ``leaf(index)`` is the leaf of one chunk."""
    if len(done) == len(shape) - 1:
        return axis(shape[-1], "", lambda i: leaf((*done, i)))
    return axis(shape[len(done)], "/", lambda i: grid(shape, leaf, (*done, i)))


def joined(*folders: Folder) -> Folder:
    """One folder holding the entries of several (a level's documents beside its chunk grid)."""
    entries = sorted(((name, f, k) for f in folders for k, name in enumerate(f.names)), key=lambda e: e[0])
    return Folder(tuple(name for name, _, _ in entries), lambda i: entries[i][1].entry(entries[i][2]))
