"""Access levels over every route family, in process (issue 11): each level × route × credentials gives the
specified status, tokens work as a Bearer header and as the /t/{TOKEN}/ prefix, links embed a valid token,
non-public answers are private/no-store and never answered by the warm path, and a revocation or an access
change counts from the very next request."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from catalog.tokens import TokenRow, digest, new_token
from tests.helpers import in_process

LEVELS = {"open": "public", "embargoed": "embargoed", "secret": "private", "released": "embargoed"}
SIDECARS = {"open": {}, "embargoed": {"access": "embargoed", "embargo_until": "2999-01-01"},
            "secret": {"access": "private"}, "released": {"access": "embargoed", "embargo_until": "2000-01-01"}}

DATA_ROUTES = [  # (route family, path template): voxel data and its documents
    ("zarr", "/zarr/{id}.ome.zarr/.zattrs"),
    ("zarr", "/zarr/{id}.ome.zarr/0/0/0/0/0/0"),
    ("zarr3", "/zarr3/{id}.ome.zarr/zarr.json"),
    ("zarr3", "/zarr3/{id}.ome.zarr/0/c/0/0/0/0/0"),
    ("zarr3-sharded", "/zarr3-sharded/{id}.ome.zarr/zarr.json"),
    ("zarr3-sharded", "/zarr3-sharded/{id}.ome.zarr/0/c/0/0/0/0/0"),  # a shard: sent part by part (parted.py)
    ("precomputed", "/precomputed/{id}/info"),
    ("precomputed", "/precomputed/{id}/0/0-20_0-16_0-1"),
    ("neuroglancer", "/api/datasets/{id}/neuroglancer"),
    ("neuroglancer", "/neuroglancer/{id}"),
    ("cutout", "/api/datasets/{id}/cutout?format=npy"),
]
RECORD_ROUTES = [("catalog", "/api/datasets/{id}"), ("bil", "/api/retrieve?id={id}")]
LIST_ROUTES = ["/api/datasets", "/api/query?q=", "/"]


def build_catalog(tmp: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The four datasets (one per access level) and the tokens: (catalog path, ids by name, tokens by name)."""
    root = tmp / "root"
    root.mkdir()
    for i, (name, sidecar) in enumerate(SIDECARS.items()):
        tifffile.imwrite(root / f"{name}.ome.tif", np.full((4, 16, 20), 10 * (i + 1), np.uint8), ome=True)
        if sidecar:
            (root / f"{name}.ome.tif.json").write_text(json.dumps(sidecar))
    catalog = Catalog(tmp / "c.sqlite")
    scan(root, catalog)
    ids = {r.title.removesuffix(".ome.tif"): r.id for r in catalog.all()}
    tokens = {}
    tokens["all"], row = new_token("all", None, None)
    catalog.put_token(row)
    tokens["embargoed_only"], row = new_token("embargoed_only", [ids["embargoed"]], None)
    catalog.put_token(row)
    tokens["secret_only"], row = new_token("secret_only", [ids["secret"]], None)
    catalog.put_token(row)
    tokens["expired"], row = new_token("expired", None, timedelta(days=1))
    catalog.put_token(TokenRow(row.name, row.hash, None, row.created, "2001-01-01T00:00:00+00:00"))
    tokens["revoked"], row = new_token("revoked", None, None)
    catalog.put_token(row)
    catalog.revoke_token("revoked", "2026-01-01T00:00:00+00:00")
    tokens["wrong"] = "x" * 43
    catalog.close()
    return tmp / "c.sqlite", ids, tokens


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path, ids, tokens = build_catalog(tmp_path_factory.mktemp("access"))
    with in_process(path) as client:
        yield client, ids, tokens


