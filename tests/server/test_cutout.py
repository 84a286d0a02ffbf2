"""Cutouts in process: every format, decoded by its reference library, equals the zarr view of the level
(assembled here from the view's own chunks, decoded with numcodecs) for random, non-aligned and edge boxes
at several levels; 400/404/413 answers; the file name."""

from __future__ import annotations

import io
import json
import math
import re
from itertools import product

import h5py
import numcodecs
import numpy as np
import pytest
import tifffile

from tests.helpers import in_process

AXES = "tczyx"


def zarr_level(client, dataset_id: str, level: int) -> np.ndarray:
    """The whole level as the zarr v2 view serves it (every chunk fetched and decoded)."""
    base = f"/zarr/{dataset_id}.ome.zarr/{level}"
    meta = client.get(f"{base}/.zarray").json()
    codec = numcodecs.get_codec(meta["compressor"]) if meta["compressor"] else None
    shape, chunks, dtype = meta["shape"], meta["chunks"], np.dtype(meta["dtype"])
    out = np.empty(shape, dtype)
    for index in product(*(range(math.ceil(s / c)) for s, c in zip(shape, chunks, strict=True))):
        r = client.get(f"{base}/" + "/".join(map(str, index)))
        assert r.status_code == 200
        raw = codec.decode(r.content) if codec else r.content
        block = np.frombuffer(raw, dtype).reshape(chunks)
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape, strict=True))
        out[region] = block[tuple(slice(0, r.stop - r.start) for r in region)]
    return out


def query(box: dict[str, tuple[int, int]], **extra) -> str:
    parts = [f"{a}={lo}:{hi}" for a, (lo, hi) in box.items()] + [f"{k}={v}" for k, v in extra.items()]
    return "&".join(parts)


def decode(fmt: str, content: bytes) -> np.ndarray:
    if fmt == "npy":
        return np.load(io.BytesIO(content))
    if fmt == "tiff":
        with tifffile.TiffFile(io.BytesIO(content)) as tif:
            assert tif.is_ome
            return tif.series[0].asarray()
    with h5py.File(io.BytesIO(content), "r") as f:
        return f["data"][...]


def random_boxes(shape, rng, n=3):
    for _ in range(n):
        box = {}
        for a, size in zip(AXES, shape, strict=True):
            lo = int(rng.integers(0, size))
            box[a] = (lo, int(rng.integers(lo + 1, size + 1)))
        yield box


@pytest.mark.parametrize("name", ["big", "tc"])
def test_every_format_equals_the_zarr_view_at_several_levels(client, generated, name):
    ds_id = generated[name].dataset_id
    levels = client.get(f"/api/datasets/{ds_id}").json()["levels"]
    rng = np.random.default_rng(13)
    for level in (0, 1, len(levels) - 1):
        ref = zarr_level(client, ds_id, level)
        shape = ref.shape
        edge = {a: (max(0, n - 5), n) for a, n in zip(AXES, shape, strict=True)}  # the far corner
        for box in [*random_boxes(shape, rng), edge]:
            expected = ref[tuple(slice(*box[a]) for a in AXES)]
            for fmt in ("npy", "tiff", "h5"):
                r = client.get(f"/api/datasets/{ds_id}/cutout?" + query(box, level=level, format=fmt))
                assert r.status_code == 200, r.text
                got = decode(fmt, r.content)
                if fmt == "tiff":  # tifffile squeezes length-1 axes of an OME series
                    got = got.reshape(expected.shape)
                assert got.dtype == expected.dtype and got.shape == expected.shape
                np.testing.assert_array_equal(got, expected)


def test_level_zero_equals_the_source_and_omitted_ranges_are_everything(client, generated):
    g = generated["tc"]
    r = client.get(f"/api/datasets/{g.dataset_id}/cutout")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), g.data)
    assert r.headers["content-length"] == str(len(r.content))  # a .npy's size is known before it is read
    r = client.get(f"/api/datasets/{g.dataset_id}/cutout?t=1&c=2&z=3:4")
    np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), g.data[1:2, 2:3, 3:4])


def test_the_record_links_to_its_cutout(client, generated):
    g = generated["tc"]
    link = client.get(f"/api/datasets/{g.dataset_id}").json()["links"]["cutout"]
    assert link == f"http://testserver/api/datasets/{g.dataset_id}/cutout"
    r = client.get(f"{link}?t=0&c=1&y=5:9")
    assert r.status_code == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), g.data[0:1, 1:2, :, 5:9])


