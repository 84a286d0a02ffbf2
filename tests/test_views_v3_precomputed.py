"""OME-Zarr 0.5 (zarr v3) and Neuroglancer precomputed views, read by tensorstore, zarr-python and validators."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
import tensorstore as ts
import tifffile
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from tests.conftest import _smooth
from tests.helpers import Server


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    data = {}
    data["u16"] = _smooth((45, 130, 150), np.uint16, 11)[None, None]  # odd sizes, edge chunks everywhere
    tifffile.imwrite(root / "u16.tif", data["u16"][0, 0], metadata={"axes": "ZYX"})
    tc = _smooth((2, 2, 20, 70, 80), np.uint8, 12)
    data["tc"] = tc
    tifffile.imwrite(root / "tc.ome.tif", tc, ome=True, metadata={"axes": "TCZYX"})
    z, y, x = np.mgrid[0:10, 0:70, 0:80]  # colour edges: 4:2:0 chroma would smear them (max error > 100)
    rgb = np.stack([x * 3, (x + y + z) * 2, np.where((x // 8 + y // 8) % 2, 200, 30)], -1).astype(np.uint8)
    data["rgb"] = np.moveaxis(rgb, -1, 0)[None]
    tifffile.imwrite(root / "rgb.tif", rgb, photometric="rgb", metadata={"axes": "ZYXS"})
    labels = (np.indices((30, 66, 70)).sum(axis=0) // 9).astype(np.uint32) * 1000 + 7
    data["labels"] = labels[None, None]
    tifffile.imwrite(root / "labels.tif", labels, metadata={"axes": "ZYX"})
    (root / "labels.tif.json").write_text(json.dumps({"kind": "labels", "title": "labels"}))
    f64 = _smooth((12, 40, 50), np.float64, 14)
    data["f64"] = f64[None, None]
    tifffile.imwrite(root / "f64.tif", f64, metadata={"axes": "ZYX"})
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(root, catalog)
    assert not report.refused, report.refused
    ids = {r.title.split(".")[0]: r.id for r in catalog.all()}
    catalog.close()
    srv = Server(db)
    yield srv, ids, data
    srv.stop()


def kv(srv, path: str) -> dict:
    return {"driver": "http", "base_url": srv.url, "path": path}


def v2_level(srv, dataset_id, level) -> np.ndarray:
    return zarr.open_array(f"{srv.url}/zarr/{dataset_id}.ome.zarr/{level}", mode="r", zarr_format=2)[...]


def n_levels(srv, dataset_id) -> int:
    return len(httpx.get(f"{srv.url}/zarr/{dataset_id}.ome.zarr/.zattrs").json()["multiscales"][0]["datasets"])


@pytest.mark.parametrize("name", ["u16", "tc", "rgb"])
def test_tensorstore_zarr_v2_v3_and_precomputed_agree_at_every_level(views, name):
    srv, ids, data = views
    dataset_id = ids[name]
    for level in range(n_levels(srv, dataset_id)):
        expected = v2_level(srv, dataset_id, level)
        if level == 0:
            np.testing.assert_array_equal(expected, data[name])
        v2 = ts.open({"driver": "zarr", "kvstore": kv(srv, f"/zarr/{dataset_id}.ome.zarr/{level}/")}).result()
        np.testing.assert_array_equal(v2.read().result(), expected)
        v3 = ts.open({"driver": "zarr3", "kvstore": kv(srv, f"/zarr3/{dataset_id}.ome.zarr/{level}/")}).result()
        np.testing.assert_array_equal(v3.read().result(), expected)
        for t in range(expected.shape[0]):
            base = f"/precomputed/{dataset_id}/" + (f"t/{t}/" if t else "")
            spec = {"driver": "neuroglancer_precomputed", "kvstore": kv(srv, base), "scale_index": level}
            pc = ts.open(spec).result()
            np.testing.assert_array_equal(pc.read().result(), expected[t].transpose(3, 2, 1, 0))  # xyzc


def test_zarr_v3_metadata_validates_and_opens(views):
    from ome_zarr_models.v05 import Image

    srv, ids, data = views
    url = f"{srv.url}/zarr3/{ids['tc']}.ome.zarr"
    group = zarr.open_group(url, mode="r", zarr_format=3)
    Image.from_zarr(group)
    np.testing.assert_array_equal(group["0"][...], data["tc"])
    assert zarr.open(url + "/0", mode="r")[1, 1, 3, 4, 5] == data["tc"][1, 1, 3, 4, 5]
    root = httpx.get(url + "/zarr.json").json()
    assert root["attributes"]["ome"]["version"] == "0.5"
    assert root["attributes"]["omero"]["channels"]  # where neuroglancer reads colours
    assert set(root["consolidated_metadata"]["metadata"]) == {str(i) for i in range(n_levels(srv, ids["tc"]))}
    array = httpx.get(url + "/0/zarr.json").json()
    assert array["dimension_names"] == ["t", "c", "z", "y", "x"]
    assert array["chunk_key_encoding"]["name"] == "default"
    assert [c["name"] for c in array["codecs"]] == ["bytes", "blosc"]


def test_zarr3_zstd_frames_carry_content_size(tmp_path, views):
    """With --compressor zstd, each chunk is a zstd frame whose header states the decoded size."""
    srv, ids, data = views
    other = Server(srv_catalog(srv), "--compressor", "zstd")
    try:
        url = f"{other.url}/zarr3/{ids['u16']}.ome.zarr"
        assert httpx.get(url + "/0/zarr.json").json()["codecs"][1]["name"] == "zstd"
        body = httpx.get(url + "/0/c/0/0/0/0/0").content
        assert body[:4] == b"\x28\xb5\x2f\xfd"
        assert body[4] & 0xC0  # Frame_Content_Size_flag set
        ts_arr = ts.open({"driver": "zarr3", "kvstore": kv(other, f"/zarr3/{ids['u16']}.ome.zarr/0/")}).result()
        np.testing.assert_array_equal(ts_arr.read().result(), data["u16"])
    finally:
        other.stop()


def srv_catalog(srv):
    return next(arg for arg in srv.proc.args if str(arg).endswith(".sqlite"))


def test_precomputed_info(views):
    srv, ids, _ = views
    info = httpx.get(f"{srv.url}/precomputed/{ids['u16']}/info").json()
    assert info["@type"] == "neuroglancer_multiscale_volume" and info["type"] == "image"
    assert info["data_type"] == "uint16" and info["num_channels"] == 1
    s0 = info["scales"][0]
    assert s0["size"] == [150, 130, 45] and s0["voxel_offset"] == [0, 0, 0] and s0["encoding"] == "raw"
    assert s0["resolution"] == [1000.0, 1000.0, 1000.0]
    assert info["scales"][1]["resolution"] == [2000.0, 2000.0, 2000.0]


def test_raw_edge_chunks_are_truncated_with_exact_layout(views):
    srv, ids, data = views
    vol = data["tc"][1]  # t=1: (c, z, y, x)
    info = httpx.get(f"{srv.url}/precomputed/{ids['tc']}/t/1/info").json()
    cx, cy, cz = info["scales"][0]["chunk_sizes"][0]
    x0, y0, z0 = cx * (79 // cx), cy * (69 // cy), 0  # the last chunk in x and y
    x1, y1, z1 = 80, 70, min(cz, 20)
    r = httpx.get(f"{srv.url}/precomputed/{ids['tc']}/t/1/0/{x0}-{x1}_{y0}-{y1}_{z0}-{z1}")
    assert r.status_code == 200
    assert len(r.content) == (x1 - x0) * (y1 - y0) * (z1 - z0) * 2 * 1
    got = np.frombuffer(r.content, np.uint8).reshape(2, z1 - z0, y1 - y0, x1 - x0)  # x fastest, c slowest
    np.testing.assert_array_equal(got, vol[:, z0:z1, y0:y1, x0:x1])


def test_raw_is_gzipped_when_asked(views):
    srv, ids, data = views
    url = f"{srv.url}/precomputed/{ids['u16']}/0/0-64_0-64_0-45"
    r = httpx.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.content) == 64 * 64 * 45 * 2  # httpx undoes the encoding
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == r.content


@pytest.mark.parametrize("name", ["u16", "rgb"])
def test_jpeg_view(views, name):
    srv, ids, data = views
    info = httpx.get(f"{srv.url}/precomputed/{ids[name]}/jpeg/info")
    if name == "u16":
        assert info.status_code == 404 and "uint8" in info.json()["reason"]
        return
    assert info.json()["scales"][0]["encoding"] == "jpeg"
    pc = ts.open({"driver": "neuroglancer_precomputed", "kvstore": kv(srv, f"/precomputed/{ids[name]}/jpeg/"),
                  "scale_index": 0}).result()
    got = pc.read().result().astype(int)
    expected = data[name][0].transpose(3, 2, 1, 0).astype(int)
    assert np.abs(got - expected).mean() < 2 and np.abs(got - expected).max() < 40


def test_labels_compressed_segmentation(views):
    srv, ids, data = views
    info = httpx.get(f"{srv.url}/precomputed/{ids['labels']}/info").json()
    assert info["type"] == "segmentation" and info["data_type"] == "uint32"
    assert info["scales"][0]["encoding"] == "compressed_segmentation"
    assert info["scales"][0]["compressed_segmentation_block_size"] == [8, 8, 8]
    for level in range(len(info["scales"])):
        pc = ts.open({"driver": "neuroglancer_precomputed", "kvstore": kv(srv, f"/precomputed/{ids['labels']}/"),
                      "scale_index": level}).result()
        expected = v2_level(srv, ids["labels"], level)[0, 0].transpose(2, 1, 0)
        np.testing.assert_array_equal(pc.read().result()[..., 0], expected)
        if level == 0:
            np.testing.assert_array_equal(expected, data["labels"][0, 0].transpose(2, 1, 0))
        else:  # mode downsampling never invents a label
            assert set(np.unique(expected)) <= set(np.unique(data["labels"]))
    zattrs = httpx.get(f"{srv.url}/zarr/{ids['labels']}.ome.zarr/.zattrs").json()
    assert zattrs["multiscales"][0]["type"] == "mode"


def test_float64_is_served_as_float32_in_precomputed(views):
    srv, ids, data = views
    info = httpx.get(f"{srv.url}/precomputed/{ids['f64']}/info").json()
    assert info["data_type"] == "float32"
    pc = ts.open({"driver": "neuroglancer_precomputed", "kvstore": kv(srv, f"/precomputed/{ids['f64']}/"),
                  "scale_index": 0}).result()
    np.testing.assert_allclose(pc.read().result()[..., 0], data["f64"][0, 0].T.astype(np.float32))
    assert v2_level(srv, ids["f64"], 0).dtype == np.float64  # zarr keeps the source type


@pytest.mark.parametrize("path,status", [
    ("0/0-64_0-64_0-44", 400),  # not the chunk's true end
    ("0/1-65_0-64_0-45", 400),  # not aligned
    ("0/0-64_0-64", 400),
    ("0/00-64_0-64_0-45", 400),
    ("0/192-200_0-64_0-45", 404),  # outside the volume
    ("9/0-64_0-64_0-45", 404),
    ("01/0-64_0-64_0-45", 400),
    ("t/5/info", 404),
    ("t/x/info", 400),
    ("png/info", 400),
    ("provenance", 404),
])
def test_precomputed_bad_keys(views, path, status):
    srv, ids, _ = views
    r = httpx.get(f"{srv.url}/precomputed/{ids['u16']}/{path}")
    assert r.status_code == status, r.text
    assert r.json()["reason"]


@pytest.mark.parametrize("key,status", [
    ("0/c/0/0/0/0/9", 404), ("0/c/0/0/0/0", 400), ("0/0/0/0/0/0", 400), (".zattrs", 404), ("0/.zarray", 404),
    ("7/zarr.json", 404), ("0/c/0/0/00/0/0", 400),
])
def test_zarr3_bad_keys(views, key, status):
    srv, ids, _ = views
    assert httpx.get(f"{srv.url}/zarr3/{ids['u16']}.ome.zarr/{key}").status_code == status
