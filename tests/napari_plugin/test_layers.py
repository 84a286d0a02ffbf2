"""The plugin's layer data from the client, without napari: URLs, lazy multiscale arrays whose blocks are the
service's chunks, each channel's level 0 equal to the source, the zarr view's scale and translation."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.napari_plugin.sources import OME_TIFF, demo_sources
from transformer.client import ClientError, open_dataset, parse_dataset_url
from transformer.napari_plugin.layers import image_layers


@pytest.mark.parametrize(("url", "expected"), [
    ("http://h:8000/datasets/ace-cot-new", ("http://h:8000", "ace-cot-new", None)),
    ("http://h:8000/api/datasets/ace-cot-new", ("http://h:8000", "ace-cot-new", None)),
    ("https://h/api/datasets/ace-cot-new/cutout?level=1", ("https://h", "ace-cot-new", None)),
    ("http://h/zarr/ace-cot-new.ome.zarr", ("http://h", "ace-cot-new", None)),
    ("http://h/zarr3/ace-cot-new@0123abcd.ome.zarr/0/zarr.json", ("http://h", "ace-cot-new", None)),
    ("http://h/precomputed/ace-cot-new/info", ("http://h", "ace-cot-new", None)),
    ("http://h/brains/t/tok_123/datasets/ace-cot-new", ("http://h/brains", "ace-cot-new", "tok_123")),
    ("http://h/t/tok_123/zarr/ace-cot-new.ome.zarr/", ("http://h", "ace-cot-new", "tok_123")),
])
def test_every_url_the_service_gives_names_its_dataset(url, expected):
    assert parse_dataset_url(url) == expected


@pytest.mark.parametrize("url", ["http://h/", "http://h/api/datasets", "http://h/static/x.css", "/tmp/a.tif",
                                 "http://h/datasets/"])
def test_other_urls_are_not_dataset_urls(url):
    with pytest.raises(ValueError, match="is not a dataset URL"):
        parse_dataset_url(url)


@pytest.mark.slow  # writes the demo (≈ 10 s) and starts a server
def test_each_channels_level0_equals_the_source_and_blocks_are_chunks(archive):
    sources = demo_sources(archive.demo)
    for title, channels in sources.items():
        ds = open_dataset(f"{archive.url}/datasets/{archive.ids[title]}")
        layers = image_layers(ds)
        assert [kwargs["name"] for _, kwargs, _ in layers] == [f"{title}: {c['name']}" for c in ds.record["channels"]]
        for (data, kwargs, kind), source in zip(layers, channels, strict=True):
            assert kind == "image" and kwargs["multiscale"] and len(data) == len(ds.levels)
            for array, level in zip(data, ds.levels, strict=True):
                assert array.shape == level.shape[2:]
                assert array.chunks == level.chunks[2:]  # one request, one served chunk
            np.testing.assert_array_equal(np.asarray(data[0]), source)
            assert kwargs["scale"] == pytest.approx(ds.record["voxel_size"])


@pytest.mark.slow
def test_name_colour_window_and_frame_come_from_the_record_and_the_zarr_view(archive):
    dataset_id = archive.ids[OME_TIFF]
    ds = open_dataset(f"{archive.url}/zarr/{dataset_id}.ome.zarr")
    layers = image_layers(ds)
    assert [(k["colormap"], k["contrast_limits"]) for _, k, _ in layers] == [
        ("#" + c["color"].lower(), c["window"]) for c in ds.record["channels"]]
    assert [k["colormap"] for _, k, _ in layers] == ["#ff0000", "#00ff00"]  # the demo's red and green
    zattrs = httpx.get(f"{archive.url}/zarr/{dataset_id}.ome.zarr/.zattrs").raise_for_status().json()
    declared = zattrs["multiscales"][0]["datasets"]
    for level, spec in zip(ds.levels, declared, strict=True):
        scale, translation = (t[t["type"]] for t in spec["coordinateTransformations"])
        assert level.voxel_size == pytest.approx(scale[2:])
        assert level.translation == pytest.approx(translation[2:])
    assert layers[0][1]["translate"] == pytest.approx(declared[0]["coordinateTransformations"][1]["translation"][2:])


@pytest.mark.slow
def test_an_embargoed_dataset_opens_with_a_token_in_the_url_or_header_and_not_without(archive):
    dataset_id = archive.ids["Embargoed cortex"]
    for ds in (open_dataset(f"{archive.url}/t/{archive.token}/datasets/{dataset_id}"),
               open_dataset(f"{archive.url}/datasets/{dataset_id}", token=archive.token)):
        (data, _, _), = image_layers(ds)
        np.testing.assert_array_equal(np.asarray(data[0]), archive.embargoed)
    (data, _, _), = image_layers(open_dataset(f"{archive.url}/datasets/{dataset_id}"))  # the record is public
    with pytest.raises(ClientError) as refused:
        np.asarray(data[0][0, :8, :8])
    assert refused.value.status == 401


def test_time_points_become_the_first_axis_of_each_channels_layer(server, generated):
    g = generated["tc"]  # two time points, three named channels
    ds = open_dataset(f"{server.url}/datasets/{g.dataset_id}")
    layers = image_layers(ds)
    assert [kwargs["name"] for _, kwargs, _ in layers] == [f"Cortex time series: {n}" for n in ("dapi", "gfp",
                                                                                                 "tdtomato")]
    for c, (data, kwargs, _) in enumerate(layers):
        assert kwargs["scale"] == pytest.approx((1.0, *g.voxel)) and len(kwargs["translate"]) == 4
        assert all(array.ndim == 4 and array.chunks[0] == 1 for array in data)
        np.testing.assert_array_equal(np.asarray(data[0]), g.data[:, c])
        np.testing.assert_array_equal(np.asarray(data[0][1, 3:9, 10:50, 20:80]), g.data[1, c, 3:9, 10:50, 20:80])
