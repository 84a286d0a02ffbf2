"""The scan-layout corpus (issue 12's audit cases): what each folder becomes, and why.

A folder is one stack only when no sub-folder holds a dataset and all its slices are single 2-D images
of one size, sample type and sample count (every header checked); slices that disagree refuse the
folder with the reason, never split it into one dataset per slice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from tests.require import module

glymur = module("glymur")


def _stack(folder: Path, n: int = 3, shape=(16, 16), dtype=np.uint16) -> None:
    folder.mkdir(parents=True)
    for z in range(n):
        tifffile.imwrite(folder / f"z{z}.tif", np.full(shape, z, dtype))


def _jp2(path: Path, data: np.ndarray) -> None:
    glymur.Jp2k(path, data=data, numres=2)  # a 16^2 image has too few pixels for the default 6 levels


def _titles(catalog: Catalog) -> dict[str, list]:
    return {r.title: r.shape for r in catalog.all()}


def _scan(root: Path, tmp_path: Path, **kw):
    catalog = Catalog(tmp_path / "c.sqlite")
    return scan(root, catalog, **kw), catalog


def test_one_jp2_at_the_top_does_not_swallow_the_sub_folders(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    _jp2(root / "overview.jp2", np.zeros((16, 16), np.uint8))
    for i in range(15):
        _stack(root / f"brain{i:02}")
    report, catalog = _scan(root, tmp_path)
    titles = _titles(catalog)
    assert len(titles) == 16  # it was 1: the root became a one-slice stack and nothing below was seen
    assert titles["overview.jp2"] == [1, 1, 1, 16, 16] and titles["brain07"] == [1, 1, 3, 16, 16]
    assert dict(report.layout)["."] == (
        "parts: sub-folders hold datasets, so the files beside them are datasets of their own")
    assert dict(report.layout)["brain07"] == "stack: 3 2-D slices of 16 x 16 uint16, 1 sample"


def test_two_2d_tiffs_at_the_top_do_not_swallow_the_sub_folders(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "a.tif", np.zeros((8, 8), np.uint8))
    tifffile.imwrite(root / "b.tif", np.zeros((8, 8), np.uint8))
    _stack(root / "stack")
    (root / "deeper").mkdir()
    tifffile.imwrite(root / "deeper" / "vol.tif", np.zeros((6, 8, 8), np.uint16), metadata={"axes": "ZYX"})
    report, catalog = _scan(root, tmp_path)
    assert _titles(catalog) == {"a.tif": [1, 1, 1, 8, 8], "b.tif": [1, 1, 1, 8, 8],
                                "stack": [1, 1, 3, 16, 16], "vol.tif": [1, 1, 6, 8, 8]}
    assert report.refused == []


def test_slices_of_different_sizes_refuse_the_folder_instead_of_splitting_it(tmp_path):
    root = tmp_path / "root"
    _stack(root / "mixed", n=40)
    tifffile.imwrite(root / "mixed" / "z17.tif", np.zeros((16, 15), np.uint16))  # not in a 16-step sample
    report, catalog = _scan(root, tmp_path)
    assert _titles(catalog) == {}  # was 40 single-slice datasets
    assert report.refused == [("mixed", "mixed: slice z17.tif is 15 x 16 uint16, 1 sample but z0.tif is "
                               "16 x 16 uint16, 1 sample; the slices of a stack must share size, sample "
                               "type and samples")]
    assert dict(report.layout)["mixed"].startswith("refused: mixed: slice z17.tif")


def test_an_rgb_slice_in_a_grey_stack_is_refused_never_served_as_its_first_sample(tmp_path):
    root = tmp_path / "root"
    _stack(root / "grey", n=5, dtype=np.uint8)
    tifffile.imwrite(root / "grey" / "z3.tif", np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    report, catalog = _scan(root, tmp_path)
    assert _titles(catalog) == {}
    ((name, reason),) = report.refused
    assert name == "grey" and "z3.tif is 16 x 16 uint8, 3 samples but z0.tif is 16 x 16 uint8, 1 sample" in reason


def test_a_grey_jp2_stack_with_an_rgb_slice_is_refused(tmp_path):
    root = tmp_path / "root" / "jp2"
    root.mkdir(parents=True)
    for z in range(3):
        _jp2(root / f"s{z}.jp2", np.full((16, 16), z, np.uint8))
    _jp2(root / "s3.jp2", np.zeros((16, 16, 3), np.uint8))
    report, catalog = _scan(root.parent, tmp_path)
    assert _titles(catalog) == {}
    assert "s3.jp2 is 16 x 16 uint8, 3 samples but s0.jp2 is 16 x 16 uint8, 1 sample" in dict(report.refused)["jp2"]


def test_a_damaged_slice_refuses_its_stack(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack", n=4)
    (root / "stack" / "z2.tif").write_bytes(b"II*\x00\xff\xff\xff\x7f")  # magic, then an IFD past the end
    report, catalog = _scan(root, tmp_path)
    assert _titles(catalog) == {}
    ((name, reason),) = report.refused
    assert name == "stack"
    assert reason.startswith("stack: slice z2.tif cannot be read (z2.tif: not a readable TIFF header")
    assert str(tmp_path) not in reason


def test_a_collection_of_unrelated_images_registers_each_image(tmp_path):
    """No geometry most files share: not a damaged stack but separate images (a folder of test cards)."""
    root = tmp_path / "root" / "cards"
    root.mkdir(parents=True)
    tifffile.imwrite(root / "small.tif", np.zeros((8, 8), np.uint8))
    tifffile.imwrite(root / "wide.tif", np.zeros((8, 32), np.uint8))
    tifffile.imwrite(root / "rgb.tif", np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    report, catalog = _scan(root.parent, tmp_path)
    assert set(_titles(catalog)) == {"small.tif", "wide.tif", "rgb.tif"} and report.refused == []
    assert dict(report.layout)["cards"].startswith("parts: its images differ")


def test_a_folder_of_volumes_registers_each_volume(tmp_path):
    root = tmp_path / "root" / "volumes"
    root.mkdir(parents=True)
    tifffile.imwrite(root / "a.tif", np.zeros((6, 8, 8), np.uint16), metadata={"axes": "ZYX"})
    tifffile.imwrite(root / "b.tif", np.zeros((5, 8, 8), np.uint16), metadata={"axes": "ZYX"})
    report, catalog = _scan(root.parent, tmp_path)
    assert _titles(catalog) == {"a.tif": [1, 1, 6, 8, 8], "b.tif": [1, 1, 5, 8, 8]}
    assert dict(report.layout)["volumes"] == (
        "parts: a.tif is not a single 2-D image, so each file is a dataset of its own")


def test_prune_removes_vanished_and_now_refused_sources_with_the_reason(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack")
    _stack(root / "kept")
    tifffile.imwrite(root / "vol.tif", np.zeros((2, 8, 8), np.uint16))
    catalog = Catalog(tmp_path / "c.sqlite")
    scan(root, catalog)
    assert set(_titles(catalog)) == {"stack", "kept", "vol.tif"}
    (root / "vol.tif").unlink()
    tifffile.imwrite(root / "stack" / "z1.tif", np.zeros((16, 16, 3), np.uint16), photometric="rgb")

    report = scan(root, catalog)  # without --prune the records stay
    assert set(_titles(catalog)) == {"stack", "kept", "vol.tif"} and report.pruned == []

    report = scan(root, catalog, prune=True)
    assert set(_titles(catalog)) == {"kept"}
    pruned = dict(report.pruned)
    assert pruned["vol.tif"] == "the source vanished"
    assert pruned["stack"].startswith("stack: slice z1.tif is 16 x 16 uint16, 3 samples")


def test_cli_scan_prune_prints_what_each_folder_became_and_what_was_pruned(tmp_path):
    root = tmp_path / "root"
    _stack(root / "stack")
    tifffile.imwrite(root / "vol.tif", np.zeros((2, 8, 8), np.uint16))
    db = tmp_path / "c.sqlite"
    cli = [sys.executable, "-m", "transformer.cli", "--catalog", str(db), "scan", str(root)]
    subprocess.run(cli, check=True, capture_output=True)
    (root / "vol.tif").unlink()
    done = subprocess.run([*cli, "--prune"], check=True, capture_output=True, text=True)
    assert "folder stack: stack: 3 2-D slices of 16 x 16 uint16, 1 sample" in done.stderr
    assert "pruned vol.tif: the source vanished" in done.stderr
    assert [r.title for r in Catalog(db).all()] == ["stack"]
