"""Real S3 clients against a real server (routes/s3.py): boto3 (paging, Range, head, errors), s3fs + zarr-python
opening s3://zarr/{id}.ome.zarr and s3://zarr3/…, aws-cli `s3 ls` and `s3 cp --recursive`, rclone `copy`; every
listed size is the downloaded size, and a copied dataset opens with zarr-python and equals the source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import zarr

from tests.helpers import Server
from tests.require import module, skip_without

boto3 = module("boto3")
from botocore import UNSIGNED  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

AWS = Path(sys.executable).with_name("aws")


@pytest.fixture(scope="module")
def s3(server):
    return boto3.client("s3", endpoint_url=server.url + "/s3", region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))


def all_keys(s3, bucket: str, prefix: str, page_size: int = 1000) -> list[dict]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                          PaginationConfig={"PageSize": page_size})
    return [obj for page in pages for obj in page.get("Contents", [])]


def test_boto3_lists_page_by_page(s3, generated):
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["precomputed", "zarr", "zarr3", "zarr3-sharded"]
    s3.head_bucket(Bucket="zarr")
    prefix = f"{generated['big'].dataset_id}.ome.zarr/"
    whole = [o["Key"] for o in all_keys(s3, "zarr", prefix)]
    assert whole == sorted(whole) and len(whole) > 50 and len(set(whole)) == len(whole)
    assert [o["Key"] for o in all_keys(s3, "zarr", prefix, page_size=37)] == whole
    after = s3.list_objects_v2(Bucket="zarr", Prefix=prefix, StartAfter=whole[50], MaxKeys=5)
    assert [o["Key"] for o in after["Contents"]] == whole[51:56] and after["KeyCount"] == 5
    folders = s3.list_objects_v2(Bucket="zarr", Delimiter="/", EncodingType="url")
    assert {p["Prefix"] for p in folders["CommonPrefixes"]} == {
        f"{g.dataset_id}.ome.zarr/" for name, g in generated.items() if name != "_catalog"}


def test_boto3_get_range_head_and_errors(s3, generated):
    key = f"{generated['big'].dataset_id}/0/0-64_0-64_0-64"
    head = s3.head_object(Bucket="precomputed", Key=key)
    whole = s3.get_object(Bucket="precomputed", Key=key)["Body"].read()
    assert head["ContentLength"] == len(whole) == 64 * 64 * 64 * 2
    part = s3.get_object(Bucket="precomputed", Key=key, Range="bytes=100-199")
    assert part["ContentRange"] == f"bytes 100-199/{len(whole)}" and part["Body"].read() == whole[100:200]
    expected = generated["big"].data[0, 0, :64, :64, :64]
    assert np.array_equal(np.frombuffer(whole, "<u2").reshape(64, 64, 64), expected)
    for bucket, k, code, status in (("precomputed", key + "x", "NoSuchKey", 404), ("nope", key, "NoSuchBucket", 404)):
        with pytest.raises(ClientError) as err:
            s3.get_object(Bucket=bucket, Key=k)
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="precomputed", Key=key, Range=f"bytes={len(whole)}-")
    assert err.value.response["Error"]["Code"] == "InvalidRange"


@pytest.mark.parametrize("bucket", ["zarr", "zarr3", "precomputed", "zarr3-sharded"])
def test_every_listed_size_is_the_downloaded_size(s3, server, generated, bucket):
    g = generated["tc"]
    prefix = g.dataset_id + ("/" if bucket == "precomputed" else ".ome.zarr/")
    listed = all_keys(s3, bucket, prefix)
    assert len(listed) > (10 if bucket == "zarr3-sharded" else 20)  # shards: fewer, larger objects
    with httpx.Client() as http:
        for obj in listed:
            r = http.get(f"{server.url}/s3/{bucket}/{obj['Key']}")
            assert r.status_code == 200 and len(r.content) == obj["Size"], obj["Key"]
            assert r.headers["etag"] == obj["ETag"]


@pytest.mark.parametrize(("bucket", "fmt"), [("zarr", 2), ("zarr3", 3), ("zarr3-sharded", 3)])
@pytest.mark.parametrize("name", ["tc", "big"])
def test_s3fs_and_zarr_read_the_source(server, generated, bucket, fmt, name):
    module("s3fs")
    g = generated[name]
    group = zarr.open_group(f"s3://{bucket}/{g.dataset_id}.ome.zarr", mode="r", zarr_format=fmt,
                            storage_options={"anon": True, "client_kwargs": {"endpoint_url": server.url + "/s3"}})
    assert np.array_equal(group["0"][:], g.data)


def aws_env(tmp: Path, addressing: str | None = "path") -> dict[str, str]:
    """aws-cli's environment with no credentials; ``addressing``: its S3 addressing style (None: no configuration
    at all, as a new user has)."""
    config = tmp / "aws-config"
    style = "" if addressing is None else f"s3 =\n    addressing_style = {addressing}\n"
    config.write_text(f"[default]\nregion = us-east-1\n{style}")
    return {**os.environ, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}


def opened_copy(folder: Path, g, fmt: int) -> None:
    assert np.array_equal(zarr.open_group(str(folder), mode="r", zarr_format=fmt)["0"][:], g.data)


@skip_without("modules", AWS.exists(), "aws-cli is not installed (the test extra)")
def test_aws_cli_ls_and_recursive_copy(server, generated, tmp_path):
    g = generated["tc"]
    env = aws_env(tmp_path)
    base = ["--no-sign-request", "--endpoint-url", server.url + "/s3"]
    ls = subprocess.run([str(AWS), "s3", "ls", *base, "s3://zarr/"], capture_output=True, text=True, env=env,
                        timeout=120)
    assert ls.returncode == 0, ls.stderr
    assert f"PRE {g.dataset_id}.ome.zarr/" in ls.stdout
    for bucket, fmt in (("zarr", 2), ("zarr3", 3)):
        dest = tmp_path / bucket / f"{g.dataset_id}.ome.zarr"
        cp = subprocess.run([str(AWS), "s3", "cp", "--recursive", "--only-show-errors", *base,
                             f"s3://{bucket}/{g.dataset_id}.ome.zarr/", str(dest)],
                            capture_output=True, text=True, env=env, timeout=300)
        assert cp.returncode == 0, cp.stderr
        opened_copy(dest, g, fmt)


@skip_without("rclone", shutil.which("rclone") is not None, "rclone is not installed (scripts/system-deps.sh --all)")
def test_rclone_copy_checks_sizes_and_opens(server, generated, tmp_path):
    g = generated["big"]
    remote = f":s3,provider=Other,endpoint='{server.url}/s3',force_path_style=true,env_auth=false:"
    dest = tmp_path / f"{g.dataset_id}.ome.zarr"
    # rclone refuses to start when AWS_CA_BUNDLE is set and the transport is plain http
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    source = f"{remote}zarr/{g.dataset_id}.ome.zarr"
    run = subprocess.run(["rclone", "copy", "--config", "/dev/null", source, str(dest)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    check = subprocess.run(["rclone", "check", "--config", "/dev/null", "--size-only", source, str(dest)],
                           capture_output=True, text=True, timeout=300, env=env)
    assert check.returncode == 0, check.stderr
    opened_copy(dest, g, 2)


@pytest.mark.parametrize("raw", ["/s3/zarr/ID.ome.zarr/../../../etc/passwd", "/s3/zarr/ID.ome.zarr/%2e%2e/%2e%2e/x",
                                 "/s3/zarr/ID.ome.zarr/0/%C3%BC", "/s3/../../etc/passwd",
                                 "/s3/zarr?list-type=2&prefix=" + "%E2%82%AC" * 700,
                                 "/s3/zarr?list-type=2&max-keys=1e9", "/s3/zarr?list-type=2&continuation-token=%FF"])
def test_hostile_input_on_the_wire_is_s3_xml(server, generated, raw):
    with httpx.Client() as client:
        r = client.send(client.build_request("GET", server.url + raw.replace("ID", generated["big"].dataset_id)))
    assert 400 <= r.status_code < 500 and b"root:" not in r.content
    if "../" not in raw:  # a ``..`` path resolves outside /s3/ (a JSON 404 of no route)
        assert b"<Error><Code>" in r.content
    assert str(generated["big"].path.parent).encode() not in r.content


@pytest.fixture(scope="module")
def restricted(tmp_path_factory):
    from tests.server.test_access import build_catalog

    path, ids, tokens = build_catalog(tmp_path_factory.mktemp("s3tokens"))
    srv = Server(path)
    yield srv, ids, tokens
    srv.stop()


def test_boto3_with_the_token_in_the_endpoint(restricted):
    """docs/s3.md: a token goes in the endpoint (``/t/TOKEN/s3``); listings then show what it grants."""
    srv, ids, tokens = restricted

    def client(endpoint):
        return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))

    def listed(s3):
        return {p["Prefix"].split(".")[0] for p in s3.list_objects_v2(Bucket="zarr", Delimiter="/")["CommonPrefixes"]}

    anonymous, granted = client(srv.url + "/s3"), client(f"{srv.url}/t/{tokens['all']}/s3")
    assert listed(anonymous) == {ids["open"], ids["released"]}
    assert listed(granted) == set(ids.values())
    key = f"{ids['secret']}.ome.zarr/0/0/0/0/0/0"
    body = granted.get_object(Bucket="zarr", Key=key)["Body"].read()
    assert len(body) % (16 * 20) == 0 and set(body) == {30}  # the secret stack's voxels (build_catalog: 10 × 3)
    with pytest.raises(ClientError) as err:
        anonymous.get_object(Bucket="zarr", Key=key)
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        anonymous.get_object(Bucket="zarr", Key=f"{ids['embargoed']}.ome.zarr/.zattrs")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


# -- virtual-hosted style (--s3-host): clients address {bucket}.s3.test; the server is reached as their HTTP proxy,
# so no name has to resolve (the request line then carries the whole URL, Host the bucket's name)


@pytest.fixture(scope="module")
def vhost(generated):
    srv = Server(generated["_catalog"], "--s3-host", "s3.test")
    yield srv
    srv.stop()


def test_boto3_virtual_hosted_style(vhost, generated):
    port = vhost.url.rsplit(":", 1)[1]
    s3 = boto3.client("s3", endpoint_url=f"http://s3.test:{port}", region_name="us-east-1",
                      config=Config(signature_version=UNSIGNED, s3={"addressing_style": "virtual"},
                                    proxies={"http": vhost.url}))
    prefix = f"{generated['big'].dataset_id}.ome.zarr/"
    keys = [o["Key"] for o in all_keys(s3, "zarr", prefix, page_size=50)]
    assert len(keys) > 50 and keys == sorted(keys)
    key = f"{prefix}0/0/0/0/0/0"
    whole = s3.get_object(Bucket="zarr", Key=key)["Body"].read()
    assert whole == httpx.get(f"{vhost.url}/s3/zarr/{key}").content
    assert s3.get_object(Bucket="zarr", Key=key, Range="bytes=0-99")["Body"].read() == whole[:100]
    assert s3.head_object(Bucket="zarr", Key=key)["ContentLength"] == len(whole)


@skip_without("rclone", shutil.which("rclone") is not None, "rclone is not installed (scripts/system-deps.sh --all)")
def test_rclone_and_aws_cli_virtual_hosted_style(vhost, generated, tmp_path):
    g = generated["tc"]
    port = vhost.url.rsplit(":", 1)[1]
    env = {**{k: v for k, v in os.environ.items() if k not in ("AWS_CA_BUNDLE", "NO_PROXY", "no_proxy")},
           "HTTP_PROXY": vhost.url, "http_proxy": vhost.url}
    remote = f":s3,provider=Other,endpoint='http://s3.test:{port}',force_path_style=false,env_auth=false:"
    dest = tmp_path / "rclone" / f"{g.dataset_id}.ome.zarr"
    run = subprocess.run(["rclone", "copy", "--config", "/dev/null", f"{remote}zarr3/{g.dataset_id}.ome.zarr",
                          str(dest)], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    opened_copy(dest, g, 3)
    if AWS.exists():
        aws = {**aws_env(tmp_path, "virtual"), **env}
        ls = subprocess.run([str(AWS), "s3", "ls", "--no-sign-request", "--endpoint-url", f"http://s3.test:{port}",
                             "s3://zarr/"], capture_output=True, text=True, env=aws, timeout=120)
        assert ls.returncode == 0 and f"PRE {g.dataset_id}.ome.zarr/" in ls.stdout, ls.stderr


def test_minio_sdk_virtual_hosted_style(vhost, generated):
    """The MinIO SDK parses S3 XML its own way and takes no path in its endpoint: it reaches /s3/ by --s3-host."""
    minio = module("minio")
    import urllib3

    port = vhost.url.rsplit(":", 1)[1]
    client = minio.Minio(f"s3.test:{port}", secure=False, http_client=urllib3.ProxyManager(vhost.url))
    assert [b.name for b in client.list_buckets()] == ["precomputed", "zarr", "zarr3", "zarr3-sharded"]
    g = generated["tc"]
    listed = list(client.list_objects("zarr3-sharded", prefix=f"{g.dataset_id}.ome.zarr/", recursive=True))
    assert len(listed) > 5
    for obj in listed:
        body = client.get_object("zarr3-sharded", obj.object_name)
        assert len(body.read()) == obj.size and client.stat_object("zarr3-sharded", obj.object_name).size == obj.size
        body.close()
    shard = next(o for o in listed if "/c/" in o.object_name)
    whole = client.get_object("zarr3-sharded", shard.object_name).read()
    part = client.get_object("zarr3-sharded", shard.object_name, offset=10, length=100)
    assert part.read() == whole[10:110]


@skip_without("s3cmd", shutil.which("s3cmd") is not None, "s3cmd is not installed (scripts/system-deps.sh --all)")
def test_s3cmd_lists_and_gets_a_dataset(vhost, generated, tmp_path):
    """s3cmd (Debian's) addresses buckets by host name only: --s3-host, reached as its proxy."""
    port = vhost.url.rsplit(":", 1)[1]
    config = tmp_path / "s3cfg"
    config.write_text(f"[default]\naccess_key = anonymous\nsecret_key = anonymous\nhost_base = s3.test:{port}\n"
                      f"host_bucket = %(bucket)s.s3.test:{port}\nuse_https = False\nproxy_host = 127.0.0.1\n"
                      f"proxy_port = {port}\n")
    g = generated["big"]

    def s3cmd(*args: str) -> str:
        run = subprocess.run(["s3cmd", "-c", str(config), *args], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0 and "WARNING" not in run.stderr, run.stderr
        return run.stdout

    assert "s3://zarr3-sharded" in s3cmd("ls")
    assert f"DIR  s3://zarr/{g.dataset_id}.ome.zarr/" in s3cmd("ls", "s3://zarr/")
    for bucket, fmt in (("zarr", 2), ("zarr3-sharded", 3)):
        dest = tmp_path / bucket
        dest.mkdir()
        s3cmd("get", "--recursive", f"s3://{bucket}/{g.dataset_id}.ome.zarr/", f"{dest}/")
        opened_copy(dest, g, fmt)


@skip_without("modules", AWS.exists(), "aws-cli is not installed (the test extra)")
def test_the_landing_pages_copy_command_runs(server, generated, tmp_path):
    """The landing page's "Copy the whole dataset" command, run as a visitor pastes it (aws-cli, no configuration),
    gives a folder that opens with zarr-python and equals the source."""
    import html
    import re

    g = generated["tc"]
    page = httpx.get(f"{server.url}/datasets/{g.dataset_id}").text
    command = html.unescape(re.search(r'id="snippet-s3".*?<code>(.*?)</code>', page, re.S).group(1))
    env = {**aws_env(tmp_path, None), "PATH": f"{AWS.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(["bash", "-euc", command + " --only-show-errors"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    opened_copy(tmp_path / f"{g.dataset_id}.ome.zarr", g, 2)
