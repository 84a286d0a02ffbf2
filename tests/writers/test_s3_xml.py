"""The S3 API's pure parts (writers/s3_xml.py): pages with prefixes, delimiters and resume points over a real
view's keys, continuation tokens bound to their listing, and XML that parses in AWS's element order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from tests.writers.specs import SPECS
from writers import s3_xml
from writers.codecs import compressor
from writers.listing import END, walk
from writers.registry import VIEWS
from writers.s3_xml import Entry, InvalidArgument, page
from writers.view import ViewOptions

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
WHEN = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PLAIN = ViewOptions(compressor("none"), plain=True)


def source():
    """The zarr view's keys of two specs as one bucket (``a.ome.zarr/…``, ``b.ome.zarr/…``)."""
    view = VIEWS["zarr"]
    from writers.listing import Folder, mapped

    trees = [mapped(view.tree(SPECS[s], PLAIN), lambda typed: Entry(1, '"x"', WHEN)) for s in ("u16", "tc")]
    bucket = Folder(("a.ome.zarr/", "b.ome.zarr/"), lambda i: trees[i])
    return lambda after, collapse: walk(bucket, "", after, collapse)


def every(prefix="", delimiter="", max_keys=7):
    keys, prefixes, after = [], [], ""
    while True:
        p = page(source(), prefix, delimiter, max_keys, after)
        assert len(p.contents) + len(p.prefixes) <= max_keys
        keys += [k for k, _ in p.contents]
        prefixes += p.prefixes
        if not p.truncated:
            return keys, prefixes
        after = p.resume


def test_pages_join_to_the_whole_listing():
    everything = [k for k, _ in source()("", None)]
    assert everything == sorted(everything) and len(everything) > 100
    assert every()[0] == everything
    assert every("a.ome.zarr/0/0/0/1")[0] == [k for k in everything if k.startswith("a.ome.zarr/0/0/0/1")]
    assert every("b.ome.zarr/1/", max_keys=1000)[0] == [k for k in everything if k.startswith("b.ome.zarr/1/")]


@pytest.mark.parametrize("prefix", ["", "a.ome.zarr/", "a.ome.zarr/0/", "b.ome.zarr/0/1/", "a.ome.zarr/0/0/0/1",
                                    "c", "a.ome.zarr/0/0/0/0/1/"])
@pytest.mark.parametrize("max_keys", [1, 3, 1000])
def test_delimiter_groups_as_s3_does(prefix, max_keys):
    everything = [k for k, _ in source()("", None)]
    expected_keys, expected_prefixes = [], []
    for k in everything:
        if not k.startswith(prefix):
            continue
        cut = k.find("/", len(prefix))
        if cut < 0:
            expected_keys.append(k)
        elif k[:cut + 1] not in expected_prefixes:
            expected_prefixes.append(k[:cut + 1])
    assert every(prefix, "/", max_keys) == (expected_keys, expected_prefixes)


def test_max_keys_zero_and_before():
    assert page(source(), "", "", 0, "") == s3_xml.Page()
    assert s3_xml.before("ab") < "ab" < "ab0" and s3_xml.before("ab") > "aa" + END[:-1] + "z"


def test_tokens_are_bound_to_their_listing():
    t = s3_xml.token("zarr", "a/", "/", "a/0/" + END)
    assert s3_xml.resume_of(t, "zarr", "a/", "/") == "a/0/" + END
    for bucket, prefix, delimiter in (("zarr3", "a/", "/"), ("zarr", "b/", "/"), ("zarr", "a/", "")):
        with pytest.raises(InvalidArgument):
            s3_xml.resume_of(t, bucket, prefix, delimiter)
    for bad in ("", "!!!", t[:-2], t[:10] + ("A" if t[10] != "A" else "B") + t[11:], "x" * 5000):
        with pytest.raises(InvalidArgument):
            s3_xml.resume_of(bad, "zarr", "a/", "/")


def test_list_v2_xml():
    p = page(source(), "a.ome.zarr/0/0/0/0/", "/", 2, "")  # three y folders
    body = s3_xml.list_v2("zarr", "a.ome.zarr/0/0/0/0/", "/", 2, True, p, None, "TOKEN", None)
    root = ET.fromstring(body)
    assert root.tag == NS + "ListBucketResult"
    names = [child.tag.removeprefix(NS) for child in root]
    assert names == ["Name", "Prefix", "NextContinuationToken", "KeyCount", "MaxKeys", "Delimiter", "EncodingType",
                     "IsTruncated", "CommonPrefixes", "CommonPrefixes"]
    assert root.find(NS + "KeyCount").text == "2" and root.find(NS + "IsTruncated").text == "true"
    p = page(source(), "a.ome.zarr/", "", 2, "")
    root = ET.fromstring(s3_xml.list_v2("zarr", "a.ome.zarr/", "", 2, False, p, None, None, None))
    contents = root.findall(NS + "Contents")
    assert [c.tag.removeprefix(NS) for c in contents[0]] == ["Key", "LastModified", "ETag", "Size", "StorageClass"]
    assert contents[0].find(NS + "LastModified").text == "2026-12-06T12:00:00.000Z"
    assert contents[0].find(NS + "ETag").text == '"x"'


def test_error_and_bucket_xml():
    root = ET.fromstring(s3_xml.error("NoSuchKey", "nope <&>", "/s3/zarr/k", "RID"))
    assert [c.tag for c in root] == ["Code", "Message", "Resource", "RequestId"]
    assert root.find("Message").text == "nope <&>"
    root = ET.fromstring(s3_xml.list_buckets(["precomputed", "zarr"], WHEN))
    assert [b.find(NS + "Name").text for b in root.iter(NS + "Bucket")] == ["precomputed", "zarr"]


def test_etags():
    assert s3_xml.md5_etag(b"abc") == '"900150983cd24fb0d6963f7d28e17f72"'
    tag = s3_xml.opaque_etag("v", "zarr", (1, 2))
    assert tag.endswith('-1"') and len(tag) == 36  # multipart form: SDKs do not check it as an MD5
