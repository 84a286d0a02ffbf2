"""A sidecar voxel size on a large JPEG2000 stack keeps the stack's read cost, so its overview stays sampled.

Regression: the override used to wrap each level in a decorator that forwarded reads but not
``read_cost``, so the cost fell back to the voxel bytes and a multi-TB stack got the *exact* overview
(a read of every slice). The stack here is made large cheaply: one slice hard-linked many times, and
a 1 MiB ``--exact-limit-mb`` that its files exceed while the voxels of its coarsest native level do not.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from readers.jpeg2000 import backend
from readers.registry import open_volume
from tests.require import module, skip_without
from transformer.engine.datasets import apply_overrides
from transformer.testing import Server

glymur = module("glymur")
pytestmark = skip_without("openjpeg", backend.openjpeg_loaded(), "wavelet levels need glymur's libopenjp2")

SLICES = 200
LIMIT_MB = 1
SIDECAR_VOXEL = [4.0, 0.5, 0.5]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(folder, catalog path, r=1 reduction of the slice): 200 links to one 128x128 noise slice."""
    root = tmp_path_factory.mktemp("jp2_override")
    folder = root / "stack"
    folder.mkdir()
    plane = np.random.default_rng(0).integers(0, 256, (128, 128), dtype=np.uint8)  # noise: no compression
    first = folder / "z0000.jp2"
    glymur.Jp2k(first, data=plane, numres=3)
    for z in range(1, SLICES):
        os.link(first, folder / f"z{z:04d}.jp2")
    (folder / "dataset.json").write_text(json.dumps({"title": "linked stack", "voxel_size": SIDECAR_VOXEL}))
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    scan(folder, catalog)
    catalog.close()
    return folder, db, glymur.Jp2k(first)[::2, ::2]


def test_the_stack_is_large_by_its_files_not_by_its_coarsest_voxels(stack):
    folder, _, _ = stack
    with open_volume(folder, "jpeg2000")[1] as vol:
        coarsest = vol.levels[-1]
        assert coarsest.shape[2:] == (SLICES, 64, 64)
        assert coarsest.geometry.voxel_bytes <= LIMIT_MB << 20 < coarsest.read_cost()
        assert coarsest.read_cost() == SLICES * (folder / "z0000.jp2").stat().st_size


def test_a_sidecar_voxel_size_rewrites_geometry_and_keeps_read_cost(stack):
    folder, db, _ = stack
    catalog = Catalog(db)
    (record,) = catalog.all()
    catalog.close()
    with open_volume(folder, "jpeg2000")[1] as native, apply_overrides(open_volume(folder, "jpeg2000")[1],
                                                                        record) as scaled:
        assert scaled.voxel_size == tuple(SIDECAR_VOXEL)
        for before, after in zip(native.levels, scaled.levels, strict=True):
            assert after.read_cost() == before.read_cost()
            assert after.origin == before.origin == (0.0, 0.0, 0.0)
            assert after.voxel_size == pytest.approx(tuple(v * s / n for v, s, n in
                                                           zip(before.voxel_size, SIDECAR_VOXEL, native.voxel_size,
                                                               strict=True)))


def test_the_served_overview_is_sampled_and_equals_every_nth_voxel(stack):
    _, db, reduced = stack
    srv = Server(db, "--exact-limit-mb", str(LIMIT_MB))
    try:
        catalog = Catalog(db)
        (record,) = catalog.all()
        catalog.close()
        group = zarr.open_group(f"{srv.url}/zarr/{record.id}.ome.zarr", mode="r", zarr_format=2)
        multiscale = group.attrs["multiscales"][0]
        assert multiscale["type"] == "wavelet+nearest"  # sampled past the native levels, not averaged
        scales = [d["coordinateTransformations"][0]["scale"][2:] for d in multiscale["datasets"]]
        assert scales[0] == SIDECAR_VOXEL
        top = len(scales) - 1
        stride = [round(a / b) for a, b in zip(scales[top], scales[1], strict=True)]
        got = group[str(top)][0, 0]
        expected = np.broadcast_to(reduced, (SLICES, 64, 64))[:: stride[0], :: stride[1], :: stride[2]]
        np.testing.assert_array_equal(got, expected)
    finally:
        srv.stop()
