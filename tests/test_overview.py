"""Sampled overviews: past a size limit, computed levels take every n-th source voxel instead of a mean.

A server started with ``--exact-limit-mb 0`` treats every generated dataset as large, so its computed
levels are sampled; the clients must read exactly ``source[::stride]`` with metadata that says so.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import zarr

from readers.base import Channel, Level, LevelGeometry, Volume
from readers.caching import Cache
from tests.helpers import Server
from transformer.engine.options import Engine, PyramidOptions
from transformer.engine.pyramid import Pyramid

NAMES = ["slices", "tc", "float", "big"]


@pytest.fixture(scope="module")
def sampled_server(generated):
    srv = Server(generated["_catalog"], "--cache-mb", "64", "--exact-limit-mb", "0")
    yield srv
    srv.stop()


def _group(srv, g, version=2):
    return zarr.open_group(f"{srv.url}/{'zarr' if version == 2 else 'zarr3'}/{g.dataset_id}.ome.zarr", mode="r",
                           zarr_format=version)


@pytest.mark.parametrize("name", NAMES)
def test_every_computed_level_is_a_strided_sample_of_the_source(sampled_server, generated, name):
    g = generated[name]
    group = _group(sampled_server, g)
    datasets = group.attrs["multiscales"][0]["datasets"]
    assert len(datasets) >= 2
    scale0 = datasets[0]["coordinateTransformations"][0]["scale"][2:]
    np.testing.assert_array_equal(group["0"][...], g.data)
    for i in range(1, len(datasets)):
        scale, translation = (t[k] for t, k in zip(datasets[i]["coordinateTransformations"],
                                                   ("scale", "translation"), strict=True))
        stride = [round(a / b) for a, b in zip(scale[2:], scale0, strict=True)]
        assert translation[2:] == [0.0, 0.0, 0.0]  # voxel i sits on source voxel stride·i
        level = group[str(i)][...]
        np.testing.assert_array_equal(level, g.data[:, :, :: stride[0], :: stride[1], :: stride[2]])
    assert max(level.shape[2:]) <= 64


def test_metadata_names_the_method_and_still_validates(sampled_server, generated):
    from ome_zarr_models.v04 import Image as Image04
    from ome_zarr_models.v05 import Image as Image05

    g = generated["big"]
    multiscale = _group(sampled_server, g).attrs["multiscales"][0]
    assert multiscale["type"] == "mean+nearest"
    assert "every n-th voxel of level 0" in multiscale["metadata"]["description"]
    Image04.from_zarr(_group(sampled_server, g))
    Image05.from_zarr(_group(sampled_server, g, 3))


def test_the_zarr3_and_precomputed_views_serve_the_same_samples(sampled_server, generated):
    g = generated["big"]
    top = len(_group(sampled_server, g).attrs["multiscales"][0]["datasets"]) - 1
    v2 = _group(sampled_server, g)[str(top)][0, 0]
    v3 = _group(sampled_server, g, 3)[str(top)][0, 0]
    np.testing.assert_array_equal(v2, v3)
    info = httpx.get(f"{sampled_server.url}/precomputed/{g.dataset_id}/info").json()
    scale = info["scales"][top]
    x, y, z = scale["size"]
    raw = httpx.get(f"{sampled_server.url}/precomputed/{g.dataset_id}/{scale['key']}/0-{x}_0-{y}_0-{z}")
    assert raw.status_code == 200
    data = np.frombuffer(raw.content, "<u2").reshape(z, y, x)
    np.testing.assert_array_equal(data, v2)


class _Recording(Level):
    """An in-memory level that records which planes were read."""

    def __init__(self, data: np.ndarray) -> None:
        super().__init__(LevelGeometry((1, 1, *data.shape), data.dtype, (1.0, 1.0, 1.0),
                                       (1, data.shape[1], data.shape[2])))
        self.data = data
        self.planes: set[int] = set()

    def _read(self, t, c, z, y, x):
        self.planes.update(range(z.start, z.stop))
        return self.data[z, y, x].copy()


@pytest.mark.parametrize("overview", ["exact", "sampled"])
def test_the_overview_reads_every_plane_only_when_exact(overview):
    data = np.random.default_rng(0).integers(0, 1000, (100, 300, 300), dtype=np.uint16)
    level = _Recording(data)
    pyramid = Pyramid("k", Volume([level], [Channel("c")], "test"), Engine(Cache("blocks", 1 << 28)),
                      PyramidOptions(overview=overview))
    top = len(pyramid.levels) - 1
    shape = pyramid.levels[top].spec.shape[2:]
    got = pyramid.region(top, 0, 0, *(slice(0, n) for n in shape))
    if overview == "sampled":
        stride = pyramid.levels[top].sampling.stride
        np.testing.assert_array_equal(got, data[:: stride[0], :: stride[1], :: stride[2]])
        assert level.planes == set(range(0, 100, stride[0]))
    else:
        assert level.planes == set(range(100))


class _Sized(Level):
    """A level whose read cost is set by the test (nothing is read)."""

    def __init__(self, shape, cost: int) -> None:
        chunks = (1, min(64, shape[3]), min(64, shape[4]))
        super().__init__(LevelGeometry(shape, np.dtype("uint16"), (1.0, 1.0, 1.0), chunks, read_cost=cost))

    def _read(self, t, c, z, y, x):
        raise AssertionError("planning reads nothing")


@pytest.mark.parametrize(("overview", "cost", "sampled"), [
    ("auto", 512 << 20, False), ("auto", (512 << 20) + 1, True), ("exact", 1 << 40, False), ("sampled", 1, True)])
def test_overview_policy(overview, cost, sampled):
    volume = Volume([_Sized((1, 1, 256, 1024, 1024), cost)], [Channel("c")], "test")
    pyramid = Pyramid("k", volume, Engine(Cache("blocks", 0)), PyramidOptions(overview=overview, exact_limit=512 << 20))
    computed = pyramid.levels[1:]
    assert computed and all((lv.sampling is not None) == sampled for lv in computed)
    assert (pyramid.sampled_from == 0) == sampled
    if sampled:
        assert [lv.sampling.stride for lv in computed] == [(2 ** k,) * 3 for k in range(1, len(computed) + 1)]
        assert all(lv.spec.translation == (0.0, 0.0, 0.0) for lv in computed)


def test_a_bad_overview_policy_is_refused():
    with pytest.raises(ValueError, match="overview"):
        PyramidOptions(overview="fast")
