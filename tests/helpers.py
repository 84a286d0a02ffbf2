"""Test helpers: real-data location, a real server in a subprocess, reference computations."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def real_data() -> Path | None:
    """../shared/data/real beside the checkout (or $TRANSFORMER_REAL_DATA), if present."""
    env = os.environ.get("TRANSFORMER_REAL_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "real"
    return path if path.is_dir() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``transformer serve`` on a free loopback port, as a real uvicorn process."""

    def __init__(self, catalog: Path, *extra: str, env: dict | None = None) -> None:
        catalog = Path(catalog)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "transformer.cli", "--catalog", str(catalog), "serve",
               "--port", str(self.port), "--log-level", "warning", *extra]
        self.log = open(catalog.with_suffix(f".{self.port}.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def reference_mean(a: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Block mean of a (z, y, x) array written independently of the service: partial edge blocks
    average the voxels they have; integers round half to even."""
    out_shape = tuple(math.ceil(n / f) for n, f in zip(a.shape, factors, strict=True))
    out = np.empty(out_shape, dtype=np.float64)
    fz, fy, fx = factors
    for k in range(out_shape[0]):
        for j in range(out_shape[1]):
            rows = a[k * fz : (k + 1) * fz, j * fy : (j + 1) * fy].astype(np.float64)
            for i in range(out_shape[2]):
                out[k, j, i] = rows[:, :, i * fx : (i + 1) * fx].mean()
    if np.issubdtype(a.dtype, np.integer):
        return np.rint(out).astype(a.dtype)
    return out.astype(a.dtype)


def to_tczyx(data: np.ndarray, axes: str) -> np.ndarray:
    """A tifffile series array with its axes string, moved to (t, c, z, y, x)."""
    axes = axes.upper()
    names: list[str] = []
    for ax in axes:
        role = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}.get(ax)
        if role is None:  # I, Q: an unnamed sequence is z (or t when z is taken)
            role = "z" if "Z" not in axes and "z" not in names else "t"
        assert role not in names, f"test helper does not merge axes {axes}"
        names.append(role)
    arr = data
    for role in "tczyx":
        if role not in names:
            arr = arr[np.newaxis]
            names.insert(0, role)
    return np.transpose(arr, [names.index(r) for r in "tczyx"])
