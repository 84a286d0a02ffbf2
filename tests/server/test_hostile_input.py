"""Hostile HTTP input answered in process: numbers in query parameters, long viewer file names,
If-None-Match: * on the warm and the cold path, Range on chunk bodies, Host headers that links must not
trust, and unexpected errors answered as JSON with an id that the one log line carries too."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.helpers import in_process
from tests.require import skip_without
from transformer.server.app import AnswerEveryError
from transformer.server.routes.neuroglancer import client_dir

HOSTILE_NUMBERS = ["9" * 5000, "1" + "0" * 19, "²", "①", "١", "０", " 1", "+1", "-1", "1_0", "01", "1.0", "0x1"]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS, ids=lambda v: f"{len(v)}-{v[:3]!a}")
def test_numbers_in_query_parameters_are_canonical_or_400(client, generated, value):
    ds = generated["tc"].dataset_id
    for url in (f"/api/datasets?limit={value}", f"/api/datasets?offset={value}", f"/api/query?limit={value}",
                f"/api/datasets/{ds}/neuroglancer?t={value}", f"/neuroglancer/{ds}?t={value}"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 400, url[:80]
        assert r.json()["error"] == "bad_request" and len(r.json()["reason"]) < 200


def test_canonical_numbers_in_query_parameters_still_work(client, generated):
    ds = generated["tc"].dataset_id  # two time points
    assert client.get("/api/datasets?limit=1&offset=0").json()["limit"] == 1
    assert client.get(f"/api/datasets/{ds}/neuroglancer?t=1").status_code == 200
    assert client.get(f"/api/datasets/{ds}/neuroglancer?t=2").status_code == 404
    assert client.get(f"/api/datasets/{ds}/neuroglancer?t={'9' * 19}").status_code == 404
    assert client.get("/api/datasets?limit=0").status_code == 400  # canonical, out of range


@skip_without("modules", client_dir() is not None, "the neuroglancer package is not installed")
@pytest.mark.parametrize("name", ["a" * 256 + ".js", "b" * 5000 + ".map", "é" * 200 + ".js"])
def test_long_viewer_file_names_are_404(client, name):
    r = client.get(f"/viewer/{name}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert len(r.json()["reason"]) < 200


def test_if_none_match_star_is_304_on_the_cold_and_the_warm_path(client, generated):
    url = f"/zarr/{generated['float'].dataset_id}.ome.zarr/0/0/0/0/1/1"
    cold = client.get(url, headers={"If-None-Match": "*"})
    warm_full = client.get(url)
    warm = client.get(url, headers={"If-None-Match": "*"})
    assert warm_full.status_code == 200 and warm_full.content
    assert cold.status_code == warm.status_code == 304
    assert cold.content == warm.content == b""
    assert cold.headers["etag"] == warm.headers["etag"] == warm_full.headers["etag"]
    # a list that does not hold the tag is not a match on either path, even if it holds it as a substring
    near = warm_full.headers["etag"][:-1] + 'x"'
    assert client.get(url, headers={"If-None-Match": f'"x", {near}'}).status_code == 200


def test_range_on_a_chunk_is_one_range_and_several_are_ignored(client, generated):
    """Range is served (issue 21, tests/server/test_ranges.py): one range is 206, cold and warm alike; several
    ranges in one header are answered whole (RFC 9110 14.2 lets a server ignore them)."""
    url = f"/zarr/{generated['float'].dataset_id}.ome.zarr/0/0/0/0/0/1"
    whole = client.get(url, headers={"Accept-Encoding": "identity"})
    for _ in range(2):
        r = client.get(url, headers={"Range": "bytes=0-9"})
        assert r.status_code == 206 and r.content == whole.content[:10]
        r = client.get(url, headers={"Range": "bytes=0-9,20-29", "Accept-Encoding": "identity"})
        assert r.status_code == 200 and r.content == whole.content and "content-range" not in r.headers


def _links(client, ds: str, host: str | None) -> str:
    headers = {"Host": host} if host else {}
    return client.get(f"/api/datasets/{ds}", headers=headers).text + client.get(
        f"/api/datasets/{ds}/neuroglancer", headers=headers).text


def test_links_never_follow_an_untrusted_host_header(generated):
    ds = generated["tc"].dataset_id
    with in_process(generated["_catalog"]) as c:
        assert "http://testserver/zarr/" in _links(c, ds, None)  # the address the client connected to
        evil = _links(c, ds, "evil.example")
        assert "evil.example" not in evil and "http://testserver:80/zarr/" in evil
        assert "http://localhost:8123/zarr/" in _links(c, ds, "localhost:8123")  # loopback is trusted
    with in_process(generated["_catalog"], allowed_hosts="brains.example, mirror.example") as c:
        assert "http://brains.example/zarr/" in _links(c, ds, "brains.example")
        assert "evil.example" not in _links(c, ds, "evil.example")
    with in_process(generated["_catalog"], public_url="https://data.example/tx/") as c:
        text = _links(c, ds, "brains.example")
        assert "https://data.example/tx/zarr/" in text and "brains.example" not in text


def test_an_unexpected_error_is_json_500_with_the_id_of_its_one_log_line(caplog):
    async def broken(request):
        raise RuntimeError("state at /srv/secret/brains/x.tif went missing")

    app = Starlette(routes=[Route("/broken", broken)], middleware=[Middleware(AnswerEveryError)])  # as create_app
    with TestClient(app) as c, caplog.at_level(logging.DEBUG, logger="transformer.server.errors"):
        r = c.get("/broken")
    body = r.json()
    assert r.status_code == 500 and r.headers["cache-control"] == "no-store"
    assert body == {"error": "internal_error", "reason": "the server failed to handle this request",
                    "status": 500, "error_id": body["error_id"]}
    assert re.fullmatch("[0-9a-f]{12}", body["error_id"])
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.ERROR]
    assert errors == [f"{body['error_id']} 500 internal_error: RuntimeError: state at x.tif went missing"]
    assert not any(rec.exc_info for rec in caplog.records if rec.levelno > logging.DEBUG)
