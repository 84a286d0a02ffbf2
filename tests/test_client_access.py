"""Cutouts obey access levels (issue 11) end to end: on a real server, an embargoed dataset's cutout is 401
without a token, 200 with a Bearer token or under the /t/{TOKEN}/ prefix, and the client and the cutout
command carry the token."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import urllib.error
import urllib.request

import h5py
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from tests.helpers import Server
from tests.require import unavailable
from transformer.cli import main
from transformer.client import ClientError, open_dataset


@pytest.fixture(scope="module")
def embargoed(tmp_path_factory):
    root = tmp_path_factory.mktemp("embargo")
    data = np.arange(6 * 20 * 24, dtype=np.uint16).reshape(6, 20, 24)
    tifffile.imwrite(root / "held.ome.tif", data, ome=True, metadata={"axes": "ZYX"})
    (root / "held.ome.tif.json").write_text(json.dumps({"access": "embargoed", "embargo_until": "2999-01-01"}))
    catalog = Catalog(root / "c.sqlite")
    scan(root, catalog)
    (dataset_id,) = [r.id for r in catalog.all()]
    token, row = new_token("reviewer", [dataset_id], None)
    catalog.put_token(row)
    catalog.close()
    with Server(root / "c.sqlite") as server:
        yield server, dataset_id, token, data


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:  # noqa: S310
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_cutout_url_needs_the_token(embargoed):
    server, dataset_id, token, data = embargoed
    url = f"{server.url}/api/datasets/{dataset_id}/cutout?z=1:4&y=2:9"
    status, body = get(url)
    assert status == 401 and json.loads(body)["error"] == "unauthorized"
    status, body = get(url, token)
    assert status == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(body))[0, 0], data[1:4, 2:9])
    status, body = get(f"{server.url}/t/{token}/api/datasets/{dataset_id}/cutout?z=1:4&y=2:9")
    assert status == 200
    np.testing.assert_array_equal(np.load(io.BytesIO(body))[0, 0], data[1:4, 2:9])


def test_client_and_command_carry_the_token(embargoed, tmp_path):
    server, dataset_id, token, data = embargoed
    with pytest.raises(ClientError) as err:
        open_dataset(dataset_id, base_url=server.url)[0, 0, 0]
    assert err.value.status == 401
    ds = open_dataset(f"{server.url}/api/datasets/{dataset_id}", token=token)
    np.testing.assert_array_equal(ds[0, 0, 2:6, :, 3:20], data[2:6, :, 3:20])
    out = tmp_path / "held.npy"
    assert main(["cutout", dataset_id, "--base-url", server.url, "--token", token, "--region", "0:2,:,:",
                 "-o", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out)[0, 0], data[0:2])


def test_curl_with_a_token(embargoed, tmp_path):
    if shutil.which("curl") is None:
        unavailable("curl", "curl is not installed")
    server, dataset_id, token, data = embargoed
    url = f"{server.url}/api/datasets/{dataset_id}/cutout?z=2:5&format=h5"
    denied = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True,
                            text=True)
    assert denied.stdout == "401"
    subprocess.run(["curl", "-sfOJ", "-H", f"Authorization: Bearer {token}", url], cwd=tmp_path, check=True)
    (saved,) = tmp_path.glob(f"{dataset_id}_level0_*.h5")
    with h5py.File(saved, "r") as f:
        np.testing.assert_array_equal(f["data"][0, 0], data[2:5])
