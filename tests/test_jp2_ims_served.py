"""JPEG2000 and Imaris sources served as OME-Zarr: voxels equal the reference decoders at every level."""

from __future__ import annotations

import warnings
from pathlib import Path

import glymur
import httpx
import numpy as np
import pytest
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server, real_data, reference_mean
from tests.readers.test_imaris import h5_reference, sample_data
from tests.require import unavailable
from transformer.demo.imaris_writer import write_ims

REAL = real_data()


def glymur_read(path, r: int = 0) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        j = glymur.Jp2k(path)
        return j.read_bands(rlevel=r) if r else j[:]


def as_tczyx(planes: list[np.ndarray]) -> np.ndarray:
    stack = np.stack([p if p.ndim == 3 else p[..., None] for p in planes])  # z, y, x, c
    return stack.transpose(3, 0, 1, 2)[None]


def zarr_level(srv, dataset_id: str, level: int) -> np.ndarray:
    return zarr.open_array(f"{srv.url}/zarr/{dataset_id}.ome.zarr/{level}", mode="r", zarr_format=2)[...]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("jp2ims")
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:301, 0:457]
    planes = [(20000 + 15000 * np.sin(xx / 23.0 + z) * np.cos(yy / 17.0) + rng.integers(0, 200, (301, 457)))
              .astype(np.uint16) for z in range(7)]
    folder = root / "stack"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z, plane in enumerate(planes):
            glymur.Jp2k(folder / f"s{z}.jp2", data=plane, tilesize=(128, 128), numres=4)
    data = sample_data(shape=(2, 2, 21, 150, 170))
    write_ims(root / "gen.ims", data, (2.5, 0.6, 0.6), levels=2, chunks=(8, 32, 32), channel_names=["a", "b"])
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(root, catalog)
    assert not report.refused, report.refused
    ids = {r.format: r.id for r in catalog.all()}
    catalog.close()
    srv = Server(db)
    yield srv, ids, {"jpeg2000": (folder, as_tczyx(planes)), "imaris": (root / "gen.ims", data)}
    srv.stop()


def test_generated_jp2_stack_every_native_level_is_the_wavelet_reduction(generated):
    srv, ids, sources = generated
    folder, expected = sources["jpeg2000"]
    np.testing.assert_array_equal(zarr_level(srv, ids["jpeg2000"], 0), expected)
    zattrs = httpx.get(f"{srv.url}/zarr/{ids['jpeg2000']}.ome.zarr/.zattrs").json()["multiscales"][0]
    assert zattrs["type"] == "wavelet" and "wavelet" in zattrs["metadata"]["description"]
    files = sorted(folder.iterdir(), key=lambda p: int(p.stem[1:]))
    for r in (1, 2):
        level = zarr_level(srv, ids["jpeg2000"], r)
        reference = as_tczyx([glymur_read(f, r) for f in files])
        np.testing.assert_array_equal(level, reference)
        # the LL band sits on pixel k*2^r: translation 0, unlike a block mean's half voxel
        assert zattrs["datasets"][r]["coordinateTransformations"][1]["translation"] == [0.0] * 5
        # and approximates the block mean of level 0. Stated tolerance: 4 % of the dynamic range on
        # this content (sinusoids of ~100 px period), most of it the LL band's (2^r - 1)/2 px phase shift.
        mean = reference_mean(expected[0, 0], (1, 2**r, 2**r)).astype(float)
        assert np.abs(level[0, 0].astype(float) - mean).mean() / float(np.ptp(expected)) < 0.04


def test_generated_ims_levels_and_completed_pyramid(generated):
    srv, ids, sources = generated
    path, data = sources["imaris"]
    np.testing.assert_array_equal(zarr_level(srv, ids["imaris"], 0), data)
    np.testing.assert_array_equal(zarr_level(srv, ids["imaris"], 1), h5_reference(path, 1))
    zattrs = httpx.get(f"{srv.url}/zarr/{ids['imaris']}.ome.zarr/.zattrs").json()
    datasets = zattrs["multiscales"][0]["datasets"]
    assert datasets[0]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 2.5, 0.6, 0.6]
    assert [c["label"] for c in zattrs["omero"]["channels"]] == ["a", "b"]
    # past the file's 2 native levels the service completes the pyramid from the coarsest one
    assert len(datasets) > 2
    prev = zarr_level(srv, ids["imaris"], 1)
    for i in range(2, len(datasets)):
        scale = datasets[i]["coordinateTransformations"][0]["scale"][2:]
        prev_scale = datasets[i - 1]["coordinateTransformations"][0]["scale"][2:]
        factors = tuple(round(a / b) for a, b in zip(scale, prev_scale, strict=True))
        level = zarr_level(srv, ids["imaris"], i)
        for t in range(2):
            for c in range(2):
                np.testing.assert_array_equal(level[t, c], reference_mean(prev[t, c], factors))
        prev = level


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if REAL is None:
        unavailable("shared", "../shared/data/real is not present")
    db = tmp_path_factory.mktemp("realjp2ims") / "catalog.sqlite"
    catalog = Catalog(db)
    reports = {kind: scan(REAL / kind, catalog) for kind in ("jp2", "ims")}
    sources = {r.source: r.id for r in catalog.all()}
    catalog.close()
    srv = Server(db)
    yield srv, sources, reports
    srv.stop()


def real_files(kind: str, pattern: str) -> list:
    if REAL is None:  # one placeholder, so the `real` fixture reports the missing data (an empty set would not)
        return [Path("<real data missing>")]
    return sorted(p for p in (REAL / kind).rglob(pattern) if "bad" not in p.parts)


@pytest.mark.parametrize("path", real_files("jp2", "*.j*"), ids=lambda p: p.name)
def test_real_jp2_served_equals_glymur(real, path):
    srv, sources, _ = real
    dataset_id = sources[str(path.resolve())]
    expected = as_tczyx([glymur_read(path)])
    got = zarr_level(srv, dataset_id, 0)
    if "irreversible" in httpx.get(f"{srv.url}/api/datasets/{dataset_id}").text:
        np.testing.assert_allclose(got.astype(int), expected.astype(int), atol=1)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("path", real_files("ims", "*.ims"), ids=lambda p: p.parent.name + "/" + p.name)
def test_real_ims_served_equals_h5py(real, path):
    srv, sources, _ = real
    dataset_id = sources[str(path.resolve())]
    np.testing.assert_array_equal(zarr_level(srv, dataset_id, 0), h5_reference(path, 0))


def test_real_bad_files_refused_and_others_keep_serving(real):
    srv, sources, reports = real
    refused = {name for report in reports.values() for name, _ in report.refused}
    suffixes = (".jp2", ".j2k", ".ims")
    bad = [p for kind in ("jp2", "ims") for p in (REAL / kind / "bad").rglob("*") if p.suffix in suffixes]
    assert bad
    for path in bad:
        assert str(path.resolve()) not in sources
        assert any(name.endswith(path.name) for name in refused), path.name
    for report in reports.values():
        for _, reason in report.refused:
            assert str(REAL) not in reason
    assert httpx.get(srv.url + "/healthz").json()["datasets"] == len(sources)
