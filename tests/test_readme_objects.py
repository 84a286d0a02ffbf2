"""The README's "Neurons and cells, napari, S3" snippets run as written on the demo (a real server, aws-cli with
no AWS configuration, as a new user has it) and give what the service's own routes give."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import REPO, Server
from tests.require import skip_without
from transformer.demo import write_demo

pytestmark = pytest.mark.slow  # writes the demo and starts a server

AWS = Path(sys.executable).with_name("aws")


def snippets(language: str) -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Neurons and cells, napari, S3", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = write_demo(tmp_path_factory.mktemp("demo"))
    db = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    dataset_id = next(r.id for r in catalog.all() if r.attached)  # the TIFF-slice brain with neurons and cells
    catalog.close()
    with Server(db) as server:
        yield server, dataset_id


def concrete(text: str, server, dataset_id: str) -> str:
    return re.sub(r"\bID\b", dataset_id, text.replace("http://127.0.0.1:8000", server.url))


def test_sidecar_example_is_json_with_the_documented_keys():
    (sidecar,) = snippets("json")
    assert {"neurons", "cells", "neurons_units"} <= set(json.loads(sidecar))


def test_python_snippet_reads_neurons_and_cells(demo):
    server, dataset_id = demo
    (code,) = snippets("python")
    scope: dict = {}
    exec(concrete(code, server, dataset_id), scope)  # noqa: S102 (the README's own code)
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
    run = subprocess.run(["bash", "-euc", concrete(block, server, dataset_id)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"PRE {dataset_id}.ome.zarr/" in run.stdout
    copied = zarr.open_group(str(tmp_path / "copy.ome.zarr"), mode="r", zarr_format=2)
    served = zarr.open_group(f"{server.url}/zarr/{dataset_id}.ome.zarr", mode="r", zarr_format=2)
    np.testing.assert_array_equal(copied["0"][:], served["0"][:])
