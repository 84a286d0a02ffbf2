"""Embargoed data through a real server and real clients (issue 11): zarr-python (fsspec headers) and
tensorstore (http kvstore headers) read the voxels exactly with a token, get nothing without one; a link
with the /t/{TOKEN}/ prefix works for zarr-python with no header at all; the access log never shows a
token; a revocation by another process counts from the next request."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
import tensorstore as ts
import zarr

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server
from transformer.testing import free_port


@pytest.fixture(scope="module")
def embargoed(tmp_path_factory):
    import tifffile

    root = tmp_path_factory.mktemp("embargo")
    data = (np.arange(9 * 70 * 90, dtype=np.uint32).reshape(9, 70, 90) * 2654435761 % 65521).astype(np.uint16)
    (root / "lab").mkdir()
    tifffile.imwrite(root / "lab" / "brain.tif", data, metadata={"axes": "ZYX"})
    (root / "lab" / "dataset.json").write_text(json.dumps({"access": "embargoed", "embargo_until": "2999-12-31"}))
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    (record,) = catalog.all()
    catalog.close()
    token = _cli(db, "token", "create", "--name", "reviewer", "--dataset", record.id).strip()
    port = free_port()
    srv = Server(db, "--access-log", "--log-level", "info", "--metrics-port", str(port))
    srv.metrics_url = f"http://127.0.0.1:{port}/metrics"  # the loopback listener of the full metrics
    yield srv, record.id, token, data, db
    srv.stop()


def _cli(db, *args) -> str:
    out = subprocess.run([sys.executable, "-m", "transformer.cli", "--catalog", str(db), *args],
                         capture_output=True, text=True, check=True)
    return out.stdout


def test_zarr_python_with_a_bearer_header_reads_exact_voxels(embargoed):
    srv, dataset_id, token, data, _ = embargoed
    url = f"{srv.url}/zarr/{dataset_id}.ome.zarr"
    group = zarr.open_group(url, mode="r", zarr_format=2,
                            storage_options={"client_kwargs": {"headers": {"Authorization": f"Bearer {token}"}}})
    np.testing.assert_array_equal(group["0"][0, 0], data)
    assert httpx.get(f"{url}/0/0/0/0/0/0").status_code == 401
    assert httpx.get(f"{url}/.zattrs").status_code == 401


def test_zarr_python_opens_the_shared_link_with_no_header(embargoed):
    srv, dataset_id, token, data, _ = embargoed
    record = httpx.get(f"{srv.url}/api/datasets/{dataset_id}", headers={"Authorization": f"Bearer {token}"}).json()
    link = record["links"]["zarr"]
    assert f"/t/{token}/zarr/" in link
    np.testing.assert_array_equal(zarr.open_group(link, mode="r", zarr_format=2)["0"][0, 0], data)


@pytest.mark.parametrize("driver,prefix", [("zarr", "zarr"), ("zarr3", "zarr3"),
                                           ("neuroglancer_precomputed", "precomputed")])
def test_tensorstore_with_a_header_reads_exact_voxels(embargoed, driver, prefix):
    srv, dataset_id, token, data, _ = embargoed
    segment = dataset_id if prefix == "precomputed" else f"{dataset_id}.ome.zarr"
    kvstore = {"driver": "http", "base_url": f"{srv.url}/{prefix}/{segment}/",
               "headers": [f"Authorization: Bearer {token}"]}
    spec = {"driver": driver, "kvstore": kvstore}
    if prefix == "precomputed":
        spec["scale_index"] = 0
        got = ts.open(spec, read=True).result().read().result()  # x, y, z, channel
        got = np.transpose(got[..., 0], (2, 1, 0))
    else:
        spec["kvstore"]["path"] = "0/"
        got = ts.open(spec, read=True).result().read().result()[0, 0]
    np.testing.assert_array_equal(got, data)
    kvstore.pop("headers")
    with pytest.raises(ValueError):
        ts.open(spec, read=True).result().read().result()


def test_access_log_never_shows_the_token(embargoed):
    srv, dataset_id, token, _, _ = embargoed
    assert httpx.get(f"{srv.url}/t/{token}/zarr/{dataset_id}.ome.zarr/.zattrs").status_code == 200
    httpx.get(f"{srv.url}/zarr/{dataset_id}.ome.zarr/.zattrs", headers={"Authorization": f"Bearer {token}"})
    srv.log.flush()
    log = open(srv.log.name).read()
    assert f"/zarr/{dataset_id}.ome.zarr/.zattrs" in log  # the access log is on
    assert token not in log
    metrics = httpx.get(srv.metrics_url).text
    assert f'transformer_restricted_reads_total{{token="reviewer",dataset="{dataset_id}",status="200"}}' in metrics
    assert token not in metrics


def test_revocation_from_another_process_counts_on_the_next_request(embargoed, tmp_path):
    srv, dataset_id, _, _, db = embargoed
    token = _cli(db, "token", "create", "--name", "short-lived", "--all").strip()
    url = f"{srv.url}/zarr/{dataset_id}.ome.zarr/0/0/0/0/0/0"
    auth = {"Authorization": f"Bearer {token}"}
    assert [httpx.get(url, headers=auth).status_code for _ in range(3)] == [200] * 3
    _cli(db, "token", "revoke", "short-lived")
    assert httpx.get(url, headers=auth).status_code == 401
    assert "short-lived\trevoked" in _cli(db, "token", "list")


@pytest.mark.parametrize("how", ["environment", "file"])
def test_the_cli_takes_a_token_from_the_environment_or_a_file_not_only_argv(embargoed, tmp_path, how):
    """``--token`` shows in ``ps``: ``cutout`` and ``prewarm`` also read ``$TRANSFORMER_TOKEN`` or ``--token-file``."""
    import os

    srv, dataset_id, token, data, db = embargoed
    out = tmp_path / "box.npy"
    argv = [sys.executable, "-m", "transformer.cli", "--catalog", str(db), "cutout", dataset_id, "-o", str(out),
            "--base-url", srv.url, "--region", "0:2,0:70,0:90"]
    env = {k: v for k, v in os.environ.items() if k != "TRANSFORMER_TOKEN"}
    refused = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and not out.exists()  # no token anywhere: 401
    if how == "environment":
        env["TRANSFORMER_TOKEN"] = token
    else:
        (tmp_path / "token").write_text(token + "\n")
        argv += ["--token-file", str(tmp_path / "token")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert token not in " ".join(argv)
    np.testing.assert_array_equal(np.load(out).reshape(2, 70, 90), data[0:2])
