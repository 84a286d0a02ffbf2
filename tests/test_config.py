"""Config: one declaration per setting; environment variables, serve flags and the README follow from it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from transformer.cli import main
from transformer.config import Config, chunk_layout
from transformer.engine.resources import SHARES, Resources, split

README = Path(__file__).resolve().parents[1] / "README.md"


def test_environment_values_are_parsed_by_field_type(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_PORT", "9001")
    monkeypatch.setenv("TRANSFORMER_CHUNKS", "32x64x64")
    monkeypatch.setenv("TRANSFORMER_DATA_ROOT", "~/brains")
    monkeypatch.setenv("TRANSFORMER_JP2_BACKEND", "imagecodecs")
    cfg = Config.from_env(cache_mb="300", chunks=None)
    assert cfg.port == 9001 and chunk_layout(cfg.chunks) == (32, 64, 64) and cfg.cache_mb == 300
    assert cfg.data_root == Path("~/brains").expanduser() and cfg.jp2_backend == "imagecodecs"
    assert chunk_layout(Config.from_env(chunks="16").chunks) == (16, 16, 16)
    assert Config().chunks == "auto" and chunk_layout("auto") is None
    with pytest.raises(ValueError, match="chunks"):
        Config.from_env(chunks="64,64")


def test_choices_are_enforced(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_JP2_BACKEND", "openjpeg")
    with pytest.raises(ValueError, match="jp2_backend"):
        Config.from_env()
    with pytest.raises(SystemExit):
        main(["serve", "--overview", "fast"])


def test_every_setting_is_a_serve_flag_and_in_the_readme(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    usage = capsys.readouterr().out
    readme = README.read_text()
    for f in fields(Config):
        flag = f"--{f.name.replace('_', '-')}"
        assert f"`{flag}`" in readme and f"`TRANSFORMER_{f.name.upper()}`" in readme, f.name
        if f.name != "catalog":  # given before the command, for every command
            assert flag in usage, f.name


@pytest.mark.parametrize("budget_mb,files", [(256, 256), (1024, 100), (7, 3)])
def test_the_split_spends_the_whole_budget_exactly(budget_mb, files):
    sizes = split(budget_mb << 20, files)
    assert sum(sizes.values()) == budget_mb << 20 and set(sizes) == set(SHARES)
    assert sizes["hdf"] % files == 0


def test_resources_budgets_add_up_to_cache_mb():
    resources = Resources(Config(cache_mb=256, max_open_files=100, jp2_backend="glymur"))
    try:
        budgets = {name: stats["budget"] for name, stats in resources.caches().items()}
        assert sum(budgets.values()) == 256 << 20
        assert resources.readers.handles.max_open == 100 and resources.readers.jp2_backend == "glymur"
        assert resources.readers.hdf5_chunk_cache * 100 == budgets["hdf"]
        assert budgets["tiles"] == resources.readers.tiles.budget == int((256 << 20) * SHARES["tiles"])
    finally:
        resources.close()


def test_the_service_raises_a_low_descriptor_limit_to_fit_its_pools():
    """A soft ``ulimit -n`` of 1,024 is common; the pools alone may keep 256 + 2,048 files open. Run in a child
    process whose soft limit starts at 512, so this process's limit is left as it is."""
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))\n"
        "from transformer.config import Config\n"
        "from transformer.engine.resources import SOCKETS, Resources\n"
        "Resources(Config(max_open_files=100, max_open_slices=1000)).close()\n"
        "now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
        "want = 100 + 1000 + SOCKETS\n"
        "assert now == (want if hard == resource.RLIM_INFINITY else min(want, hard)), (now, hard)\n"
        "print('ok', now)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr
