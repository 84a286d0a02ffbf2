"""Read the served OME-Zarr 0.4 with the real clients: zarr-python over HTTP, ome-zarr-py, ome-zarr-models."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from tests.helpers import reference_mean

NAMES = ["slices", "tc", "float", "big"]


def url(server, g) -> str:
    return f"{server.url}/zarr/{g.dataset_id}.ome.zarr"


@pytest.mark.parametrize("name", NAMES)
def test_zarr_python_level0_equals_source(server, generated, name):
    g = generated[name]
    group = zarr.open_group(url(server, g), mode="r")
    level0 = group["0"][...]
    assert level0.dtype == g.data.dtype
    np.testing.assert_array_equal(level0, g.data)


@pytest.mark.parametrize("name", NAMES)
def test_every_level_is_the_mean_of_the_level_above(server, generated, name):
    g = generated[name]
    group = zarr.open_group(url(server, g), mode="r", zarr_format=2)
    datasets = group.attrs["multiscales"][0]["datasets"]
    assert len(datasets) >= 2
    prev = group["0"][...]
    prev_scale = datasets[0]["coordinateTransformations"][0]["scale"]
    for i in range(1, len(datasets)):
        scale = datasets[i]["coordinateTransformations"][0]["scale"]
        factors = tuple(round(a / b) for a, b in zip(scale[2:], prev_scale[2:], strict=True))
        assert set(factors) <= {1, 2} and factors != (1, 1, 1)
        level = group[str(i)][...]
        for t in range(prev.shape[0]):
            for c in range(prev.shape[1]):
                expected = reference_mean(prev[t, c], factors)
                if np.issubdtype(prev.dtype, np.floating):
                    np.testing.assert_allclose(level[t, c], expected, rtol=1e-6)
                else:
                    np.testing.assert_array_equal(level[t, c], expected)
        prev, prev_scale = level, scale
    assert max(prev.shape[2:]) <= 64


def test_anisotropic_levels_halve_xy_first(server, generated):
    g = generated["slices"]  # 3 µm z, 0.5 µm y/x
    group = zarr.open_group(url(server, g), mode="r", zarr_format=2)
    scales = [d["coordinateTransformations"][0]["scale"][2:] for d in group.attrs["multiscales"][0]["datasets"]]
    assert scales[0] == [3.0, 0.5, 0.5]
    assert scales[1] == [3.0, 1.0, 1.0]
    assert scales[2] == [3.0, 2.0, 2.0]
    assert len(scales) == 3  # 37 x 26 x 34 voxels: the top level is reached before z needs halving


def test_translations_put_level_voxel_centres_right(server, generated):
    g = generated["big"]
    group = zarr.open_group(url(server, g), mode="r", zarr_format=2)
    for d in group.attrs["multiscales"][0]["datasets"]:
        scale, translation = (t[t["type"]] for t in d["coordinateTransformations"])
        for s, s0, tr in zip(scale[2:], [1.0, 1.0, 1.0], translation[2:], strict=True):
            assert tr == pytest.approx((s - s0) / 2)


def test_metadata_axes_channels_consolidated(server, generated):
    import httpx

    g = generated["tc"]
    zattrs = httpx.get(url(server, g) + "/.zattrs").json()
    ms = zattrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["t", "c", "z", "y", "x"]
    assert ms["axes"][2]["unit"] == "micrometer"
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"][2:] == [1.6, 0.8, 0.8]
    channels = zattrs["omero"]["channels"]
    assert [c["label"] for c in channels] == ["dapi", "gfp", "tdtomato"]
    assert all(len(c["color"]) == 6 for c in channels)
    assert all(c["window"]["min"] <= c["window"]["start"] < c["window"]["end"] <= c["window"]["max"]
               for c in channels)
    consolidated = httpx.get(url(server, g) + "/.zmetadata").json()["metadata"]
    assert consolidated[".zattrs"] == zattrs
    for i in range(len(ms["datasets"])):
        assert consolidated[f"{i}/.zarray"] == httpx.get(url(server, g) + f"/{i}/.zarray").json()
    zarray = consolidated["0/.zarray"]
    assert zarray["dimension_separator"] == "/"
    assert zarray["compressor"]["id"] == "blosc" and zarray["compressor"]["cname"] == "zstd"


def test_consolidated_open(server, generated):
    g = generated["big"]
    group = zarr.open_consolidated(url(server, g), mode="r", zarr_format=2)
    np.testing.assert_array_equal(group["1"][0, 0, :5, :5, :5], reference_mean(g.data[0, 0, :10, :10, :10], (2, 2, 2)))


def test_ome_zarr_py_reader(server, generated):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    g = generated["tc"]
    nodes = list(Reader(parse_url(url(server, g), mode="r"))())
    node = nodes[0]
    np.testing.assert_array_equal(np.asarray(node.data[0]), g.data)
    assert node.metadata["channel_names"] == ["dapi", "gfp", "tdtomato"]
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "c", "z", "y", "x"]


@pytest.mark.parametrize("name", NAMES)
def test_ome_zarr_models_validates(server, generated, name):
    from ome_zarr_models.v04 import Image

    g = generated[name]
    image = Image.from_zarr(zarr.open_group(url(server, g), mode="r", zarr_format=2))
    assert image.attributes.multiscales[0].datasets[0].path == "0"
