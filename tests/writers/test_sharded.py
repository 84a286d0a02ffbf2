"""The sharded zarr v3 view (writers/zarr_v3_sharded.py) read back by zarr-python from the files its documents and
shards make, for every spec: each shard is exactly as long as the geometry says, is its parts in order, and its
index (with CRC32C) places every inner chunk; shards past the last inner chunk mark those entries empty."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest
import zarr

import writers.zarr_v3_sharded as sharding
from tests.writers.specs import SPECS
from tests.writers.test_chunks import reader, volumes, write
from writers.codecs import compressor
from writers.view import Chunk, Document, ViewOptions

VIEW = sharding.ZarrV3Sharded()
OPTIONS = ViewOptions(compressor("blosc-zstd"))  # the service's compressor: shards stay plain whatever it is


def written(root: Path, spec, data) -> int:
    """Every key of the view as a file under ``root``; returns how many shards."""
    read, shards = reader(data, spec), 0
    for key, typed in VIEW.keys(spec, OPTIONS):
        if isinstance(typed, Document):
            write(root, key, json.dumps(VIEW.document(typed, spec, OPTIONS)).encode())
            continue
        body = VIEW.encode(typed, spec, read, OPTIONS)
        assert len(body) == VIEW.chunk_size(typed, spec, OPTIONS) == sum(p.size for p in VIEW.parts(typed, spec))
        assert body == b"".join(VIEW.encode_part(p, spec, read) for p in VIEW.parts(typed, spec))
        assert VIEW.parse(key, spec) == typed and VIEW.spell(typed, spec) == key
        write(root, key, body)
        shards += 1
    return shards


@pytest.mark.parametrize("spec", list(SPECS))
def test_zarr_python_reads_the_shards(tmp_path, spec):
    s = SPECS[spec]
    data = volumes(s)
    assert written(tmp_path, s, data) > 0
    group = zarr.open_group(str(tmp_path), mode="r")
    for level, expected in enumerate(data):
        array = group[str(level)]
        assert array.shards == sharding.sharded(s).levels[level].chunks and array.chunks == s.levels[level].chunks
        assert np.array_equal(array[:], expected)


def test_a_shard_past_the_last_chunk_marks_it_empty(tmp_path, monkeypatch):
    s = SPECS["flat"]  # 45 planes in one-plane chunks: shards of 2 leave the last one half empty
    inner = 64 * 128 * 2
    monkeypatch.setattr(sharding, "SHARD_BYTES", 2 * inner)
    sharding.sharded.cache_clear()
    try:
        layout = sharding.Layout(s, Chunk(0, (0, 0, 22, 0, 0)))
        assert [c is None for c in layout.chunks] == [False, True] and layout.size == inner + 2 * 16 + 4
        index = layout.index()
        table, crc = index[:-4], struct.unpack("<I", index[-4:])[0]
        assert crc == google_crc32c.value(table)
        assert struct.unpack("<4Q", table) == (0, inner, sharding.EMPTY, sharding.EMPTY)
        full = sharding.Layout(s, Chunk(0, (0, 0, 3, 1, 0)))
        assert [p.chunk.index for p in full.parts()[:-1]] == [(0, 0, 6, 1, 0), (0, 0, 7, 1, 0)]
        data = volumes(s)
        written(tmp_path, s, data)
        assert np.array_equal(zarr.open_group(str(tmp_path), mode="r")["0"][:], data[0])
    finally:
        sharding.sharded.cache_clear()


def test_keys_outside_the_shard_grid_are_absent():
    s = SPECS["u16"]
    grid = sharding.sharded(s).levels[0].grid
    from writers.errors import NoSuchKey

    with pytest.raises(NoSuchKey):
        VIEW.parse("0/c/0/0/" + "/".join(str(g) for g in grid[2:]), s)
