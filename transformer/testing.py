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
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Server", "free_port", "offscreen_env", "stop_process", "virtual_display"]


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


def _display_answers(number: str, timeout: float = 10) -> bool:
    """X display ``:number``'s unix socket accepts a connection within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(f"/tmp/.X11-unix/X{number}")
                return True
            except OSError:
                time.sleep(0.05)
    return False


@contextlib.contextmanager
def virtual_display(size: str = "1280x1024x24") -> Iterator[str]:
    """A virtual X server (Xvfb) for GLX, as ``":N"``; stopped at exit (after the clients that use it: Qt exits
    with status 1 when its X server goes first). Raises RuntimeError without Xvfb or when it does not start.

    ``-displayfd`` answers once it listens; ``-noreset`` keeps one server generation (an X server resets when
    its last client leaves, and a client connecting meanwhile could meet it without GLX); GLX is asked for."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("no Xvfb: install xvfb (scripts/system-deps.sh --all)")
    read, write = os.pipe()  # Xvfb writes the display number it chose to this descriptor
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp", "-noreset",
                             "+extension", "GLX"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    try:
        if not number or not _display_answers(number):
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        stop_process(proc)


def offscreen_env(display: str, platform: str = "offscreen", **extra: str) -> dict[str, str]:
    """The environment of a Qt/OpenGL child (napari): the display, Mesa's software GL (no DRI device is probed)
    and Qt's ``platform``: ``offscreen`` draws widgets into memory (napari's canvas then reads back black),
    ``xcb`` is a window on the virtual display whose canvas draws real pixels (screenshots; needs the xcb
    libraries of scripts/system-deps.sh --all)."""
    return {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": platform, "LIBGL_ALWAYS_SOFTWARE": "1", **extra}
