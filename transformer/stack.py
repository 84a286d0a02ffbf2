"""Many workers behind one cache (issue 14): N ``transformer serve`` processes on loopback ports and nginx in front
of them, configured from the project's template (docker/nginx.conf.template).

nginx sends each URL to one worker (``hash $request_uri consistent``), so a chunk is computed by one worker and
the workers' RAM caches are shards of one cache; its ``proxy_cache`` on local disk keeps what the workers mark
public (versioned URLs for a year) and lets one request per missing chunk through (``proxy_cache_lock``). The
workers share the catalog: one SQLite file in WAL mode, which many processes on one host read while one writes.

Used by ``transformer stack`` (workers + nginx), ``transformer serve --workers N`` (workers only) and the
``proxy`` service of docker/compose.yml (``transformer stack --upstream HOST:PORT ...``: nginx only).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from transformer.testing import free_port, stop_process
from writers.registry import installed

TEMPLATE_ENV = "TRANSFORMER_NGINX_TEMPLATE"


def template_path() -> Path:
    """docker/nginx.conf.template of the checkout, or ``$TRANSFORMER_NGINX_TEMPLATE`` (the docker image sets it)."""
    env = os.environ.get(TEMPLATE_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[1] / "docker" / "nginx.conf.template"


def render_nginx(listen: str, upstreams: Sequence[str], run: Path, cache: Path, cache_size: str = "10g",
                 nginx_workers: int = 1, access_log: bool = False, template: str | None = None) -> str:
    """The nginx configuration for ``upstreams`` (``host:port`` of each worker) listening on ``listen``."""
    text = template if template is not None else template_path().read_text()
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    user = "# not root: nginx runs as the invoking user"
    if os.geteuid() == 0:  # nginx's workers drop to nobody, who must reach the cache (else they stay root)
        user = "user nobody nogroup;" if reachable_by_others(cache) else "user root root;"
    views = "|".join(re.escape(view.prefix.strip("/")) for view in installed())  # cached whatever the Host
    values = {"USER": user, "NGINX_WORKERS": str(nginx_workers), "RUN": str(run), "CACHE": str(cache),
              "VIEW_PREFIXES": views,
              "CACHE_SIZE": cache_size, "UPSTREAMS": servers, "LISTEN": listen,
              "ACCESS_LOG": f"{run}/access.log without_tokens" if access_log else "off"}
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    if "@@" in text:
        raise ValueError("the nginx template has a placeholder render_nginx does not know")
    return text


def make_folders(run: Path, cache: Path) -> None:
    """nginx's run folder, cache and temp folders; as root, owned by nobody (who nginx's workers run as)."""
    run.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        run.chmod(0o755)  # nginx's workers reach their cache and temp folders through it
    for sub in (cache, *(run / d for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"))):
        sub.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(sub, "nobody", "nogroup")


def reachable_by_others(path: Path) -> bool:
    """Whether every folder above ``path`` lets other users through (pytest's 0700 tmp folders do not)."""
    return all(p.stat().st_mode & 0o001 for p in path.resolve().parents)


def healthy(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=1) as r:
        return r.status == 200
    return False


def wait_until(ready, proc: subprocess.Popen, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:] if log.exists() else ''}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.1)


class Worker:
    """One ``transformer serve`` on a loopback port, named (``X-Worker``) and logging into ``run``."""

    def __init__(self, name: str, port: int, catalog: Path, run: Path, serve_args: Sequence[str],
                 host: str = "127.0.0.1", metrics_port: int | None = None) -> None:
        self.name, self.port, self.catalog, self.run, self.host = name, port, catalog, run, host
        # its own loopback metrics listener (--metrics-port: the restricted reads too), else the public /metrics
        self.serve_args = list(serve_args) + (["--metrics-port", str(metrics_port)] if metrics_port else [])
        self.url = f"http://{host}:{port}"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics" if metrics_port else f"{self.url}/metrics"
        self.log = run / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "transformer.cli", "--catalog", str(self.catalog), "serve", "--host", self.host,
               "--port", str(self.port), "--worker-name", self.name, "--log-level", "warning", *self.serve_args]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def wait(self) -> None:
        assert self.proc is not None
        wait_until(lambda: healthy(self.url), self.proc, f"worker {self.name}", self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)

    def restart(self) -> None:
        """Stop, start and wait: nginx sends this worker's URLs to the next one meanwhile."""
        self.stop()
        self.start()
        self.wait()


