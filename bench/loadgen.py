"""Load generation with wrk (a Lua script cycling through a URL list) and an nginx static baseline."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from transformer.testing import free_port, stop_process

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_URLS")) do paths[#paths + 1] = line end
local counter = 0
setup = function(thread) thread:set("offset", counter * 7919); counter = counter + 1 end
init = function(args) i = offset or 0 end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"bytes":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"errors":%d,"status_errors":%d}\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass
class Load:
    concurrency: int
    rps: float
    mbps: float
    p50_ms: float
    p99_ms: float
    errors: int


def failed(loads: Iterable[Load]) -> int:
    """wrk's socket errors and responses with status >= 400 over ``loads``: a rate that counts failures is not
    a rate, so every goal measured with wrk is met only when this is 0."""
    return sum(x.errors for x in loads)


def missing_tools() -> list[str]:
    return [t for t in ("wrk", "nginx") if shutil.which(t) is None]


def skipped_without_tools(part) -> bool:
    """Mark ``part`` (a bench.common.Part) skipped when wrk or nginx is missing; whether it was."""
    missing = missing_tools()
    if missing:
        part.skipped = f"{', '.join(missing)} not installed (scripts/system-deps.sh --all)"
    return bool(missing)


def wrk(base_url: str, paths: Sequence[str], concurrency: int, seconds: float, workdir: Path) -> Load:
    """``concurrency`` keep-alive connections cycling through ``paths`` for ``seconds``."""
    urls = workdir / f"urls-{abs(hash(base_url))}.txt"
    urls.write_text("\n".join(paths) + "\n")
    script = workdir / "cycle.lua"
    script.write_text(LUA)
    threads = min(2, concurrency)
    cmd = ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
           "-s", str(script), base_url]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "BENCH_URLS": str(urls)},
                         timeout=seconds + 60, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    d = json.loads(line.split(" ", 1)[1])
    secs = d["duration_us"] / 1e6
    return Load(concurrency, d["requests"] / secs, d["bytes"] / secs / 1e6, d["p50_us"] / 1e3, d["p99_us"] / 1e3,
                d["errors"] + d["status_errors"])


NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  open_file_cache max=100000 inactive=60s;
  default_type application/octet-stream;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ {location} }}
    {extra}
  }}
}}
"""


@contextlib.contextmanager
def nginx(root: Path, workdir: Path, workers: int = 1, location: str = "", extra: str = "") -> Iterator[str]:
    """nginx serving ``root`` on a free loopback port, with a config written into ``workdir`` (``location``: more
    directives for ``location /``, e.g. ``autoindex on;`` for clients that list folders; ``extra``: more
    directives of the server block, e.g. other locations)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, tmp=workdir, port=port, root=root, location=location,
                                     extra=extra))
    cmd = ["nginx", "-e", str(workdir / "error.log"), "-c", str(conf), "-p", str(workdir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + "/", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start")
            time.sleep(0.05)
        yield url
    finally:
        stop_process(proc)
