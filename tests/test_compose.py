"""docker/compose.yml (issue 14) without docker: every container command is a valid `transformer` command line,
the proxy renders the same nginx template the tested stack uses, with one upstream per worker service, and nginx
accepts the result."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO
from tests.require import skip_without
from transformer.cli import build_parser
from transformer.stack import render_nginx, template_path
from writers.registry import installed

COMPOSE = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())
SERVICES = COMPOSE["services"]


def transformer_args(service: dict) -> list[str]:
    command = [*service.get("entrypoint", []), *service.get("command", [])]
    assert command[0] == "transformer", command
    return command[1:]


def test_every_transformer_command_parses():
    for name, service in SERVICES.items():
        if "transformer" in (service.get("entrypoint") or service.get("command") or [""])[:1]:
            build_parser().parse_args(transformer_args(service) + (["an-id"] if name == "prewarm" else []))


def test_the_proxy_fronts_every_worker_with_the_shipped_template(tmp_path: Path):
    args = build_parser().parse_args(transformer_args(SERVICES["proxy"]))
    workers = sorted(name for name in SERVICES if name.startswith("worker-"))
    assert sorted(u.split(":")[0] for u in args.upstream) == workers and len(workers) >= 2
    for name in workers:  # each worker names itself (X-Worker) and serves on the port the proxy expects
        serve = build_parser().parse_args(transformer_args(SERVICES[name]))
        assert serve.worker_name == f"w{name.rsplit('-', 1)[1]}"
    assert {u.split(":")[1] for u in args.upstream} == {"8000"}  # the image's TRANSFORMER_PORT
    assert template_path() == REPO / "docker" / "nginx.conf.template"
    conf = render_nginx(f"127.0.0.1:{args.port}", ["127.0.0.1:8000", "127.0.0.1:8001"], tmp_path, tmp_path / "c",
                        cache_size=args.cache_size.replace("${PROXY_CACHE:-50g}", "50g"))
    assert "hash $request_uri consistent" in conf and "proxy_cache_lock on" in conf
    assert conf.count("server 127.0.0.1:800") == 2


@skip_without("nginx", shutil.which("nginx") is not None, "nginx (scripts/system-deps.sh --all)")
def test_nginx_accepts_the_rendered_configuration(tmp_path: Path):
    from transformer.stack import make_folders

    make_folders(tmp_path, tmp_path / "cache")
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx("127.0.0.1:1", ["127.0.0.1:2", "localhost:3"], tmp_path, tmp_path / "cache"))
    # the views' answers are kept whatever the Host: the map's pattern takes every installed view's prefix
    pattern = re.search(r"~(\^/\(.*\)/) \"\";", conf.read_text()).group(1)
    assert all(re.match(pattern, f"{view.prefix}/x/0") for view in installed()) and not re.match(pattern, "/api/x")
    check = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "e.log")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    daemon = subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    compose = (subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
               or shutil.which("docker-compose") is not None)
    return daemon and compose


@pytest.mark.slow
@skip_without("docker", _docker_ready(), "no docker daemon or docker compose here (docker/smoke.py runs it)")
def test_the_compose_stack_runs():
    """The real stack in containers: builds, serves the demo through nginx with voxels equal to the source, caches
    versioned chunks, spreads URLs over both workers and survives one stopping (docker/smoke.py)."""
    import sys

    run = subprocess.run([sys.executable, str(REPO / "docker" / "smoke.py")], capture_output=True, text=True,
                         timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "compose smoke: every check passed" in run.stdout
