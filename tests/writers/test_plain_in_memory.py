"""``View.plain_in_memory``: the plain chunk the S3 facade sends straight from a block in memory is byte for byte
what ``encode`` makes with the plain options, it shares the block's memory (no copy), and every chunk the block
cannot be sent as it lies for (an edge to pad, several channels, another dtype or byte order, a block not in
memory) is None, so the route encodes it in the worker pool."""

from __future__ import annotations

import numpy as np
import pytest

from tests.writers.conftest import VIEWS, keys_of
from tests.writers.specs import SPECS
from tests.writers.test_chunks import reader, volumes
from writers.codecs import compressor, plain_buffer
from writers.precomputed import served_dtype
from writers.view import Chunk, ViewOptions

PLAIN = ViewOptions(compressor("none"), plain=True)


def in_memory(read):
    """A peek over the blocks ``read`` gives, each its own array, as the blocks cache holds them."""
    return lambda level, index: np.ascontiguousarray(read(level, index))


@pytest.mark.parametrize("view", ["zarr", "zarr3", "precomputed"])
@pytest.mark.parametrize("spec", list(SPECS))
def test_sent_as_it_lies_equals_the_encoded_chunk(view, spec):
    v, s = VIEWS[view], SPECS[spec]
    read = reader(volumes(s), s)
    peek, sent = in_memory(read), 0
    for key in keys_of(v, s):
        if not isinstance(key, Chunk) or v.chunk_size(key, s, PLAIN) is None:
            continue
        fast = v.plain_in_memory(key, s, peek)
        if fast is None:
            continue
        sent += 1
        assert bytes(fast) == v.encode(key, s, read, PLAIN), key
        assert len(fast) == v.chunk_size(key, s, PLAIN)
        assert v.plain_in_memory(key, s, lambda level, index: None) is None  # not in memory: encoded
    # every spec has full chunks; a precomputed chunk holds every channel and may convert the dtype (float64)
    as_it_lies = view != "precomputed" or (s.levels[0].shape[1] == 1 and served_dtype(s.dtype, s.kind) == s.dtype)
    assert (sent > 0) == as_it_lies, sent


def test_precomputed_with_several_channels_is_always_encoded():
    v, s = VIEWS["precomputed"], SPECS["tc"]
    peek = in_memory(reader(volumes(s), s))
    assert all(v.plain_in_memory(key, s, peek) is None for key in keys_of(v, s) if isinstance(key, Chunk))


def test_plain_buffer_is_the_block_itself():
    block = np.arange(2 * 3 * 4, dtype="<u2").reshape(2, 3, 4)
    view = plain_buffer(block, (1, 1, 2, 3, 4))
    assert np.shares_memory(np.frombuffer(view, np.uint8), block)
    assert bytes(view) == compressor("none").encode(block)
    assert plain_buffer(block.astype(">u2"), (2, 3, 4)) is None  # zarr chunks are little-endian
    assert plain_buffer(block, (2, 3, 5)) is None  # an edge block is padded first
    assert plain_buffer(block[:, :, ::2], (2, 3, 2)) is None  # not laid out in C order
    assert plain_buffer(block.astype(np.uint8), (2, 3, 4)) is not None  # no byte order at all
