"""The S3 facade in process (routes/s3.py): routes and status codes, S3 error XML with a request id for every bad
input (never a 5xx), access (listings show only what the caller may read; tokens as Bearer or /t/TOKEN/),
conditionals and Range, and the listings Neuroglancer's folder browsing asks the view prefixes for."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.helpers import in_process
from tests.server.test_access import build_catalog

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def xml(r):
    return ET.fromstring(r.content)


def keys(r) -> list[str]:
    return [c.find(NS + "Key").text for c in xml(r).iter(NS + "Contents")]


def prefixes(r) -> list[str]:
    return [c.find(NS + "Prefix").text for c in xml(r).iter(NS + "CommonPrefixes")]


BUCKETS = ["precomputed", "zarr", "zarr3", "zarr3-sharded"]  # every installed view, by name


def bucket_names(r) -> list[str]:
    return [b.find(NS + "Name").text for b in xml(r).iter(NS + "Bucket")]


def error_code(r) -> str:
    assert r.headers["content-type"].startswith("application/xml") and r.headers["x-amz-request-id"]
    return xml(r).find("Code").text


def test_list_buckets_with_and_without_slash(client):
    for path in ("/s3", "/s3/"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["x-amz-request-id"]
        assert bucket_names(r) == BUCKETS


def test_head_bucket(client):
    assert client.head("/s3/zarr").status_code == 200
    assert client.head("/s3/zarr/").status_code == 200
    r = client.head("/s3/nope")
    assert r.status_code == 404 and r.content == b""
    r = client.get("/s3/nope?list-type=2")
    assert r.status_code == 404 and error_code(r) == "NoSuchBucket"


def test_root_listing_names_every_public_dataset(client, generated):
    r = client.get("/s3/zarr?list-type=2&delimiter=/")
    ids = sorted(g.dataset_id for name, g in generated.items() if name != "_catalog")
    assert prefixes(r) == [f"{i}.ome.zarr/" for i in ids] and keys(r) == []
    assert xml(r).find(NS + "KeyCount").text == str(len(ids))
    r = client.get("/s3/precomputed?list-type=2&delimiter=/")
    assert prefixes(r) == [f"{i}/" for i in ids]


def test_max_keys_rules(client, generated):
    base = f"/s3/zarr?list-type=2&prefix={generated['big'].dataset_id}.ome.zarr/"
    r = client.get(base + "&max-keys=0")
    assert r.status_code == 200 and keys(r) == [] and xml(r).find(NS + "IsTruncated").text == "false"
    everything = keys(client.get(base))  # AWS's default page: 1000 keys
    assert 50 < len(everything) < 1000
    r = client.get(base + "&max-keys=5000")
    assert keys(r) == everything and xml(r).find(NS + "MaxKeys").text == "1000"  # capped
    r = client.get(base + "&max-keys=10")
    assert keys(r) == everything[:10] and xml(r).find(NS + "IsTruncated").text == "true"


@pytest.mark.parametrize("query", [
    "max-keys=-1", "max-keys=abc", "max-keys=99999999999999999999999", "max-keys=1.5",
    "continuation-token=bm9wZQ", "continuation-token=%00%01", "encoding-type=base64",
    "prefix=" + "a" * 2048, "delimiter=%01", "start-after=" + "é" * 600,
])
def test_bad_listing_input_is_invalid_argument(client, query):
    r = client.get("/s3/zarr?list-type=2&" + query)
    assert r.status_code == 400 and error_code(r) == "InvalidArgument"


def test_token_of_another_listing_is_refused(client, generated):
    one = f"{generated['big'].dataset_id}.ome.zarr/"
    r = client.get(f"/s3/zarr?list-type=2&max-keys=2&prefix={one}")
    token = xml(r).find(NS + "NextContinuationToken").text
    assert client.get(f"/s3/zarr?list-type=2&max-keys=2&prefix={one}&continuation-token={token}").status_code == 200
    for other in (f"/s3/zarr3?list-type=2&prefix={one}", "/s3/zarr?list-type=2&prefix=x",
                  f"/s3/zarr?list-type=2&prefix={one}&delimiter=/"):
        r = client.get(f"{other}&continuation-token={token}")
        assert r.status_code == 400 and error_code(r) == "InvalidArgument"


@pytest.mark.parametrize("key", ["ID.ome.zarr/../../etc/passwd", "ID.ome.zarr/%2e%2e/x", "ID.ome.zarr/0/ü/0",
                                 "ID.ome.zarr/9/0/0/0/0/0", "ID.ome.zarr/", "ID.ome.zarr", "nope.ome.zarr/.zattrs",
                                 "ID.ome.zarr/0/0/0/0/0/0/0", "ID.ome.zarr/zarr.json", "ID/.zattrs",
                                 "ID.ome.zarr/%01%0b", "ID.ome.zarr/%ED%A0%80", "ID.ome.zarr/<&>"])
def test_missing_keys_are_no_such_key(client, generated, key):
    r = client.get("/s3/zarr/" + key.replace("ID", generated["big"].dataset_id))
    # the client resolves ``..`` before sending: /s3/etc/passwd names no bucket
    assert r.status_code == 404 and error_code(r) == ("NoSuchBucket" if "../" in key else "NoSuchKey")


def test_long_key_and_writes(client, generated):
    r = client.get("/s3/zarr/" + "a" * 2048)
    assert r.status_code == 400 and error_code(r) == "KeyTooLongError"
    r = client.put(f"/s3/zarr/{generated['big'].dataset_id}.ome.zarr/.zattrs", content=b"x")
    assert r.status_code == 405 and error_code(r) == "MethodNotAllowed"


def test_object_conditionals_and_range(client, generated):
    path = f"/s3/zarr/{generated['big'].dataset_id}.ome.zarr/0/0/0/0/0/0"
    head = client.head(path)
    size, etag = int(head.headers["content-length"]), head.headers["etag"]
    assert etag.endswith('-1"') and head.headers["last-modified"].endswith("GMT")
    whole = client.get(path)
    assert (whole.status_code, len(whole.content), whole.headers["etag"]) == (200, size, etag)
    assert "content-encoding" not in client.get(path, headers={"Accept-Encoding": "gzip"}).headers
    r = client.get(path, headers={"Range": "bytes=-100"})
    assert (r.status_code, r.content) == (206, whole.content[-100:])
    assert r.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    r = client.head(path, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["content-length"] == "10"
    r = client.get(path, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and error_code(r) == "InvalidRange" and r.headers["content-range"] == f"bytes */{size}"
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-Match": etag}).status_code == 200
    r = client.get(path, headers={"If-Match": '"other"'})
    assert r.status_code == 412 and error_code(r) == "PreconditionFailed"
    doc = client.get(f"/s3/zarr/{generated['big'].dataset_id}.ome.zarr/0/.zarray")
    import hashlib

    assert doc.headers["etag"] == '"' + hashlib.md5(doc.content).hexdigest() + '"'  # a real MD5
    assert doc.json()["compressor"] is None  # plain chunks: sizes follow from the geometry


def test_neuroglancer_folder_browsing(client, generated):
    r = client.get("/zarr/?list-type=2&prefix=&delimiter=/")
    ids = sorted(g.dataset_id for name, g in generated.items() if name != "_catalog")
    assert r.status_code == 200 and prefixes(r) == [f"{i}.ome.zarr/" for i in ids]
    one = f"{generated['big'].dataset_id}.ome.zarr/"
    r = client.get(f"/zarr/?list-type=2&prefix={one}&delimiter=/")
    assert keys(r) == [one + ".zattrs", one + ".zgroup", one + ".zmetadata"]
    assert prefixes(r) == [one + f"{i}/" for i in range(len(prefixes(r)))]
    r = client.get(f"/zarr/?list-type=2&prefix={one}0/0/0/0/0/")  # compressed chunks: sizes unknown, not listed
    assert r.status_code == 200 and keys(r) == []
    r = client.get(f"/precomputed/?list-type=2&prefix={generated['big'].dataset_id}/&delimiter=/")
    assert keys(r) == [f"{generated['big'].dataset_id}/info"]


def unqualified(r, tag: str, child: str) -> list[str]:
    return [c.find(child).text for c in xml(r).iter(tag)]  # elements in no namespace


def test_browsers_get_each_entry_once_more_in_no_namespace(client, generated):
    """Neuroglancer <= 2.41.2 finds only entries in no namespace (s3_xml.list_v2): a browser's fetch of a view
    prefix's listing carries both forms; S3 clients, and every listing under /s3/, only S3's."""
    one = f"{generated['big'].dataset_id}.ome.zarr/"
    browser = {"Sec-Fetch-Mode": "cors"}
    for url in (f"/zarr/?list-type=2&prefix={one}&delimiter=/", f"/?list-type=2&prefix=zarr/{one}&delimiter=/"):
        plain, fetched = client.get(url), client.get(url, headers=browser)
        assert unqualified(plain, "Contents", "Key") == unqualified(plain, "CommonPrefixes", "Prefix") == []
        assert unqualified(fetched, "Contents", "Key") == keys(fetched) == keys(plain) != []
        assert unqualified(fetched, "CommonPrefixes", "Prefix") == prefixes(fetched) == prefixes(plain) != []
    r = client.get(f"/s3/zarr?list-type=2&prefix={one}&delimiter=/", headers=browser)
    assert unqualified(r, "Contents", "Key") == [] and keys(r) != []


def test_list_v1_pages_with_marker(client, generated):
    one = f"{generated['tc'].dataset_id}.ome.zarr/"
    everything = keys(client.get(f"/s3/zarr?list-type=2&prefix={one}"))
    seen, marker = [], ""
    while True:
        r = client.get(f"/s3/zarr?prefix={one}&max-keys=50&marker={marker}")
        seen += keys(r)
        if xml(r).find(NS + "IsTruncated").text != "true":
            break
        marker = seen[-1]
    assert seen == everything


@pytest.fixture(scope="module")
def access(tmp_path_factory):
    path, ids, tokens = build_catalog(tmp_path_factory.mktemp("s3access"))
    with in_process(path) as c:
        yield c, ids, tokens


def listed(c, path="/s3/zarr?list-type=2&delimiter=/", **headers) -> set[str]:
    r = c.get(path, headers=headers)
    assert r.status_code == 200
    return {p.split(".")[0] for p in prefixes(r)}


def test_listings_show_only_readable_data(access):
    c, ids, tokens = access
    assert listed(c) == {ids["open"], ids["released"]}
    assert listed(c, Authorization=f"Bearer {tokens['all']}") == set(ids.values())
    assert listed(c, f"/t/{tokens['secret_only']}/s3/zarr?list-type=2&delimiter=/") == \
        {ids["open"], ids["released"], ids["secret"]}
    r = c.get(f"/t/{tokens['secret_only']}/s3/zarr?list-type=2&delimiter=/")
    assert r.headers["cache-control"] == "private, no-store"
    assert listed(c, "/zarr/?list-type=2&delimiter=/") == {ids["open"], ids["released"]}


def test_objects_need_access(access):
    c, ids, tokens = access
    secret = f"/s3/zarr/{ids['secret']}.ome.zarr/.zattrs"
    embargoed = f"/s3/zarr/{ids['embargoed']}.ome.zarr/0/0/0/0/0/0"
    assert error_code(c.get(secret)) == "NoSuchKey"
    r = c.get(embargoed)
    assert r.status_code == 403 and error_code(r) == "AccessDenied"
    assert c.get(embargoed, headers={"Authorization": f"Bearer {tokens['embargoed_only']}"}).status_code == 200
    assert c.get(f"/t/{tokens['all']}{secret}").status_code == 200
    r = c.get(f"/t/{tokens['revoked']}{secret}")
    assert r.status_code == 404


def test_root_lists_every_view_for_neuroglancer(client, generated):
    """Neuroglancer lists a bare server URL virtual-hosted style: ``GET /?list-type=2&prefix=&delimiter=/``."""
    r = client.get("/?list-type=2&prefix=&delimiter=/&encoding-type=url", headers={"Accept": "application/xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert prefixes(r) == ["precomputed/", "zarr/", "zarr3-sharded/", "zarr3/"]
    r = client.get("/?list-type=2&prefix=zarr/&delimiter=/&encoding-type=url")
    ids = sorted(g.dataset_id for name, g in generated.items() if name != "_catalog")
    assert prefixes(r) == [f"zarr/{i}.ome.zarr/" for i in ids]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")  # still the search


def test_versioned_keys_read_but_stale_ones_are_no_such_key(client, generated):
    record = client.get(f"/api/datasets/{generated['tc'].dataset_id}").json()
    versioned = record["versioned_links"]["zarr"].split("/zarr/", 1)[1]  # {id}@{tag}.ome.zarr
    r = client.get(f"/s3/zarr/{versioned}/.zattrs")
    assert r.status_code == 200
    assert r.content == client.get(f"/s3/zarr/{generated['tc'].dataset_id}.ome.zarr/.zattrs").content
    r = client.get(f"/s3/zarr/{versioned.split('@')[0]}@{'0' * 16}.ome.zarr/.zattrs")
    assert r.status_code == 404 and error_code(r) == "NoSuchKey"


def test_prefix_is_configurable_and_can_be_off(generated):
    with in_process(generated["_catalog"], s3_prefix="/objects") as c:
        assert c.get("/objects").status_code == 200 and c.get("/s3").status_code == 404
    with in_process(generated["_catalog"], s3_prefix="") as c:
        assert c.get("/s3").status_code == 404
        assert c.get("/s3/zarr?list-type=2").status_code == 404
        assert c.get("/zarr/?list-type=2").status_code == 200  # the views' own listings stay (browsing)


@pytest.mark.parametrize("bucket", ["zarr", "zarr3", "precomputed", "zarr3-sharded"])
def test_a_chunk_sent_from_memory_is_the_chunk_made_cold(client, generated, bucket):
    """The second GET of a chunk is sent from the block in memory (View.plain_in_memory): the same bytes, ranges
    included, as the first, which made it; an edge chunk too (padded, so always encoded)."""
    segment = generated["big"].dataset_id + ("" if bucket == "precomputed" else ".ome.zarr")
    listed = [k for k in keys(client.get(f"/s3/{bucket}?list-type=2&prefix={segment}/0/"))
              if not k.rsplit("/", 1)[-1].startswith((".z", "zarr.json"))]
    assert len(listed) > 2
    for key in (listed[0], listed[-1]):
        cold = client.get(f"/s3/{bucket}/{key}")
        warm = client.get(f"/s3/{bucket}/{key}")
        assert cold.status_code == warm.status_code == 200 and cold.content == warm.content
        assert len(warm.content) == int(warm.headers["content-length"]) > 0
        part = client.get(f"/s3/{bucket}/{key}", headers={"Range": "bytes=10-19"})
        assert (part.status_code, part.content) == (206, cold.content[10:20])


def test_virtual_hosted_buckets(generated, tmp_path):
    """``--s3-host s3.test``: ``{bucket}.s3.test/{key}`` is ``/s3/{bucket}/{key}``, ``s3.test`` the S3 root; other
    hosts see the service as before; a token in the path works on a bucket's host too."""
    one = f"{generated['big'].dataset_id}.ome.zarr"
    with in_process(generated["_catalog"], s3_host="s3.test") as c:
        on = {"Host": "zarr.s3.test:8000"}
        r = c.get("/", headers={"Host": "S3.test"})
        assert bucket_names(r) == BUCKETS
        path_style = c.get(f"/s3/zarr/{one}/.zattrs").content
        assert c.get(f"/zarr/{one}/.zattrs", headers={"Host": "s3.test"}).content == path_style
        r = c.get("/?list-type=2&delimiter=/", headers=on)
        assert xml(r).find(NS + "Name").text == "zarr" and f"{one}/" in prefixes(r)
        assert c.head("/", headers=on).status_code == 200  # HeadBucket
        key = f"/{one}/0/0/0/0/0/0"
        r = c.get(key, headers={**on, "Range": "bytes=5-9"})
        assert (r.status_code, r.content) == (206, c.get("/s3/zarr" + key).content[5:10])
        assert c.get(key, headers={"Host": "zarr.s3.test.:8000"}).content == c.get("/s3/zarr" + key).content
        r = c.get(key, headers={"Host": "nope.s3.test"})
        assert r.status_code == 404 and error_code(r) == "NoSuchBucket"
        r = c.get(f"/{one}/..%2f..%2fx", headers=on)
        assert r.status_code == 404 and error_code(r) == "NoSuchKey"
        page = c.get("/", headers={"Host": "archive.example.org"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    with in_process(generated["_catalog"], s3_host="s3.test", s3_prefix="") as c:  # no S3 API: no S3 host
        assert c.get("/", headers={"Host": "s3.test"}).headers["content-type"].startswith("text/html")
    catalog, ids, tokens = build_catalog(tmp_path)
    with in_process(catalog, s3_host="s3.test") as c:
        private = f"/{ids['secret']}.ome.zarr/.zattrs"
        assert c.get(private, headers={"Host": "zarr.s3.test"}).status_code == 404
        r = c.get(f"/t/{tokens['all']}{private}", headers={"Host": "zarr.s3.test"})
        assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store"
