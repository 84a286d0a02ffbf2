"""What an anonymous client can learn about private datasets and tokens, route by route (issue 22 items 1-3):
a private id must be as unobservable as an id nobody registered (/metrics, /openapi.json, pages, search facets
and counts, 404 bodies and headers); no response hands a /t/TOKEN/ URL on as a Referer; a request with a token
is never answered ``public`` by the warm path; the full metrics (token names, restricted reads per dataset) are
only on the separate loopback listener."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import in_process
from tests.server.test_access import build_catalog, fetch, world  # noqa: F401 - world is the fixture of the access matrix
from transformer.testing import free_port


def unknown_like(dataset_id: str) -> str:
    """An id nobody registered, spelt like ``dataset_id`` (same length, same alphabet)."""
    return dataset_id[:-1] + ("a" if dataset_id[-1] != "a" else "b")


def numbers(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in text.splitlines() if line)}


def test_probing_a_private_id_moves_the_public_metrics_as_an_unknown_id_does(world):  # noqa: F811
    client, ids, tokens = world
    private, unknown = ids["secret"], unknown_like(ids["secret"])
    paths = ("/zarr/{}.ome.zarr/.zattrs", "/zarr/{}.ome.zarr/0/0/0/0/0/0", "/precomputed/{}/info", "/api/datasets/{}")
    snapshots = [numbers(client.get("/metrics").text)]
    for dataset_id in (private, unknown):
        for path in paths:
            assert client.get(path.format(dataset_id)).status_code == 404
        snapshots.append(numbers(client.get("/metrics").text))
    a, b, c = snapshots
    assert a.keys() == b.keys() == c.keys()
    moved = {name: (b[name] - a[name], c[name] - b[name]) for name in a if (a[name], b[name]) != (b[name], c[name])}
    assert all(by_private == by_unknown for by_private, by_unknown in moved.values()), moved  # e.g. nothing opened
    # a token's reads are not public either: its name and the private id stay off the public metrics
    assert fetch(client, f"/zarr/{private}.ome.zarr/.zattrs", tokens["secret_only"], "bearer").status_code == 200
    text = client.get("/metrics").text
    assert private not in text and "secret_only" not in text and "restricted_reads" not in text


@pytest.mark.parametrize("template", ["/zarr/{}.ome.zarr/.zattrs", "/zarr/{}.ome.zarr/0/0/0/0/0/0",
                                      "/zarr3/{}.ome.zarr/zarr.json", "/precomputed/{}/info",
                                      "/zarr3-sharded/{}.ome.zarr/0/c/0/0/0/0/0",
                                      "/api/datasets/{}", "/api/datasets/{}/neuroglancer", "/neuroglancer/{}",
                                      "/datasets/{}", "/api/retrieve?id={}", "/datasets/{}/thumbnail.png",
                                      "/datasets/{}/preview.png", "/api/datasets/{}/cutout?format=npy",
                                      "/zarr/{}.ome.zarr", "/api/datasets/{}/neurons", "/api/datasets/{}/cells"])
def test_a_private_id_answers_exactly_as_an_unknown_one(world, template):  # noqa: F811
    client, ids, _ = world
    private, unknown = ids["secret"], unknown_like(ids["secret"])
    a, b = client.get(template.format(private)), client.get(template.format(unknown))
    assert a.status_code == b.status_code == 404
    assert a.content.replace(private.encode(), unknown.encode()) == b.content
    assert dict(a.headers) == dict(b.headers)  # ETag, Cache-Control, lengths: no header tells them apart


def test_listings_facets_and_documents_leave_private_records_out(world):  # noqa: F811
    client, ids, _ = world
    private = ids["secret"]
    found = client.get("/api/datasets").json()
    assert found["total"] == 3 and private not in {d["id"] for d in found["datasets"]}
    assert "private" not in dict(map(tuple, found["facets"]["access"]))  # no count reveals one exists
    assert sum(n for _, n in found["facets"]["access"]) == 3
    listings = ("/zarr/", "/precomputed/", "/s3/zarr?list-type=2", "/s3/zarr/?list-type=2&delimiter=/")
    for path in ("/", "/?q=secret", "/api/query?q=secret", "/healthz", *listings, "/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200 and private not in r.text, path
    assert client.get("/healthz").json()["datasets"] == 3
    # an S3 listing by the private id's prefix answers as for an id nobody registered
    by_prefix = [client.get(f"/s3/zarr?list-type=2&prefix={i}").text for i in (private, unknown_like(private))]
    assert by_prefix[0].replace(private, unknown_like(private)) == by_prefix[1]


def test_every_response_asks_browsers_to_send_no_referrer(world):  # noqa: F811
    client, ids, tokens = world
    chunk = f"/zarr/{ids['open']}.ome.zarr/0/0/0/0/0/0"
    for _ in range(2):  # the second one comes from the warm path
        assert client.get(chunk).headers["referrer-policy"] == "no-referrer"
    for path in ("/", f"/datasets/{ids['open']}", "/api/datasets", "/nowhere", "/metrics"):
        assert client.get(path).headers["referrer-policy"] == "no-referrer", path
    assert fetch(client, f"/datasets/{ids['secret']}", tokens["all"], "prefix").headers["referrer-policy"] \
        == "no-referrer"
    preflight = client.options(chunk, headers={"Origin": "https://viewer.example",
                                               "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204 and preflight.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("how", ["bearer", "prefix"])
@pytest.mark.parametrize("creds", ["all", "embargoed_only", "revoked", "wrong"])
def test_a_request_with_a_token_is_never_answered_public_by_the_warm_path(world, how, creds):  # noqa: F811
    client, ids, tokens = world
    chunk = f"/zarr/{ids['open']}.ome.zarr/0/0/0/0/0/0"
    for _ in range(3):
        anonymous = client.get(chunk)
    assert anonymous.headers["cache-control"].startswith("public")  # warm: the fast path holds it
    for _ in range(2):  # nor does a request with a token put its answer there
        with_token = fetch(client, chunk, tokens[creds], how)
        assert with_token.status_code == 200 and with_token.content == anonymous.content
        assert with_token.headers["cache-control"] == "private, no-store"
    assert client.get(chunk).headers["cache-control"].startswith("public")


def test_full_metrics_only_on_the_loopback_listener(tmp_path):
    path, ids, tokens = build_catalog(tmp_path)
    port = free_port()
    with in_process(path, metrics_port=port) as client:
        assert fetch(client, f"/zarr/{ids['secret']}.ome.zarr/.zattrs", tokens["secret_only"], "bearer") \
            .status_code == 200
        assert client.get(f"/zarr/{ids['secret']}.ome.zarr/.zattrs").status_code == 404
        public = client.get("/metrics")
        assert public.status_code == 404 and public.json()["error"] == "not_found"  # as a route nobody has
        full = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert full.status_code == 200 and full.headers["cache-control"] == "no-store"
        assert (f'transformer_restricted_reads_total{{token="secret_only",dataset="{ids["secret"]}",status="200"}} 1'
                in full.text)
        assert f'transformer_restricted_reads_total{{token="-",dataset="{ids["secret"]}",status="404"}} 1' \
            in full.text
        assert "transformer_cache_bytes" in full.text and all(t not in full.text for t in tokens.values())
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 404  # metrics only
    with pytest.raises(httpx.ConnectError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)

