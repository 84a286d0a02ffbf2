"""Cutouts of every format while a served uncompressed TIFF is re-copied over itself, against a real server
(issue 24): every answer is either a 200 whose body has its Content-Length and the source's voxels, or a
5xx JSON with a reason and no server path; never a 200 that breaks off. Once the copying stops, every
format is served whole again within the reopen window (docs/errors.md)."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest
import requests
import tifffile

from tests.helpers import Server, cutout_voxels, scanned
from transformer.server.routes.cutout import UNCHANGED_FOR

SHAPE = (24, 256, 256)
FORMATS = ("npy", "tiff", "h5")
#: a changed source is reopened within DatasetRegistry.RECHECK_SECONDS (5 s); generous on a busy machine
RECOVERY_SECONDS = 30


def _check(r: requests.Response, fmt: str, data: np.ndarray, root) -> int:
    """The status of a whole, correct answer; fails the test on anything else."""
    if r.status_code == 200:
        assert int(r.headers["Content-Length"]) == len(r.content)
        np.testing.assert_array_equal(cutout_voxels(fmt, r.content).reshape(data.shape), data)
    else:
        assert r.status_code in (500, 503), r.status_code
        body = r.json()
        assert body["error"] in ("source_error", "unavailable") and body["reason"], body
        assert str(root) not in r.text and "/tmp" not in r.text, r.text
    return r.status_code


@pytest.mark.slow
def test_cutouts_of_a_recopied_source_are_whole_or_errors(tmp_path):
    root, spare = tmp_path / "root", tmp_path / "spare"
    root.mkdir()
    spare.mkdir()
    data = np.random.default_rng(3).integers(0, 60000, SHAPE, dtype=np.uint16)
    tifffile.imwrite(spare / "raw.tif", data, rowsperstrip=SHAPE[1])  # uncompressed strips: the raw path
    shutil.copyfile(spare / "raw.tif", root / "raw.tif")
    db = tmp_path / "catalog.sqlite"
    dataset_id = scanned(root, db)[0].id
    expected = data[None, None]

    with Server(db, "--cache-mb", "8") as srv, requests.Session() as http:
        url = f"{srv.url}/api/datasets/{dataset_id}/cutout?format="
        for fmt in FORMATS:
            assert _check(http.get(url + fmt, timeout=60), fmt, expected, tmp_path) == 200

        stop, copies = threading.Event(), []

        def recopy() -> None:  # in place (truncate, rewrite) and by rename, in turns, with pauses
            while not stop.is_set() and len(copies) < 40:
                if len(copies) % 2:
                    shutil.copyfile(spare / "raw.tif", root / "raw.tif")
                else:
                    shutil.copyfile(spare / "raw.tif", spare / "next.tif")
                    (spare / "next.tif").replace(root / "raw.tif")
                copies.append(1)
                time.sleep(0.15)

        churn = threading.Thread(target=recopy)
        churn.start()
        seen: dict[str, list[int]] = {fmt: [] for fmt in FORMATS}
        try:
            i = 0
            while churn.is_alive():
                fmt = FORMATS[i % len(FORMATS)]
                i += 1
                seen[fmt].append(_check(http.get(url + fmt, timeout=60), fmt, expected, tmp_path))
        finally:
            stop.set()
            churn.join()
        assert all(seen.values()), seen

        for fmt in FORMATS:  # the copying is over: each format is whole again after the reopen window
            deadline = time.monotonic() + RECOVERY_SECONDS
            while _check(http.get(url + fmt, timeout=60), fmt, expected, tmp_path) != 200:
                assert time.monotonic() < deadline, f"{fmt} never recovered"
                time.sleep(0.2)
    assert "Traceback" not in srv.log.name and "Traceback" not in open(srv.log.name).read()


def test_a_cutout_of_a_changed_source_is_a_500_like_its_chunks(tmp_path):
    """Re-copied right after the dataset was confirmed: until the registry reopens it (5 s), a cutout of any
    format answers 500 source_error before its status line, as a chunk that reads the source does; after
    the window both are served again (docs/errors.md)."""
    root = tmp_path / "root"
    root.mkdir()
    data = np.random.default_rng(4).integers(0, 60000, (8, 128, 128), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "raw.tif", data, rowsperstrip=128)
    shutil.copyfile(tmp_path / "raw.tif", root / "raw.tif")
    db = tmp_path / "catalog.sqlite"
    dataset_id = scanned(root, db)[0].id
    with Server(db, "--cache-mb", "8", "--chunks", "8,64,64") as srv, requests.Session() as http:
        url = f"{srv.url}/api/datasets/{dataset_id}/cutout?format="
        assert http.get(url + "npy&y=0:64", timeout=60).status_code == 200  # opened, confirmed now
        confirmed = time.monotonic()
        (tmp_path / "raw.tif").replace(root / "raw.tif")  # the same bytes under a new inode
        time.sleep(UNCHANGED_FOR)  # past the time a cutout trusts its last look at the source
        answers = {fmt: http.get(url + fmt, timeout=60) for fmt in FORMATS}
        chunk = http.get(f"{srv.url}/zarr/{dataset_id}.ome.zarr/0/0/0/0/1/1", timeout=60)  # never read before
        if time.monotonic() - confirmed < 4:  # well inside the window (else the machine was too slow to tell)
            for fmt, r in answers.items():
                assert r.status_code == 500, fmt
                assert r.json()["error"] == "source_error"
                assert r.json()["reason"] == (
                    "raw.tif: the source changed while being served; it is served under its new version within 5 s"
                )
            assert (chunk.status_code, chunk.json()["reason"]) == (500, "raw.tif: the file changed while being served")
        deadline = time.monotonic() + RECOVERY_SECONDS
        while (r := http.get(url + "h5", timeout=60)).status_code != 200:
            assert time.monotonic() < deadline, "never reopened"
            time.sleep(0.2)
        np.testing.assert_array_equal(cutout_voxels("h5", r.content)[0, 0], data)
        assert http.get(f"{srv.url}/zarr/{dataset_id}.ome.zarr/0/0/0/0/1/1", timeout=60).status_code == 200
