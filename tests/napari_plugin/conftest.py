"""A real server on the demo catalog plus one embargoed dataset with a token, for the napari plugin's tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server
from transformer.demo import write_demo

EMBARGOED_TITLE = "Embargoed cortex"
WIDE_TITLE = "Wide section"  # 8 planes of 1024², in 128² chunks: a view zoomed into level 0 shows a few


@dataclass
class Archive:
    server: Server
    ids: dict[str, str]  # title -> dataset id
    demo: Path
    catalog: Path
    token: str  # grants the embargoed dataset
    embargoed: np.ndarray  # its voxels (z, y, x)

    @property
    def url(self) -> str:
        return self.server.url

    def requests(self) -> list[str]:
        """The request lines the server has logged so far (its access log)."""
        self.server.log.flush()
        text = Path(self.server.log.name).read_text()
        return [line.split('"')[1] for line in text.splitlines() if line.count('"') >= 2 and '"GET ' in line]


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Archive:
    root = tmp_path_factory.mktemp("archive")
    demo = write_demo(root / "demo")
    lab = root / "lab"
    lab.mkdir()
    voxels = (np.arange(9 * 70 * 90, dtype=np.uint32).reshape(9, 70, 90) * 2654435761 % 65521).astype(np.uint16)
    tifffile.imwrite(lab / "cortex.tif", voxels, metadata={"axes": "ZYX"})
    (lab / "cortex.tif.json").write_text(json.dumps({"title": EMBARGOED_TITLE, "access": "embargoed",
                                                  "embargo_until": "2999-12-31", "species": "Rattus norvegicus"}))
    wide = root / "wide"
    wide.mkdir()
    rng = np.random.default_rng(5)
    tifffile.imwrite(wide / "wide.tif", rng.integers(0, 4000, (8, 1024, 1024), dtype=np.uint16),
                     metadata={"axes": "ZYX"}, tile=(256, 256))
    (wide / "wide.tif.json").write_text(json.dumps({"title": WIDE_TITLE, "chunks": [1, 128, 128],
                                                   "voxel_size": [2.0, 1.0, 1.0]}))
    db = root / "catalog.sqlite"
    catalog = Catalog(db)
    for folder in (demo, lab, wide):
        report = scan(folder, catalog)
        assert not report.refused, report.refused
    ids = {r.title: r.id for r in catalog.all()}
    catalog.close()
    token = subprocess.run([sys.executable, "-m", "transformer.cli", "--catalog", str(db), "token", "create",
                            "--name", "napari", "--dataset", ids[EMBARGOED_TITLE]],
                           capture_output=True, text=True, check=True).stdout.strip()
    server = Server(db, "--access-log", "--log-level", "info")
    yield Archive(server, ids, demo, db, token, voxels)
    server.stop()
