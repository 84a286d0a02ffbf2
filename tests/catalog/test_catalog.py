"""Catalog: stable ids, scan with sidecars, full-text query syntax, the command line. No server."""

from __future__ import annotations

import json
import subprocess
import sys

from catalog.ids import dataset_id, looks_like_id
from catalog.scan import scan
from catalog.store import Catalog, fts_query
from tests.conftest import make_datasets


def test_ids_are_pronounceable_triplets_and_stable():
    a = dataset_id("/data/brain1")
    assert looks_like_id(a) and a == dataset_id("/data/brain1")
    assert a != dataset_id("/data/brain2")
    assert dataset_id("/data/brain1", attempt=1) != a


def test_scan_registers_and_ids_survive_a_new_catalog(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    make_datasets(root)
    first = Catalog(tmp_path / "one.sqlite")
    report = scan(root, first)
    assert len(report.added) == 4 and not report.refused
    second = Catalog(tmp_path / "two.sqlite")
    scan(root, second)
    assert sorted(r.id for r in first.all()) == sorted(r.id for r in second.all())
    # rescanning the same catalog keeps ids and does not duplicate
    scan(root, first)
    assert len(first.all()) == 4


def test_fts_query_quotes_words():
    assert fts_query('brain "OR" NEAR(') == '"brain"* "OR"* "NEAR"*'


def test_cli_add_info_scan(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    made = make_datasets(root)
    db = str(tmp_path / "cli.sqlite")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "transformer.cli", "--catalog", db, *args],
                              capture_output=True, text=True, check=False)

    added = cli("add", str(made["float"].path), "--title", "Float stack", "--meta", "species=Homo sapiens",
                "--meta", "voxel_size=2,1,1")
    assert added.returncode == 0, added.stderr
    new_id = added.stdout.strip()
    info = json.loads(cli("info", new_id).stdout)
    assert info["title"] == "Float stack" and info["species"] == "Homo sapiens"
    assert info["voxel_size"] == [2.0, 1.0, 1.0] and "source" not in info
    scanned = cli("scan", str(root))
    assert scanned.returncode == 0
    assert len(scanned.stdout.strip().splitlines()) == 4
    assert "datasets" in scanned.stderr  # progress line
    assert cli("info", "nob-ody-her").returncode == 1
    bad = cli("add", str(root / "missing.tif"))
    assert bad.returncode != 0
