"""``serve --data-root`` closes what it opened (issue 22 item 7): the start-up scan's catalog, and the recheck
thread's, which used to run on (its stop event discarded) until the process died. A catalog connection left
open at exit leaves SQLite's -wal and -shm files behind; closed ones remove them."""

from __future__ import annotations

import httpx
import numpy as np
import tifffile

from transformer.testing import Server


def test_serve_with_a_data_root_closes_every_catalog_connection_on_sigterm(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    tifffile.imwrite(root / "a.tif", np.zeros((2, 8, 8), np.uint16))
    db = tmp_path / "catalog.sqlite"
    srv = Server(db, "--data-root", str(root))

    assert httpx.get(f"{srv.url}/api/datasets").json()["total"] == 1  # scanned, and serving
    assert (tmp_path / "catalog.sqlite-wal").exists()  # open connections (WAL mode)
    srv.stop()  # SIGTERM: uvicorn shuts the app down (its lifespan), then exits by the signal
    assert srv.proc.returncode is not None
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("catalog.sqlite")) == ["catalog.sqlite"]
    assert "Traceback" not in (db.with_suffix(f".{srv.port}.log")).read_text()
