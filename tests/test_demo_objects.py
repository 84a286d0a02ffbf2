"""The demo's neurons and cells (issue 19): valid SWC trees inside the brain, cells on its bright blobs."""

from __future__ import annotations

import json

import numpy as np

from readers.objects.points import read_points
from readers.objects.swc import parse_swc
from transformer.demo import synthetic_brain
from transformer.demo.objects import NEURONS, attach, write_objects


def test_demo_neurons_and_cells(tmp_path):
    shape, voxel = (24, 80, 96), (4.0, 2.0, 2.0)
    brain = synthetic_brain(shape)
    (tmp_path / "dataset.json").write_text(json.dumps({"title": "t"}))
    attach(tmp_path / "dataset.json", write_objects(tmp_path, brain, voxel))
    assert json.loads((tmp_path / "dataset.json").read_text())["neurons"] == "neurons/*.swc"
    files = sorted((tmp_path / "neurons").glob("*.swc"))
    assert len(files) == NEURONS
    scale = np.array([voxel[2], voxel[1], voxel[0]])
    for path in files:
        m = parse_swc(path.read_bytes())
        assert m.refusal is None and not [d for d in m.defects if d.fatal]
        assert (m.parent < 0).sum() == 1 and m.types[0] == 1 and {2, 3} <= set(m.types.tolist())
        voxels = np.round(m.xyz / scale).astype(int)  # every node inside the brain's volume
        assert (voxels >= 0).all() and (voxels < [shape[2], shape[1], shape[0]]).all()
    cells = read_points(tmp_path / "cells.csv")
    assert len(cells.ids) > 10
    k, j, i = (np.round(cells.xyz[:, a] / scale[a]).astype(int) for a in (2, 1, 0))
    assert (brain[k, j, i] > 3500).all()  # each cell sits on a bright voxel of the image