def test_ome_tiff_and_hdf5_carry_voxel_size_and_channel_names(client, generated):
    g = generated["tc"]
    r = client.get(f"/api/datasets/{g.dataset_id}/cutout?c=1:3&z=2:9&y=5:40&x=7:66&format=tiff")
    with tifffile.TiffFile(io.BytesIO(r.content)) as tif:
        ome = tif.ome_metadata
    assert 'PhysicalSizeX="0.8"' in ome and 'PhysicalSizeZ="1.6"' in ome
    assert re.findall(r'<Channel [^>]*Name="(\w+)"', ome) == ["gfp", "tdtomato"]
    r = client.get(f"/api/datasets/{g.dataset_id}/cutout?level=1&c=0&z=2:9&format=h5")
    assert r.headers["content-type"] == "application/x-hdf5"
    levels = client.get(f"/api/datasets/{g.dataset_id}").json()["levels"]
    with h5py.File(io.BytesIO(r.content), "r") as f:
        attrs = dict(f["data"].attrs)
    np.testing.assert_allclose(attrs["element_size_um"], levels[1]["voxel_size"])
    assert list(attrs["channel_names"]) == ["dapi"] and attrs["level"] == 1
    assert attrs["box"].tolist()[2] == [2, 9]


def test_content_disposition_names_the_box(client, generated):
    ds_id = generated["big"].dataset_id
    r = client.get(f"/api/datasets/{ds_id}/cutout?level=1&z=3:9&y=0:17&x=5:6&format=tiff")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="{ds_id}_level1_t0-1_c0-1_z3-9_y0-17_x5-6.ome.tif"')
    r = client.get(f"/api/datasets/{ds_id}/cutout?z=3:9&format=h5")
    assert r.headers["content-disposition"].endswith('_z3-9_y0-300_x0-261.h5"')


@pytest.mark.parametrize(("params", "status", "code", "words"), [
    ("z=5:2", 400, "malformed_key", "empty"),
    ("z=a:b", 400, "malformed_key", "range"),
    ("z=1:2:3", 400, "malformed_key", "range"),
    ("x=-4:2", 400, "malformed_key", "negative"),
    ("level=x", 400, "bad_request", "integer"),
    ("format=png", 400, "bad_request", "npy"),
    ("z=70:80", 404, "not_found", "outside the volume"),
    ("c=1", 404, "not_found", "outside the volume"),
    ("level=99", 404, "not_found", "no level 99"),
])
def test_bad_boxes_answer_with_a_reason(client, generated, params, status, code, words):
    r = client.get(f"/api/datasets/{generated['big'].dataset_id}/cutout?{params}")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and words in body["reason"]


def test_unknown_dataset_is_404(client):
    r = client.get("/api/datasets/no-such-thing/cutout")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_too_large_is_413_pointing_to_export(generated):
    g = generated["big"]
    with in_process(generated["_catalog"], cache_mb=64, cutout_max_mb=1) as client:
        r = client.get(f"/api/datasets/{g.dataset_id}/cutout?z=0:10")  # 10 × 300 × 261 × 2 B ≈ 1.5 MiB
        assert r.status_code == 413
        body = json.loads(r.content)
        assert body["error"] == "too_large" and f"transformer export {g.dataset_id}" in body["reason"]
        ok = client.get(f"/api/datasets/{g.dataset_id}/cutout?z=0:6")  # ≈ 0.9 MiB
        assert ok.status_code == 200
        np.testing.assert_array_equal(np.load(io.BytesIO(ok.content)), g.data[:, :, 0:6])


def test_planes_over_the_slab_budget_stream_in_bands(client, generated, monkeypatch):
    from writers import cutout

    monkeypatch.setattr(cutout, "SLAB_BYTES", 1000)  # a few rows: every format cuts planes into bands
    monkeypatch.setattr(cutout, "TIFF_TILE", 16)
    ds_id = generated["big"].dataset_id
    ref = zarr_level(client, ds_id, 1)
    box = {"t": (0, 1), "c": (0, 1), "z": (3, 11), "y": (7, 120), "x": (2, 101)}
    expected = ref[tuple(slice(*box[a]) for a in AXES)]
    for fmt in ("npy", "tiff", "h5"):
        r = client.get(f"/api/datasets/{ds_id}/cutout?" + query(box, level=1, format=fmt))
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(decode(fmt, r.content).reshape(expected.shape), expected)
