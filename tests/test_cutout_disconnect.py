"""A real server whose client disconnects while an OME-TIFF or HDF5 cutout is being written: the temporary
file is deleted (the writer stops at the next slab: tests/writers/test_cutout_abandon.py), and the server
answers the next request."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from transformer.testing import Server


@pytest.mark.parametrize("fmt", ["tiff", "h5"])
def test_a_disconnected_cutout_leaves_no_temporary_file(generated, tmp_path, fmt):
    g = generated["big"]  # 70 x 300 x 261 uint16: a file written over many slabs
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with Server(generated["_catalog"], "--cache-mb", "16", env={"TMPDIR": str(tmp)}) as srv:
        address = urlsplit(srv.url)
        with socket.create_connection((address.hostname, address.port)) as sock:
            sock.sendall(f"GET /api/datasets/{g.dataset_id}/cutout?format={fmt} HTTP/1.1\r\n"
                         f"Host: {address.netloc}\r\n\r\n".encode())
            deadline = time.monotonic() + 60
            while not list(tmp.glob("cutout-*")) and time.monotonic() < deadline:
                time.sleep(0.01)  # until the server has begun the file
            assert list(tmp.glob("cutout-*")), "the server never started writing the cutout"
        deadline = time.monotonic() + 60
        while list(tmp.glob("cutout-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp.glob("cutout-*")) == []
        assert httpx.get(f"{srv.url}/api/datasets/{g.dataset_id}/cutout?z=0:1&y=0:2&x=0:2").status_code == 200
