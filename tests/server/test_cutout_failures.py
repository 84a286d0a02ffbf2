"""A cutout whose source fails: before the status line the failure is a 5xx JSON with a reason; after it, the
connection is aborted so no client can take a short body for a whole one (issue 24).

The server is the real app under a real uvicorn, on a loopback port, in a thread of this process: that is
what lets a test make slabs small (``SLAB_BYTES``) and make the slab reader fail at exactly slab k. The
clients are requests and curl."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
import uvicorn

from catalog.store import Catalog
from readers.base import SourceError
from tests.helpers import cutout_voxels, free_port
from tests.require import skip_without
from transformer.config import Config
from transformer.server import bodies
from transformer.server.app import create_app
from transformer.server.protocol import header_timeout_protocol
from transformer.server.routes import cutout as cutout_route
from writers import cutout as cutout_writer
from writers.cutout import Box, slabs

REASON = "raw.tif: the file changed while being served"
PLANE = 300 * 261 * 2  # one plane of the generated "big" dataset (uint16)


class ThreadServer:
    """The app under uvicorn (the protocol `transformer serve` uses) in a thread, on a free loopback port."""

    def __init__(self, catalog: Path, **config) -> None:
        config.setdefault("chunks", "64,64,64")
        app = create_app(Config(catalog=catalog, **config), Catalog(catalog))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_config=None, http=header_timeout_protocol(10), loop="asyncio"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def served(generated, monkeypatch) -> Iterator[tuple[ThreadServer, dict]]:
    """A server whose cutouts of "big" are read in slabs of 8 planes (9 slabs), and a dict in which a test
    names the slab index at which the reader fails (``fail["at"]``)."""
    monkeypatch.setattr(cutout_writer, "SLAB_BYTES", 8 * PLANE)
    fail: dict = {"at": None}
    real = cutout_route._parallel_reader

    def failing_reader(executor, pyramid, box: Box):
        read = real(executor, pyramid, box)
        order = [(t, c, z.start, y.start) for t, c, z, y in slabs(box, pyramid.dtype)]

        def read_or_fail(t: int, c: int, z: slice, y: slice) -> np.ndarray:
            if fail["at"] is not None and order.index((t, c, z.start, y.start)) == fail["at"]:
                raise SourceError(REASON)
            return read(t, c, z, y)

        return read_or_fail

    monkeypatch.setattr(cutout_route, "_parallel_reader", failing_reader)
    srv = ThreadServer(generated["_catalog"], cache_mb=16)
    try:
        yield srv, fail
    finally:
        srv.stop()


def _url(srv: ThreadServer, g, fmt: str) -> str:
    return f"{srv.url}/api/datasets/{g.dataset_id}/cutout?format={fmt}"


@pytest.mark.parametrize("fmt", ["npy", "tiff", "h5"])
def test_whole_cutouts_carry_their_length(served, generated, fmt):
    srv, _ = served
    g = generated["big"]
    r = requests.get(_url(srv, g, fmt), timeout=60)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert "chunked" not in r.headers.get("Transfer-Encoding", "")
    assert re.fullmatch(r"[0-9a-f]{12}", r.headers["X-Request-Id"])
    assert "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]  # a page's script may read it
    np.testing.assert_array_equal(cutout_voxels(fmt, r.content).reshape(g.data.shape), g.data)


@pytest.mark.parametrize("fmt", ["npy", "tiff", "h5"])
def test_a_failure_at_the_first_slab_is_a_json_error(served, generated, fmt):
    srv, fail = served
    fail["at"] = 0
    g = generated["big"]
    r = requests.get(_url(srv, g, fmt), timeout=60)
    assert r.status_code == 500
    body = r.json()
    assert (body["error"], body["reason"], body["status"]) == ("source_error", REASON, 500)
    assert "/" not in body["reason"]
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", _url(srv, g, fmt)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "500")


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_a_file_failing_at_a_later_slab_is_a_json_error(served, generated, fmt):
    """A file is finished before its status line, so a failure anywhere in it is still a clean answer."""
    srv, fail = served
    fail["at"] = 5
    r = requests.get(_url(srv, generated["big"], fmt), timeout=60)
    assert r.status_code == 500
    assert (r.json()["error"], r.json()["reason"]) == ("source_error", REASON)


@skip_without("curl", shutil.which("curl") is not None, "curl is not installed")
def test_npy_failing_at_a_later_slab_breaks_the_transfer(served, generated, caplog):
    """A streamed .npy has sent its status and first slabs when slab 5 fails: the connection is aborted
    short of its Content-Length, the client cannot take it for a whole file, and the server logs one
    ERROR line with the request id and the reason (no ASGI traceback)."""
    srv, fail = served
    fail["at"] = 5
    g = generated["big"]
    url = _url(srv, g, "npy")
    with caplog.at_level(logging.INFO):
        r = requests.get(url, timeout=60, stream=True)
        assert r.status_code == 200
        request_id = r.headers["X-Request-Id"]
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            r.content  # noqa: B018 - reading the body is the point
        done = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-H", "X-Request-Id: curl-1", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 18, done.stderr  # CURLE_PARTIAL_FILE: "transfer closed with bytes remaining"
        time.sleep(0.2)
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert [rec.name for rec in errors] == [bodies.log.name, bodies.log.name], [r.getMessage() for r in errors]
    first, second = (rec.getMessage() for rec in errors)
    assert request_id in first and REASON in first
    assert "curl-1" in second and REASON in second
    assert not any(rec.exc_info for rec in errors)
    # the server goes on answering on new connections
    assert requests.get(f"{url}&z=0:1&y=0:2&x=0:2", timeout=30).status_code == 200
