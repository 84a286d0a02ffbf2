"""A shard (sent part by part, server/parted.py) whose source fails: at its first part the answer is an ordinary
5xx with a reason (JSON on the view, S3 XML under /s3/); at a later part the status line is out, so the
connection is aborted short of the Content-Length (requests raises, curl exits 18) and the server logs one ERROR
line with the request id. A range that touches only parts that read fine is answered."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
import requests

from readers.base import SourceError
from tests.require import skip_without
from tests.server.test_cutout_failures import ThreadServer
from writers.view import Part
from writers.zarr_v3_sharded import ZarrV3Sharded

REASON = "big.tif: the file changed while being served"


@pytest.fixture
def served(generated, monkeypatch) -> Iterator[tuple[ThreadServer, dict]]:
    """A server whose sharded view fails on the inner chunk of z index ``fail["z"]`` (never from memory: every
    part is made, so the failure is seen wherever it is asked)."""
    fail: dict = {"z": None}
    real = ZarrV3Sharded.encode_part

    def failing(self, part: Part, spec, read):
        if part.chunk is not None and part.chunk.index[2] == fail["z"]:
            raise SourceError(REASON)
        return real(self, part, spec, read)

    monkeypatch.setattr(ZarrV3Sharded, "encode_part", failing)
    monkeypatch.setattr(ZarrV3Sharded, "part_in_memory",
                        lambda self, part, spec, peek: None if part.chunk else part.data)
    srv = ThreadServer(generated["_catalog"], chunks="16,64,64")  # 70 planes: one shard of 5 inner chunks per column
    yield srv, fail
    srv.stop()


def shard_url(srv, generated, s3: bool = False) -> str:
    segment = f"{generated['big'].dataset_id}.ome.zarr/0/c/0/0/0/1/1"
    return f"{srv.url}/s3/zarr3-sharded/{segment}" if s3 else f"{srv.url}/zarr3-sharded/{segment}"


def test_first_part_failing_is_a_clean_error(served, generated):
    srv, fail = served
    fail["z"] = 0
    r = requests.get(shard_url(srv, generated), timeout=60)
    assert r.status_code == 500 and (r.json()["error"], r.json()["reason"]) == ("source_error", REASON)
    r = requests.get(shard_url(srv, generated, s3=True), timeout=60)
    assert r.status_code == 500 and b"<Code>InternalError</Code>" in r.content and b"/" not in r.content.split(
        b"<Message>")[1].split(b"</Message>")[0]


@skip_without("curl", shutil.which("curl") is not None, "curl is not installed")
def test_a_later_part_failing_breaks_the_transfer(served, generated):
    srv, fail = served
    fail["z"] = 3
    for url in (shard_url(srv, generated), shard_url(srv, generated, s3=True)):
        r = requests.get(url, timeout=60, stream=True)
        assert r.status_code == 200 and int(r.headers["content-length"]) > 0
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            r.content  # noqa: B018 - reading the body is the point
        done = subprocess.run(["curl", "-sS", "-o", "/dev/null", url], capture_output=True, text=True, timeout=60)
        assert done.returncode == 18, done.stderr  # CURLE_PARTIAL_FILE
    inner = 16 * 64 * 64 * 2
    r = requests.get(shard_url(srv, generated), headers={"Range": f"bytes=0-{2 * inner - 1}"}, timeout=60)
    assert r.status_code == 206 and len(r.content) == 2 * inner  # parts 0 and 1 read fine
    fail["z"] = None
    assert requests.get(shard_url(srv, generated), timeout=60).status_code == 200
