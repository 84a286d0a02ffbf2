"""transformer.testing: the real-server harness that tests, bench and plugin authors share."""

from __future__ import annotations

import json
import urllib.request

import pytest

from catalog.store import Catalog
from transformer.testing import Server


def test_server_serves_then_stops(tmp_path):
    Catalog(tmp_path / "c.sqlite").close()
    with Server(tmp_path / "c.sqlite", "--cache-mb", "16") as srv:
        with urllib.request.urlopen(srv.url + "/healthz", timeout=10) as r:
            assert json.load(r) == {"status": "ok", "datasets": 0}
        assert srv.proc.poll() is None
    assert srv.proc.poll() is not None and srv.log.closed


def test_a_server_that_cannot_start_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="(?s)server exited: .*unrecognized arguments: --no-such-flag"):
        Server(tmp_path / "c.sqlite", "--no-such-flag")
