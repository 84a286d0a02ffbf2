"""Run docker/compose.yml for real and check what users get through its proxy (issue 14).

    .venv/bin/python docker/smoke.py [--dask] [--keep]

Needs a running docker daemon and docker compose (the v2 plugin, or docker-compose v1). It builds the image,
writes the demo datasets into a temporary folder mounted read-only as /data, starts scan + 2 workers + nginx
(and with ``--dask`` the scheduler, two dask workers and a prewarm run), then checks through the proxy:
the catalog lists every demo dataset; level-0 voxels read with ``transformer.client`` equal the source read in
this process; a versioned chunk is a MISS then a HIT in nginx's cache; URLs are spread over both workers
(``X-Worker``); the second worker keeps answering while the first is stopped. Everything is removed at the end
(``down -v``) unless ``--keep``. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

DOCKER = Path(__file__).resolve().parent
COMPOSE_FILE = DOCKER / "compose.yml"


def compose_command() -> list[str]:
    """``docker compose`` (v2 plugin) where it works, else ``docker-compose`` (v1)."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise SystemExit("docker compose is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Compose:
    def __init__(self, data: Path, port: int, project: str, profiles: list[str]) -> None:
        self.base = [*compose_command(), "-f", str(COMPOSE_FILE), "-p", project,
                     *(a for p in profiles for a in ("--profile", p))]
        self.env = {**os.environ, "DATA": str(data), "PORT": str(port), "CACHE_MB": "256", "PROXY_CACHE": "1g"}

    def __call__(self, *args: str, check: bool = True, capture: bool = False,
                 timeout: float = 1800) -> subprocess.CompletedProcess:
        print("$", " ".join(["compose", *args]), flush=True)
        return subprocess.run([*self.base, *args], env=self.env, check=check, timeout=timeout, text=True,
                              stdout=subprocess.PIPE if capture else None)


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the proxy at {url} did not answer /healthz within {timeout:.0f} s")


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        raise SystemExit(1)


def run_checks(url: str, data: Path, compose: Compose, dask: bool) -> None:
    from catalog.scan import scan
    from catalog.store import Catalog
    from readers.registry import open_volume
    from transformer.client import open_dataset

    listed = httpx.get(f"{url}/api/datasets", params={"limit": 100}, timeout=30).json()["datasets"]
    local = Catalog(data.parent / "host-catalog.sqlite")  # the same files scanned here: titles → host paths
    scan(data, local)
    paths = {r.title: Path(r.source) for r in local.all()}
    local.close()
    check(sorted(r["title"] for r in listed) == sorted(paths),
          f"the proxy lists the {len(paths)} demo datasets the host scan finds")

    worker_names = set()
    for record in listed:
        dataset_id = record["id"]
        volume = open_volume(paths[record["title"]])[1]
        level = volume.levels[0]
        _, _, z, y, x = level.shape
        want = level.read(0, 0, slice(0, z), slice(0, y), slice(0, x))
        got = np.asarray(open_dataset(f"{url}/api/datasets/{dataset_id}")[0, 0])
        check(np.array_equal(got, want), f"{dataset_id}: level-0 voxels through the proxy equal the source")
        root = httpx.get(f"{url}/api/datasets/{dataset_id}", timeout=30).json()["versioned_links"]["zarr"]
        zarray = httpx.get(f"{root}/0/.zarray", timeout=30).json()
        key = "0/" + zarray.get("dimension_separator", ".").join("0" for _ in zarray["shape"])
        a, b = httpx.get(f"{root}/{key}", timeout=60), httpx.get(f"{root}/{key}", timeout=60)
        check(a.status_code == b.status_code == 200 and b.headers.get("x-cache-status") == "HIT",
              f"{dataset_id}: a versioned chunk is cached by nginx ({a.headers.get('x-cache-status')} then "
              f"{b.headers.get('x-cache-status')})")
        worker_names.add(a.headers.get("x-worker"))
        for entry in httpx.get(f"{root}/.zattrs", timeout=30).json()["multiscales"][0]["datasets"]:
            worker_names.add(httpx.get(f"{root}/{entry['path']}/.zarray", timeout=30).headers.get("x-worker"))
    check(worker_names >= {"w0", "w1"},
          f"URLs are spread over the workers: {sorted(n for n in worker_names if n)}")

    compose("stop", "worker-0")
    try:
        statuses = {httpx.get(f"{url}/api/datasets/{i}", timeout=30).status_code for i in (r["id"] for r in listed)}
        check(statuses == {200}, f"with worker-0 stopped the proxy still answers: {sorted(statuses)}")
    finally:
        compose("start", "worker-0")

    if dask:
        some = listed[0]["id"]
        said = compose("run", "--rm", "prewarm", some, capture=True).stdout
        check(" 0 failed" in said, f"prewarm on the dask cluster: {said.strip().splitlines()[-1]}")
        root = httpx.get(f"{url}/api/datasets/{some}", timeout=30).json()["versioned_links"]["zarr"]
        coarsest = httpx.get(f"{root}/.zattrs", timeout=30).json()["multiscales"][0]["datasets"][-1]["path"]
        zarray = httpx.get(f"{root}/{coarsest}/.zarray", timeout=30).json()
        key = f"{coarsest}/" + zarray.get("dimension_separator", ".").join("0" for _ in zarray["shape"])
        status = httpx.get(f"{root}/{key}", timeout=60).headers.get("x-cache-status")
        check(status == "HIT", f"after prewarm the first request for a coarse chunk is a {status}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dask", action="store_true", help="also start the dask profile and run a prewarm")
    parser.add_argument("--keep", action="store_true", help="leave the stack running (docker compose down later)")
    args = parser.parse_args(argv)

    from transformer.demo import write_demo

    tmp = tempfile.mkdtemp(prefix="compose-smoke-")  # kept with --keep: the running stack mounts it
    os.chmod(tmp, 0o755)
    data, port = Path(tmp) / "data", free_port()
    compose = Compose(data, port, f"smoke{os.getpid()}", ["dask"] if args.dask else [])
    url = f"http://127.0.0.1:{port}"
    try:
        write_demo(data)
        try:
            compose("build")
            compose("up", "-d")
            wait_ready(url)
            run_checks(url, data, compose, args.dask)
        finally:
            if not args.keep:
                compose("logs", "--tail", "20", check=False)
                compose("down", "-v", check=False)
    finally:
        if args.keep:
            print(f"left running: {url} (data in {tmp}); stop it with {' '.join(compose.base)} down -v")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("compose smoke: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
