"""The stack's nginx and tokens (issue 22 items 1 and 2), with real nginx and one real worker: nginx's access log
never shows a token (the /t/TOKEN/ prefix is logged as /t/-/), and nginx does not proxy /metrics (the worker's
own port still answers it)."""

from __future__ import annotations

import pickle
import shutil
import time

import httpx
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import new_token
from tests.require import module, skip_without
from transformer.prewarm import prewarm
from transformer.stack import Stack

pytestmark = skip_without("nginx", shutil.which("nginx") is not None, "needs nginx (scripts/system-deps.sh --all)")


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


@pytest.mark.slow
def test_prewarm_on_a_dask_cluster_keeps_the_token_out_of_the_task_specs(stack):
    distributed = module("distributed")
    from distributed.diagnostics.plugin import SchedulerPlugin

    running, dataset_id, token = stack

    class Specs(SchedulerPlugin):
        """What the scheduler holds of every task (its dashboard shows it): the pickled run spec."""

        def __init__(self, scheduler) -> None:
            self.scheduler, self.seen = scheduler, []

        def transition(self, key, start, finish, *args, **kwargs) -> None:
            task = self.scheduler.tasks.get(key)
            if task is not None and task.run_spec is not None:
                self.seen.append(repr(task.run_spec).encode() + pickle.dumps(task.run_spec) + str(key).encode())

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", dashboard_address=None
    ) as cluster:
        specs = Specs(cluster.scheduler)
        cluster.scheduler.add_plugin(specs)
        done = prewarm(running.url, dataset_id, "all", scheduler=cluster.scheduler_address, token=token)
    assert done.requests > 0 and done.failed == 0  # the workers had the token: the private chunks answered
    # neither as an argument nor inside a URL (the record's links embed the token: prewarm takes it out)
    leaked = [spec for spec in specs.seen if token.encode() in spec]
    assert specs.seen and not leaked, leaked[:1]
