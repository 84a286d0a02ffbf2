"""The stack's nginx and tokens (issue 22 items 1 and 2), with real nginx and one real worker: nginx's access log
never shows a token (the /t/TOKEN/ prefix is logged as /t/-/), and nginx does not proxy /metrics (the worker's
own port still answers it)."""

from __future__ import annotations

import shutil
import time

import httpx
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from transformer.stack import Stack

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx (scripts/system-deps.sh --all)")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack_trust")
    (root / "data" / "secret").mkdir(parents=True)
    tifffile.imwrite(
        root / "data" / "secret" / "secret.tif",
        np.arange(8 * 40 * 30, dtype=np.uint16).reshape(8, 40, 30),
        metadata={"axes": "ZYX"},
    )
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    report = scan(root / "data" / "secret", catalog, access="private")
    assert not report.refused, report.refused
    (record,) = catalog.all()
    token, row = new_token("reader", [record.id], None)
    catalog.put_token(row)
    catalog.close()
    with Stack(db, 1, run=root / "run", access_log=True) as running:
        yield running, record.id, token


def test_nginx_logs_requests_without_their_token(stack):
    running, dataset_id, token = stack
    path = f"/zarr/{dataset_id}.ome.zarr/0/.zarray"
    assert httpx.get(f"{running.url}/t/{token}{path}?x=1").status_code == 200
    assert httpx.get(f"{running.url}{path}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert httpx.get(f"{running.url}/t/{token}").status_code == 200  # the bare prefix: the home page
    log = running.run / "access.log"
    wanted = [f'"GET /t/-{path}?x=1 HTTP/1.1" 200', f'"GET {path} HTTP/1.1" 200', '"GET /t/- HTTP/1.1" 200']
    for _ in range(50):  # nginx writes each line when its request ends
        text = log.read_text() if log.exists() else ""
        if all(w in text for w in wanted):
            break
        time.sleep(0.1)
    assert all(w in text for w in wanted), text
    assert token not in text


def test_nginx_does_not_proxy_metrics(stack):
    running, _, _ = stack
    r = httpx.get(f"{running.url}/metrics")
    assert r.status_code == 404 and r.json() == {
        "error": "not_found",
        "reason": "no route for '/metrics'",
        "status": 404,
    }
    assert r.headers["cache-control"] == "no-store"
    worker = httpx.get(f"{running.workers[0].url}/metrics")
    assert worker.status_code == 200 and "transformer_cache_bytes" in worker.text
