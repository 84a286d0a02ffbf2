"""Views enumerate their keys (writers/listing.py): in lexicographic order, each key canonical and listed once,
resumable after any string, and a stated size equal to the bytes the view encodes."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from tests.writers.specs import SPECS
from writers.codecs import compressor
from writers.listing import Folder, fixed, walk
from writers.precomputed import PrecomputedChunk
from writers.registry import VIEWS
from writers.view import Chunk, Document, ViewOptions
from writers.zarr_v3_sharded import sharded

PLAIN = ViewOptions(compressor("none"), plain=True)
CASES = [(v, s) for v in VIEWS for s in SPECS if VIEWS[v].refusal(SPECS[s]) is None]


def every_key(view, spec) -> set[str]:
    """Every key spelt from the grids directly (independent of the tree walk)."""
    out = set()
    grids = sharded(spec) if view.name == "zarr3-sharded" else spec  # its chunk keys index shards
    for level, ls in enumerate(grids.levels):
        if view.name == "precomputed":
            for t in range(ls.shape[0]):
                for layout in range(len(ls.layouts)):
                    for zyx in itertools.product(*map(range, ls.in_layout(layout).grid[2:])):
                        out.add(view.spell(PrecomputedChunk(level, (t, *zyx), None, layout), spec))
        else:
            out |= {view.spell(Chunk(level, index), spec) for index in itertools.product(*map(range, ls.grid))}
    if view.name == "zarr":
        out |= {".zattrs", ".zgroup", ".zmetadata"} | {f"{i}/.zarray" for i in range(len(spec.levels))}
    elif view.name in ("zarr3", "zarr3-sharded"):
        out |= {"zarr.json"} | {f"{i}/zarr.json" for i in range(len(spec.levels))}
    else:
        out |= {"info" if t == 0 else f"t/{t}/info" for t in range(spec.levels[0].shape[0])}
    return out


@pytest.mark.parametrize(("view_name", "spec_name"), CASES)
def test_keys_sorted_complete_canonical(view_name, spec_name):
    view, spec = VIEWS[view_name], SPECS[spec_name]
    listed = list(view.keys(spec, PLAIN))
    names = [k for k, _ in listed]
    assert names == sorted(every_key(view, spec))
    for name, typed in listed:
        assert view.parse(name, spec) == typed
        assert view.spell(typed, spec) == name


@pytest.mark.parametrize(("view_name", "spec_name"), CASES)
def test_keys_resume_after_any_string(view_name, spec_name):
    view, spec = VIEWS[view_name], SPECS[spec_name]
    names = [k for k, _ in view.keys(spec, PLAIN)]
    rng = random.Random(7)
    probes = [*rng.sample(names, min(25, len(names))), "", "0", "0/", "1/0", "zz", "0/c/0/0/0/5", "t/", "~"]
    probes += [n[:-1] for n in names[::7]] + [n + "0" for n in names[::11]]
    for after in probes:
        assert [k for k, _ in view.keys(spec, PLAIN, after)] == [n for n in names if n > after], after


@pytest.mark.parametrize(("view_name", "spec_name"), CASES)
def test_chunk_size_is_encoded_size(view_name, spec_name):
    view, spec = VIEWS[view_name], SPECS[spec_name]

    def read(level, index, layout=0):
        region = spec.levels[level].in_layout(layout).chunk_region(index)
        return np.ones([s.stop - s.start for s in region[2:]], spec.dtype)

    chunks = [typed for _, typed in view.keys(spec, PLAIN) if not isinstance(typed, Document)]
    for typed in random.Random(3).sample(chunks, min(40, len(chunks))):
        assert view.chunk_size(typed, spec, PLAIN) == len(view.encode(typed, spec, read, PLAIN))
    compressed = ViewOptions(compressor("blosc-zstd"))
    if view_name != "precomputed" and view.parts(chunks[0], spec) is None:  # a shard is plain whatever is asked
        assert view.chunk_size(chunks[0], spec, compressed) is None  # unknown until made


def test_plain_precomputed_serves_raw_labels():
    view, spec = VIEWS["precomputed"], SPECS["labels"]
    info = view.parse("info", spec)
    assert view.document(info, spec, PLAIN)["scales"][0]["encoding"] == "raw"
    assert view.document(info, spec, ViewOptions(compressor("none")))["scales"][0]["encoding"] == \
        "compressed_segmentation"


def test_walk_is_lazy():
    """Page 1 of a grid of 10^12 chunks is made without visiting the rest."""
    from writers.listing import grid

    tree = fixed([(".zattrs", "doc"), ("0/", lambda: grid((10**4,) * 3, lambda i: i))])
    first = list(itertools.islice(walk(tree), 5))
    assert [k for k, _ in first] == [".zattrs", "0/0/0/0", "0/0/0/1", "0/0/0/10", "0/0/0/100"]
    resumed = next(walk(tree, "", "0/9999/9999/9998"))
    assert resumed == ("0/9999/9999/9999", (9999, 9999, 9999))
    assert isinstance(tree, Folder)
