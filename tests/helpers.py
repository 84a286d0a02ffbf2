"""Test helpers: real-data location, reference computations; the real-server harness lives in
transformer.testing (re-exported here)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np
import tifffile
from starlette.testclient import TestClient

from catalog.record import Record
from catalog.scan import scan
from catalog.store import Catalog
from transformer.config import Config
from transformer.server.app import create_app
from transformer.testing import Server, free_port, stop_process
from writers.view import View

__all__ = ["REPO", "Server", "cutout_voxels", "free_port", "in_process", "readme_concrete", "readme_snippets",
           "real_data", "reference_mean", "scanned", "stop_process", "to_tczyx"]

REPO = Path(__file__).resolve().parents[1]


def real_data() -> Path | None:
    """../shared/data/real beside the checkout (or $TRANSFORMER_REAL_DATA), if present."""
    env = os.environ.get("TRANSFORMER_REAL_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "real"
    return path if path.is_dir() else None


@contextlib.contextmanager
def in_process(catalog: Path, views: Sequence[View] | None = None, **config) -> Iterator[TestClient]:
    """The service's app on ``catalog`` (``config``: Config fields; ``views``: default every installed one)
    behind starlette's TestClient. As a context manager the client runs the app's lifespan, so the
    service's pools and handles are closed at the end."""
    # the in-process tests name chunk keys of one cubic grid; --chunks auto is tested in test_chunk_layouts.py
    config.setdefault("chunks", "64,64,64")
    app = create_app(Config(catalog=Path(catalog), **config), Catalog(catalog), views=views)
    with TestClient(app) as client:
        yield client


def reference_mean(a: np.ndarray, factors: tuple[int, int, int]) -> np.ndarray:
    """Block mean of a (z, y, x) array written independently of the service: partial edge blocks
    average the voxels they have; integers round half to even.

    Sums and counts per block with ``np.add.reduceat`` along each axis in turn (the service pads
    and reshapes instead), so the two implementations do not share a mistake."""
    sums = a.astype(np.float64)
    counts = np.ones(a.shape, dtype=np.float64)
    for axis, f in enumerate(factors):
        starts = np.arange(0, a.shape[axis], f)
        sums = np.add.reduceat(sums, starts, axis=axis)
        counts = np.add.reduceat(counts, starts, axis=axis)
    out = sums / counts
    if np.issubdtype(a.dtype, np.integer):
        return np.rint(out).astype(a.dtype)
    return out.astype(a.dtype)


def to_tczyx(data: np.ndarray, axes: str) -> np.ndarray:
    """A tifffile series array with its axes string, moved to (t, c, z, y, x)."""
    axes = axes.upper()
    names: list[str] = []
    for ax in axes:
        role = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}.get(ax)
        if role is None:  # I, Q: an unnamed sequence is z (or t when z is taken)
            role = "z" if "Z" not in axes and "z" not in names else "t"
        assert role not in names, f"test helper does not merge axes {axes}"
        names.append(role)
    arr = data
    for role in "tczyx":
        if role not in names:
            arr = arr[np.newaxis]
            names.insert(0, role)
    return np.transpose(arr, [names.index(r) for r in "tczyx"])


def scanned(root: Path, db: Path) -> list[Record]:
    """Scan ``root`` into a new catalog at ``db`` and close it again; its records."""
    catalog = Catalog(db)
    try:
        scan(root, catalog)
        return catalog.all()
    finally:
        catalog.close()


def cutout_voxels(fmt: str, body: bytes) -> np.ndarray:
    """The voxels of a cutout body of ``format=npy|tiff|h5``, read with each format's own library."""
    if fmt == "npy":
        return np.load(io.BytesIO(body))
    if fmt == "tiff":
        with tifffile.TiffFile(io.BytesIO(body)) as tif:
            return tif.series[0].asarray()
    with h5py.File(io.BytesIO(body), "r") as f:
        return f["data"][...]


def readme_snippets(heading: str, language: str) -> list[str]:
    """The ``language`` code blocks of the README section titled ``## heading``, in order."""
    section = (REPO / "README.md").read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def readme_concrete(text: str, url: str, dataset_id: str) -> str:
    """A README snippet aimed at a test server: its documented address becomes ``url``, ``ID`` the dataset's."""
    return re.sub(r"\bID\b", dataset_id, text.replace("http://127.0.0.1:8000", url))
