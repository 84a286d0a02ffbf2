"""The README's "Neurons and cells, napari, S3" snippets run as written on the demo (a real server, aws-cli with
no AWS configuration, as a new user has it) and give what the service's own routes give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from tests.helpers import Server, readme_concrete, readme_snippets, scanned
from tests.require import skip_without
from transformer.demo import write_demo

pytestmark = pytest.mark.slow  # writes the demo and starts a server

AWS = Path(sys.executable).with_name("aws")


def snippets(language: str) -> list[str]:
    return readme_snippets("Neurons and cells, napari, S3", language)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    records = scanned(write_demo(tmp_path_factory.mktemp("demo")), db)
    dataset_id = next(r.id for r in records if r.attached)  # the TIFF-slice brain with neurons and cells
    with Server(db) as server:
        yield server, dataset_id


def test_sidecar_example_is_json_with_the_documented_keys():
    (sidecar,) = snippets("json")
    assert {"neurons", "cells", "neurons_units"} <= set(json.loads(sidecar))


def test_python_snippet_reads_neurons_and_cells(demo):
    server, dataset_id = demo
    (code,) = snippets("python")
    scope: dict = {}
    exec(readme_concrete(code, server.url, dataset_id), scope)  # noqa: S102 (the README's own code)
    neuron, cells, first = scope["neuron"], scope["cells"], scope["first"]
    assert first["nodes"] == len(neuron.nodes) > 1 and neuron.nodes.shape[1] == 3
    assert neuron.edges.shape == (len(neuron.nodes) - 1, 2)  # one tree: every node but the root has a parent
    assert len(cells) > 0 and cells.zyx.shape == (len(cells), 3)
    # the box is level-0 voxels: every cell returned lies inside it, in µm
    voxel = np.array(scope["ds"].record["voxel_size"])
    upper = np.array([48, 160, 192]) * voxel
    assert (cells.zyx >= 0).all() and (cells.zyx < upper).all()


@skip_without("modules", AWS.exists(), "aws-cli is not installed (the test extra)")
def test_s3_snippet_lists_and_copies(demo, tmp_path):
    server, dataset_id = demo
    (block,) = snippets("sh")
    home = tmp_path / "home"
    home.mkdir()
    # a new user's environment: no AWS configuration or credentials, aws-cli on PATH
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), PATH=f"{AWS.parent}:{env['PATH']}")
    run = subprocess.run(["bash", "-euc", readme_concrete(block, server.url, dataset_id)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"PRE {dataset_id}.ome.zarr/" in run.stdout
    copied = zarr.open_group(str(tmp_path / "copy.ome.zarr"), mode="r", zarr_format=2)
    served = zarr.open_group(f"{server.url}/zarr/{dataset_id}.ome.zarr", mode="r", zarr_format=2)
    np.testing.assert_array_equal(copied["0"][:], served["0"][:])
