"""Neurons and cells read over HTTP from a real server by independent clients (issue 19): cloud-volume's
skeletons, neuroglancer's AnnotationReader (tensorstore) and cloud-volume's annotations over the multilevel
spatial index (every row exactly once, positions and properties equal), and transformer.client."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server
from transformer.client import open_dataset

VOXEL = (2.0, 1.0, 1.0)
N_CELLS = 25_000  # more than one spatial cell's limit (10,000): the index has several levels
SWC = "# straight\n1 1 10 20 8 3 -1\n2 3 30 20 8 1 1\n3 3 50 20 8 1 2\n4 2 10 40 8 1 1\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("objects_clients")
    root = tmp / "root"
    (root / "swc").mkdir(parents=True)
    tifffile.imwrite(root / "brain.ome.tif", np.zeros((8, 64, 64), np.uint8), ome=True, metadata={"axes": "ZYX"})
    (root / "swc" / "a.swc").write_text(SWC)
    rng = np.random.default_rng(1)
    xyz = np.round(rng.uniform(0, 60, size=(N_CELLS, 3)), 3)
    volume = np.round(rng.uniform(1, 100, N_CELLS), 2)
    rows = [f"{x},{y},{z},{v},{i % 5}" for i, ((x, y, z), v) in enumerate(zip(xyz, volume, strict=True))]
    (root / "cells.csv").write_text("x,y,z,volume,kind\n" + "\n".join(rows) + "\n")
    sidecar = {"voxel_size": list(VOXEL), "neurons": "swc/*.swc", "cells": "cells.csv"}
    (root / "brain.ome.tif.json").write_text(json.dumps(sidecar))
    catalog = Catalog(tmp / "c.sqlite")
    scan(root, catalog)
    (record,) = catalog.all()
    catalog.close()
    with Server(tmp / "c.sqlite") as server:
        yield {"server": server, "record": record, "xyz": xyz, "volume": volume}


def _ids(record, kind):
    return [e["id"] for e in record.attached if e["kind"] == kind]


def test_cloudvolume_reads_the_skeleton(served):
    from cloudvolume import CloudVolume

    record = served["record"]
    (nid,) = _ids(record, "neuron")
    vol = CloudVolume(f"precomputed://{served['server'].url}/objects/{record.id}", progress=False, use_https=False)
    skel = vol.skeleton.get(int(nid))
    np.testing.assert_array_equal(skel.vertices, [[10000, 20000, 8000], [30000, 20000, 8000],
                                                  [50000, 20000, 8000], [10000, 40000, 8000]])
    assert sorted(map(tuple, np.sort(skel.edges, axis=1).tolist())) == [(0, 1), (0, 3), (1, 2)]
    np.testing.assert_array_equal(skel.radius, [3000, 1000, 1000, 1000])


def test_neuroglancer_annotation_reader_finds_every_row_once(served):
    from neuroglancer.read_precomputed_annotations import AnnotationReader

    record = served["record"]
    (tid,) = _ids(record, "cells")
    reader = AnnotationReader(f"{served['server'].url}/objects/{record.id}/cells/{tid}/")
    assert len(reader.metadata["spatial"]) >= 2
    found = {}
    for annotation in reader.get_within_spatial_bounds():
        assert int(annotation.id) not in found
        found[int(annotation.id)] = (annotation.point, annotation.props)
    assert sorted(found) == list(range(1, N_CELLS + 1))
    for row in (0, 4_321, N_CELLS - 1):
        point, props = found[row + 1]
        np.testing.assert_allclose(point, served["xyz"][row] * 1000, rtol=1e-6)
        assert props[0] == pytest.approx(served["volume"][row], rel=1e-6) and props[1] == row % 5
    one = reader.by_id[77]
    np.testing.assert_allclose(one.point, served["xyz"][76] * 1000, rtol=1e-6)


def test_cloudvolume_annotations_by_id_and_levels(served):
    from cloudvolume import from_cloudpath

    record = served["record"]
    (tid,) = _ids(record, "cells")
    source = from_cloudpath(f"precomputed://{served['server'].url}/objects/{record.id}/cells/{tid}")
    ids = []
    for mip in range(len(source.meta.info["spatial"])):
        ids.extend(int(i) for i in source.get_all(mip=mip).ids)
    assert sorted(ids) == list(range(1, N_CELLS + 1))
    got = source.get_by_id(5)
    np.testing.assert_allclose(np.asarray(got.geometry).reshape(-1)[:3], served["xyz"][4] * 1000, rtol=1e-6)
    assert float(np.asarray(got.properties["volume"]).reshape(-1)[0]) == pytest.approx(served["volume"][4], rel=1e-6)


def test_transformer_client_neurons_and_cells(served):
    record = served["record"]
    ds = open_dataset(f"{served['server'].url}/api/datasets/{record.id}")
    (listed,) = ds.neurons()
    assert listed["nodes"] == 4 and listed["cable_length_um"] == pytest.approx(60)
    neuron = ds.neuron(listed["id"])
    np.testing.assert_array_equal(neuron.nodes[0], [8, 20, 10])  # µm, z, y, x
    np.testing.assert_array_equal(neuron.soma, [8, 20, 10])
    assert neuron.edges.tolist() == [[1, 0], [2, 1], [3, 0]] and neuron.types.tolist() == [1, 3, 3, 2]
    cells = ds.cells(box=(slice(0, 4), slice(10, 20), slice(0, 64)))  # level-0 voxels, half-open
    zyx = served["xyz"][:, ::-1]
    inside = np.all((zyx >= [-1.0, 9.5, -0.5]) & (zyx < [7.0, 19.5, 63.5]), axis=1)
    assert sorted(cells.ids.tolist()) == (np.flatnonzero(inside) + 1).tolist()
    order = np.argsort(cells.ids)
    np.testing.assert_allclose(cells.zyx[order], zyx[inside], rtol=1e-6)
    np.testing.assert_allclose(cells.properties["volume"][order], served["volume"][inside], rtol=1e-6)
