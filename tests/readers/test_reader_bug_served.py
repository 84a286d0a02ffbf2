"""A reader's programming error reaches the client as a generic 500 internal_error, not as "the source
is damaged"; the same server keeps serving healthy datasets."""

from __future__ import annotations

import logging

import numcodecs
import numpy as np

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import in_process
from tests.readers.sample_plugins import MODULE


def test_a_plugin_bug_is_an_internal_error_and_logged(tmp_path, installed, caplog):
    installed(npy=f"{MODULE}:NPY", buggy_read=f"{MODULE}:BUGGY_READ")
    root = tmp_path / "data"
    root.mkdir()
    data = np.arange(2 * 8 * 8, dtype=np.uint16).reshape(2, 8, 8)
    np.save(root / "healthy.npy", data)
    np.save(root / "broken.bug.npy", data)
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    ids = {record.reader: record.id for record in catalog.all()}
    catalog.close()
    assert set(ids) == {"npy", "buggy-read"}
    with in_process(db) as client, caplog.at_level(logging.ERROR):
        r = client.get(f"/zarr/{ids['buggy-read']}.ome.zarr/0/0/0/0/0/0")
        assert r.status_code == 500
        assert r.json()["error"] == "internal_error"
        assert r.json()["reason"] == "the server failed to handle this request"
        assert "decoded" not in r.text and str(tmp_path) not in r.text  # details go to the log only
        assert any("BuggyLevel._read failed: AttributeError" in rec.getMessage()
                   and r.json()["error_id"] in rec.getMessage() for rec in caplog.records)
        ok = client.get(f"/zarr/{ids['npy']}.ome.zarr/0/0/0/0/0/0")
        assert ok.status_code == 200
        chunk = np.frombuffer(numcodecs.Blosc().decode(ok.content), "<u2")
        np.testing.assert_array_equal(chunk.reshape(data.shape), data)