class Proxy:
    """nginx with the rendered template, in the foreground of a subprocess."""

    def __init__(self, port: int, upstreams: Sequence[str], run: Path, cache: Path, host: str = "127.0.0.1",
                 **render) -> None:
        self.url = f"http://{host}:{port}"
        self.run, self.log = run, run / "error.log"
        make_folders(run, cache)
        self.conf = run / "nginx.conf"
        self.conf.write_text(render_nginx(f"{host}:{port}", upstreams, run, cache, **render))
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return ["nginx", "-e", str(self.log), "-p", str(self.run), "-c", str(self.conf)]

    def start(self) -> None:
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx is not installed (scripts/system-deps.sh --all installs it)")
        subprocess.run([*self.command(), "-t", "-q"], check=True, capture_output=True)
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        assert self.proc is not None
        wait_until(lambda: healthy(self.url), self.proc, "nginx", self.log)

    def up(self) -> Proxy:
        self.start()
        self.wait()
        return self

    def reload(self) -> None:
        subprocess.run([*self.command(), "-s", "reload"], check=True, capture_output=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


class Stack:
    """``workers`` workers and nginx on loopback; ``with Stack(...) as s: s.url``. Everything it starts is stopped
    on exit; its files (logs, nginx configuration and cache) live in ``run`` (default: a temporary folder).
    ``worker_metrics``: each worker serves its full metrics on a loopback port of its own (``Worker.metrics_url``;
    ``serve --metrics-port``)."""

    def __init__(self, catalog: Path, workers: int = 2, port: int | None = None, serve_args: Sequence[str] = (),
                 run: Path | None = None, worker_ports: Sequence[int] | None = None, proxy: bool = True,
                 host: str = "127.0.0.1", worker_host: str = "127.0.0.1", worker_metrics: bool = False,
                 **render) -> None:
        self._tmp = None if run is not None else tempfile.TemporaryDirectory(prefix="transformer-stack-")
        self.run = Path(run if run is not None else self._tmp.name)
        self.run.mkdir(parents=True, exist_ok=True)
        cache = self.run / "cache"
        ports = list(worker_ports) if worker_ports is not None else [free_port() for _ in range(workers)]
        self.workers = [Worker(f"w{i}", p, Path(catalog), self.run, serve_args, worker_host,
                               free_port() if worker_metrics else None) for i, p in enumerate(ports)]
        self.proxy = (Proxy(port or free_port(), [f"{worker_host}:{w.port}" for w in self.workers], self.run, cache,
                            host, **render) if proxy else None)
        self.url = self.proxy.url if self.proxy else self.workers[0].url

    def start(self) -> Stack:
        try:
            for w in self.workers:
                w.start()
            for w in self.workers:
                w.wait()
            if self.proxy:
                self.proxy.start()
                self.proxy.wait()
        except BaseException:
            self.stop()
            raise
        return self

    def rolling_restart(self) -> None:
        """Restart the workers one at a time (new code, settings or catalog): nginx retries each one's
        requests on the others meanwhile, so clients see no error."""
        for w in self.workers:
            w.restart()

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        for w in self.workers:
            w.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_until_stopped(target: Stack | Proxy, upstreams: Sequence[str]) -> int:
    """Start ``target``, print where it answers, and wait: Ctrl-C or SIGTERM stop everything it started; SIGHUP
    restarts a stack's workers one by one (or reloads nginx's configuration)."""
    hangups: list[int] = []
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, lambda *_: hangups.append(1))
    try:
        target.start() if isinstance(target, Stack) else target.up()
        print(f"serving on {target.url}/  (workers: {', '.join(upstreams)}; files in {target.run})",
              file=sys.stderr, flush=True)
        while True:
            signal.pause()
            while hangups:
                hangups.pop()
                target.rolling_restart() if isinstance(target, Stack) else target.reload()
                print("restarted", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        target.stop()
    return 0
