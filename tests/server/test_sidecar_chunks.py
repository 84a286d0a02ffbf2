"""A dataset's sidecar ``chunks`` ("auto" or [z, y, x]) is stored in its record and chosen over the
server's --chunks for that dataset only, serving the same voxels; a malformed one refuses the dataset.
``--meta chunks=1,512,512`` says the same on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.sidecar import SidecarError, parse_options
from catalog.store import Catalog
from tests.helpers import in_process
from tests.server.test_cutout import zarr_level


def _stack(folder, chunks, seed):
    vol = np.random.default_rng(seed).integers(0, 60000, (6, 40, 50), dtype=np.uint16)
    folder.mkdir(parents=True)
    for z, plane in enumerate(vol):
        tifffile.imwrite(folder / f"s{z}.tif", plane)
    if chunks is not None:
        (folder / "dataset.json").write_text(json.dumps({"title": folder.name, "chunks": chunks}))
    return vol


def test_sidecar_chunks_override_the_server_setting_per_dataset(tmp_path):
    data = tmp_path / "data"
    vols = {name: _stack(data / name, chunks, seed)
            for seed, (name, chunks) in enumerate([("fixed", [2, 16, 32]), ("auto", "auto"), ("plain", None),
                                                   ("bad", [0, 16, 16])])}
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(data, catalog)
    assert [name for name, _ in report.refused] == ["bad"] and "chunks" in report.refused[0][1]
    records = {r.title: r for r in catalog.all()}
    assert {t: r.chunks for t, r in records.items()} == {"fixed": [2, 16, 32], "auto": "auto", "plain": ""}
    with in_process(db, cache_mb=16, chunks="4,32,32") as client:
        expected = {"fixed": [1, 1, 2, 16, 32], "auto": [1, 1, 1, 40, 50], "plain": [1, 1, 4, 32, 32]}
        for title, chunks in expected.items():
            ds = records[title].id
            assert client.get(f"/zarr/{ds}.ome.zarr/0/.zarray").json()["chunks"] == chunks, title
            np.testing.assert_array_equal(zarr_level(client, ds, 0)[0, 0], vols[title])
        info = client.get(f"/precomputed/{records['fixed'].id}/info").json()
        assert info["scales"][0]["chunk_sizes"] == [[32, 16, 2]]
    catalog.close()


def test_meta_option_spells_chunks_as_on_the_command_line():
    assert parse_options(["chunks=auto"]) == {"chunks": "auto"}
    assert parse_options(["chunks=1,512,512"]) == parse_options(["chunks=1x512x512"]) == {"chunks": [1, 512, 512]}
    for bad in ("chunks=1.5,2,2", "chunks=0,1,1", "chunks=Auto", "chunks=64", "chunks=1,2,3,4"):
        with pytest.raises(SidecarError, match="chunks"):
            parse_options([bad])
