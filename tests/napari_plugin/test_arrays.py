"""The plugin's array-like (transformer/napari_plugin/arrays.py) against a real server: numpy's basic indexing
gives numpy's answer, indexing alone fetches nothing (napari first cuts the displayed axes over every plane),
and reading a view fetches each served chunk it touches once, no other."""

from __future__ import annotations

import numpy as np
import pytest

from transformer.client import open_dataset
from transformer.napari_plugin.arrays import ChunkCache, ChunkedChannel


class Counted:
    """The dataset's real connection, recording the cutout boxes it asks for."""

    def __init__(self, connection) -> None:
        self.connection, self.paths = connection, []

    def __getattr__(self, name):
        return getattr(self.connection, name)

    def get(self, path: str) -> bytes:
        self.paths.append(path)
        return self.connection.get(path)


@pytest.fixture
def odd(server, generated):
    """Level 0 of a 37 x 101 x 133 stack (odd sizes: clipped edge chunks), its source, and the request log."""
    ds = open_dataset(f"{server.url}/datasets/{generated['slices'].dataset_id}")
    ds.connection = counted = Counted(ds.connection)
    return ChunkedChannel(ds.levels[0], 0, ChunkCache()), generated["slices"].data[0, 0], counted


@pytest.mark.parametrize(
    "key",
    [
        (),
        (5,),
        (-1,),
        (Ellipsis, 7),
        (slice(3, 30, 4), slice(None), 100),
        (slice(None, None, -3), slice(90, 10, -7)),
        (slice(2, 9), slice(40, 41), slice(-50, None)),
        (36, 100, 132),
        (slice(5, 5),),
    ],
)
def test_basic_indexing_equals_numpys(odd, key):
    array, source, _ = odd
    got = array[key]
    assert np.asarray(got).shape == source[key].shape == np.shape(got)
    np.testing.assert_array_equal(np.asarray(got), source[key])


def test_napari_style_indexing_fetches_only_the_chunks_read_each_once(odd):
    array, source, counted = odd
    cz, cy, cx = array.chunks
    tile = array[:, 10:20, 30:40]  # every plane: nothing is fetched for a view
    assert counted.paths == [] and tile.shape == (37, 10, 10)
    across = np.asarray(tile[cz - 1 : cz + 1])  # the last plane of the first chunk and the first of the next
    np.testing.assert_array_equal(across, source[cz - 1 : cz + 1, 10:20, 30:40])
    assert sorted(counted.paths) == sorted(
        f"/api/datasets/{array.level.dataset.id}/cutout?level=0&t=0:1&c=0:1&z={z}:{z + cz}&y=0:{cy}&x=0:{cx}"
        for z in (0, cz)
    )  # the two served chunks the box touches, one request each
    np.asarray(tile[cz]), np.asarray(array[cz - 1, 0:3, 0:3])
    assert len(counted.paths) == 2  # read again: from the cache
