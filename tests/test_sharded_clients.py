"""The sharded zarr v3 view against a real server, read by the field's clients: zarr-python over HTTP and
tensorstore (both read a shard's index with a suffix Range, then ranges of its inner chunks), boto3 through the
S3 facade (listed sizes are the bytes a GET returns) and rclone copying a sharded dataset that then opens with
zarr-python and equals the source. A ranged read is exactly the inner chunk the plain zarr3 keys name."""

from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import numpy as np
import pytest
import zarr

from tests.require import module, skip_without

boto3 = module("boto3")
ts = module("tensorstore")
from botocore import UNSIGNED  # noqa: E402
from botocore.config import Config  # noqa: E402


def sharded_url(server, g) -> str:
    return f"{server.url}/zarr3-sharded/{g.dataset_id}.ome.zarr"


@pytest.mark.parametrize("name", ["big", "tc", "slices"])
def test_zarr_python_over_http_reads_the_source(server, generated, name):
    g = generated[name]
    store = zarr.storage.FsspecStore.from_url(sharded_url(server, g), read_only=True)
    group = zarr.open_group(store, mode="r")
    level0 = group["0"]
    assert level0.shards is not None and level0.shards[2] > level0.chunks[2]
    assert np.array_equal(level0[:], g.data)
    plain = zarr.open_group(zarr.storage.FsspecStore.from_url(
        f"{server.url}/zarr3/{g.dataset_id}.ome.zarr", read_only=True), mode="r")
    last = str(len(plain.attrs["ome"]["multiscales"][0]["datasets"]) - 1)
    assert np.array_equal(group[last][:], plain[last][:])  # a computed level equals the unsharded view's


def test_tensorstore_reads_a_box(server, generated):
    g = generated["big"]
    array = ts.open({"driver": "zarr3", "kvstore": sharded_url(server, g) + "/0/"}).result()
    assert np.array_equal(array[0, 0, 5:60, 17:250, 3:200].read().result(), g.data[0, 0, 5:60, 17:250, 3:200])


def test_a_range_is_the_inner_chunk_it_names(server, generated):
    g = generated["big"]
    doc = httpx.get(sharded_url(server, g) + "/0/zarr.json").json()
    inner = doc["codecs"][0]["configuration"]["chunk_shape"]
    size = int(np.prod(inner)) * 2
    shard = sharded_url(server, g) + "/0/c/0/0/0/0/0"
    with httpx.Client() as client:
        head = client.head(shard)
        assert head.status_code == 200 and int(head.headers["content-length"]) > size
        r = client.get(shard, headers={"Range": f"bytes={size}-{2 * size - 1}"})
        assert r.status_code == 206 and r.headers["content-range"].startswith(f"bytes {size}-{2 * size - 1}/")
        plain = client.get(f"{server.url}/s3/zarr3/{g.dataset_id}.ome.zarr/0/c/0/0/1/0/0")  # S3: plain chunks
        assert plain.status_code == 200 and r.content == plain.content
        whole = client.get(shard)
        assert whole.content[size:2 * size] == r.content and len(whole.content) == int(head.headers["content-length"])
        tail = client.get(shard, headers={"Range": "bytes=-20"})
        assert tail.status_code == 206 and tail.content == whole.content[-20:]
        assert client.get(shard, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304
        past = client.get(shard, headers={"Range": f"bytes={len(whole.content)}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole.content)}"


def test_s3_lists_exact_sizes_and_serves_ranges(server, generated):
    g = generated["tc"]
    s3 = boto3.client("s3", endpoint_url=server.url + "/s3", region_name="us-east-1",
                      config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
    listed = s3.list_objects_v2(Bucket="zarr3-sharded", Prefix=f"{g.dataset_id}.ome.zarr/")["Contents"]
    shards = [o for o in listed if "/c/" in o["Key"]]
    assert shards
    for obj in listed:
        body = s3.get_object(Bucket="zarr3-sharded", Key=obj["Key"])["Body"].read()
        assert len(body) == obj["Size"], obj["Key"]
    key = shards[-1]["Key"]
    part = s3.get_object(Bucket="zarr3-sharded", Key=key, Range="bytes=7-106")
    assert part["ContentRange"] == f"bytes 7-106/{shards[-1]['Size']}"
    whole = s3.get_object(Bucket="zarr3-sharded", Key=key)["Body"].read()
    assert part["Body"].read() == whole[7:107]
    store = zarr.storage.FsspecStore.from_url(
        f"s3://zarr3-sharded/{g.dataset_id}.ome.zarr", read_only=True,
        storage_options={"anon": True, "client_kwargs": {"endpoint_url": server.url + "/s3"}})
    group = zarr.open_group(store, mode="r")
    assert np.array_equal(group["0"][:], g.data)


@skip_without("rclone", shutil.which("rclone") is not None, "rclone is not installed (scripts/system-deps.sh --all)")
def test_rclone_copies_a_sharded_dataset(server, generated, tmp_path):
    g = generated["big"]
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    source = (f":s3,provider=Other,endpoint='{server.url}/s3',force_path_style=true,env_auth=false:"
              f"zarr3-sharded/{g.dataset_id}.ome.zarr")
    dest = tmp_path / "copy.ome.zarr"
    run = subprocess.run(["rclone", "copy", "--config", "/dev/null", "--fast-list", source, str(dest)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(zarr.open_group(str(dest), mode="r")["0"][:], g.data)
    doc = httpx.get(sharded_url(server, g) + "/0/zarr.json").json()
    inner = doc["codecs"][0]["configuration"]["chunk_shape"]
    inner_chunks = int(np.prod([-(-n // c) for n, c in zip(doc["shape"], inner, strict=True)]))
    shards = [p for p in (dest / "0" / "c").rglob("*") if p.is_file()]
    assert 0 < len(shards) < inner_chunks  # fewer, larger objects: what the view is for
