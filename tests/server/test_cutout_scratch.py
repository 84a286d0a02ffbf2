"""Temporary disk of OME-TIFF and HDF5 cutouts, against a real server: a bounded number at once and a bounded
number of bytes (503 with Retry-After, or 413 for a file that could never fit), and a disk that refuses the
file (the server's RLIMIT_FSIZE) answering a clear 503 and leaving no temporary file (issues 22 item 6, 24)."""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from transformer.testing import Server


def _cutout(srv: Server, g, fmt: str, box: str = "") -> str:
    return f"{srv.url}/api/datasets/{g.dataset_id}/cutout?format={fmt}{box}"


def _leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("cutout-*"))


def _unread_answer(srv: Server, g, fmt: str) -> socket.socket:
    """A cutout whose answer has begun and is not read on: a small receive window keeps most of the file on
    the server, which holds its temporary space until the answer is over."""
    address = urlsplit(srv.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect((address.hostname, address.port))
    sock.sendall(
        f"GET /api/datasets/{g.dataset_id}/cutout?format={fmt} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_files_beyond_the_bound_are_503_with_retry_after(generated, tmp_path, fmt):
    g = generated["big"]  # 70 x 300 x 261 uint16: a 10.5 MiB file
    with Server(
        generated["_catalog"], "--cache-mb", "16", "--cutout-files", "1", "--cutout-tmp-dir", str(tmp_path)
    ) as srv:
        with _unread_answer(srv, g, fmt):
            r = requests.get(_cutout(srv, g, fmt, "&z=0:2"), timeout=60)
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "10"
            assert r.json()["error"] == "unavailable"
            assert "all 1 cutout files this server writes at once" in r.json()["reason"]
            assert str(tmp_path) not in r.text
            assert requests.get(_cutout(srv, g, "npy", "&z=0:2"), timeout=60).status_code == 200  # no file
        # the first client went away: its slot is free again (the server notices the disconnect)
        deadline = time.monotonic() + 30
        while (r := requests.get(_cutout(srv, g, fmt, "&z=0:2"), timeout=60)).status_code == 503:
            assert time.monotonic() < deadline, "the slot was never released"
            time.sleep(0.05)
        assert r.status_code == 200
        assert int(r.headers["Content-Length"]) == len(r.content)
        assert _leftovers(tmp_path) == []


def test_a_file_larger_than_the_temporary_budget_is_413(generated, tmp_path):
    g = generated["big"]  # 70 x 300 x 261 uint16: 10.5 MiB
    with Server(generated["_catalog"], "--cutout-tmp-mb", "4", "--cutout-tmp-dir", str(tmp_path)) as srv:
        r = requests.get(_cutout(srv, g, "tiff"), timeout=60)
        assert r.status_code == 413
        assert "more than the 4 MiB this server allows for cutout files" in r.json()["reason"]
        assert requests.get(_cutout(srv, g, "npy"), timeout=60).status_code == 200  # no temporary file
        assert requests.get(_cutout(srv, g, "tiff", "&z=0:10"), timeout=60).status_code == 200
        assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_a_temporary_disk_that_refuses_the_file_is_a_clear_503(generated, tmp_path, fmt):
    """RLIMIT_FSIZE set on the server process: writing past 1 MiB fails with EFBIG, as a full disk would."""
    g = generated["big"]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with Server(generated["_catalog"], "--cutout-tmp-dir", str(tmp)) as srv:
        resource.prlimit(srv.proc.pid, resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        r = requests.get(_cutout(srv, g, fmt), timeout=60)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error"] == "unavailable"
        assert body["reason"].startswith("the server's temporary disk refused the file (writing the file failed: ")
        assert str(tmp) not in r.text and "cutout-" not in r.text
        assert r.headers["Retry-After"] == "10"
        assert _leftovers(tmp) == []
        small = requests.get(_cutout(srv, g, fmt, "&z=0:1&y=0:8&x=0:8"), timeout=60)  # under the limit
        assert small.status_code == 200 and int(small.headers["Content-Length"]) == len(small.content)
        assert _leftovers(tmp) == []
    assert "Traceback" not in Path(srv.log.name).read_text()
