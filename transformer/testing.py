"""A real ``transformer serve`` in a subprocess, for tests and benchmarks (ours and third-party plugins').

Usage::

    from transformer.testing import Server

    srv = Server(catalog_path, "--cache-mb", "64")
    try:
        ...  # HTTP requests to srv.url
    finally:
        srv.stop()

Only the standard library is used, so importing this needs no test extras.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

__all__ = ["Server", "free_port", "stop_process"]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def _healthy(url: str) -> bool:
    not_yet = (OSError, http.client.HTTPException)  # refused, reset, or half an answer while starting
    with contextlib.suppress(*not_yet), urllib.request.urlopen(url + "/healthz", timeout=1) as r:
        return r.status == 200
    return False


class Server:
    """``transformer serve`` on a free loopback port, as a real uvicorn process.

    ``extra`` are further ``serve`` flags; ``env`` is added to the environment. The server's output
    goes to a log file beside the catalog (``self.log.name``), read it when a test needs to.
    """

    def __init__(self, catalog: Path | str, *extra: str, env: dict[str, str] | None = None,
                 start_timeout: float = 60) -> None:
        catalog = Path(catalog)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "transformer.cli", "--catalog", str(catalog), "serve",
               "--port", str(self.port), "--log-level", "warning", *extra]
        self.log = open(catalog.with_suffix(f".{self.port}.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()}")
            if _healthy(self.url):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