def fetch(client, path: str, token: str | None, how: str):
    if token is None:
        return client.get(path, follow_redirects=False)
    if how == "bearer":
        return client.get(path, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
    return client.get(f"/t/{token}{path}", follow_redirects=False)


def ok(path: str) -> int:
    return 307 if path.startswith("/neuroglancer/") else 200


def expected_data(level: str, creds: str, path: str) -> int:
    if level == "public" or creds in ("all",):
        return ok(path)
    granted = {"embargoed_only": "embargoed", "secret_only": "private"}.get(creds)
    if granted == level:
        return ok(path)
    if level == "private":
        return 404
    valid = creds in ("embargoed_only", "secret_only")
    return 403 if valid else 401


CREDS = [None, "wrong", "expired", "revoked", "embargoed_only", "secret_only", "all"]


@pytest.mark.parametrize("how", ["bearer", "prefix"])
@pytest.mark.parametrize("creds", CREDS)
@pytest.mark.parametrize("name", list(LEVELS))
def test_matrix(world, name, creds, how):
    client, ids, tokens = world
    level = "public" if name == "released" else LEVELS[name]  # an embargo past its date is public
    token = tokens.get(creds) if creds else None
    for family, template in DATA_ROUTES:
        path = template.format(id=ids[name])
        r = fetch(client, path, token, how)
        want = expected_data(level, creds, path)
        assert r.status_code == want, (family, path, creds, how, r.text[:200])
        if want == 401:
            assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
        if want == 403:
            assert r.json()["error"] == "forbidden"
        if want == 404:  # existence not revealed: the same answer as an id nobody registered
            unknown = fetch(client, template.format(id="zzz-zzz-zzz"), token, how).json()
            assert r.json() == {**unknown, "reason": unknown["reason"].replace("zzz-zzz-zzz", ids[name])}
        if level != "public" and want in (200, 307):
            assert r.headers["cache-control"] == "private, no-store"
    for family, template in RECORD_ROUTES:
        r = fetch(client, template.format(id=ids[name]), token, how)
        want = 404 if level == "private" and expected_data(level, creds, "") != 200 else 200
        assert r.status_code == want, (family, creds, how)
        if want == 200:
            assert r.json()["access"] == level and r.json()["public"] == (level == "public")
    for path in LIST_ROUTES:
        r = fetch(client, path, token, how)
        assert r.status_code == 200
        listed = ids[name] in r.text
        assert listed == (level != "private" or expected_data(level, creds, "") == 200), (path, creds)


def test_embargoed_record_shows_its_date_and_voxels_are_exact_with_a_token(world):
    client, ids, tokens = world
    record = client.get(f"/api/datasets/{ids['embargoed']}").json()
    assert record["access"] == "embargoed" and record["embargo_until"] == "2999-01-01"
    assert record["links"]["zarr"].endswith(f"/zarr/{ids['embargoed']}.ome.zarr")  # no token: no token in links
    for how in ("bearer", "prefix"):
        r = fetch(client, f"/zarr/{ids['embargoed']}.ome.zarr/0/.zarray", tokens["all"], how)
        meta = r.json()
        chunk = fetch(client, f"/zarr/{ids['embargoed']}.ome.zarr/0/0/0/0/0/0", tokens["all"], how)
        import numcodecs

        raw = numcodecs.get_codec(meta["compressor"]).decode(chunk.content) if meta["compressor"] else chunk.content
        voxels = np.frombuffer(raw, meta["dtype"]).reshape(meta["chunks"])
        assert (voxels[0, 0, :4, :16, :20] == 20).all()


def test_links_and_neuroglancer_states_embed_a_valid_token(world):
    client, ids, tokens = world
    token = tokens["all"]
    for how in ("bearer", "prefix"):
        record = fetch(client, f"/api/datasets/{ids['secret']}", token, how).json()
        assert all(f"/t/{token}/" in url for url in record["links"].values())
        state = fetch(client, f"/api/datasets/{ids['secret']}/neuroglancer", token, how).json()
        source = state["state"]["layers"][0]["source"]
        source = source["url"] if isinstance(source, dict) else source
        assert source.endswith(record["versioned_links"]["zarr"])  # the immutable URL of this version (issue 14)
        assert f"/t/{token}/zarr/{ids['secret']}@" in source
        listed = fetch(client, "/api/datasets", token, how).json()["datasets"]
        assert all(f"/t/{token}/" in d["links"]["zarr"] for d in listed)
    # a token that is not valid is never echoed into links
    record = fetch(client, f"/api/datasets/{ids['open']}", tokens["revoked"], "prefix").json()
    assert tokens["revoked"] not in json.dumps(record)


def test_a_link_with_the_token_prefix_reads_relative_keys(world):
    """What a viewer does with a shared link: every relative key keeps the prefix."""
    client, ids, tokens = world
    link = fetch(client, f"/api/datasets/{ids['secret']}", tokens["secret_only"], "bearer").json()["links"]["zarr"]
    path = link.split("://", 1)[1].split("/", 1)[1]
    for key in (".zattrs", "0/.zarray", "0/0/0/0/0/0"):
        assert client.get(f"/{path}/{key}").status_code == 200


def test_warm_path_never_answers_a_private_chunk_without_the_grant(world):
    client, ids, tokens = world
    path = f"/zarr/{ids['secret']}.ome.zarr/0/0/0/0/0/0"
    for _ in range(3):  # warm it with the grant
        assert fetch(client, path, tokens["all"], "bearer").status_code == 200
    assert client.get(path).status_code == 404
    assert fetch(client, path, tokens["embargoed_only"], "prefix").status_code == 404
    public = f"/zarr/{ids['open']}.ome.zarr/0/0/0/0/0/0"
    for _ in range(3):
        r = client.get(public)
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")


def test_revocation_and_access_changes_count_from_the_next_request(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "a.ome.tif", np.full((4, 16, 20), 7, np.uint8), ome=True)
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    (record,) = catalog.all()
    token, row = new_token("t", None, None)
    catalog.put_token(row)
    chunk = f"/zarr/{record.id}.ome.zarr/0/0/0/0/0/0"
    with in_process(tmp_path / "c.sqlite") as client:
        for _ in range(3):  # public and warm: the fast path holds it
            assert client.get(chunk).status_code == 200
        # another process (a separate connection) makes it private and revokes the token
        other = Catalog(tmp_path / "c.sqlite")
        (root / "a.ome.tif.json").write_text('{"access": "private"}')
        scan(root, other)
        assert client.get(chunk).status_code == 404
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get(chunk, headers=auth).status_code == 200
        other.revoke_token("t", "2026-01-01T00:00:00+00:00")
        assert client.get(chunk, headers=auth).status_code == 404
        other.close()


def test_tokens_are_stored_hashed(world, tmp_path):
    _, _, tokens = world
    token, row = new_token("x", None, None)
    assert row.hash == digest(token) and token not in json.dumps(row.as_row())
