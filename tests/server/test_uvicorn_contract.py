"""transformer/server/protocol.py subclasses uvicorn's HttpToolsProtocol, not a public API (issue 22 item 8). An
incompatible uvicorn must fail loudly at import, never serve with a header timeout that silently never fires;
the installed uvicorn is one pyproject.toml allows. (The timeout's behaviour: tests/test_hostile_http.py.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import uvicorn
from packaging.requirements import Requirement
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from transformer.server.protocol import OVERRIDDEN, check_uvicorn

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_installed_uvicorn_is_within_the_tested_pin():
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (uvicorn_req,) = [Requirement(d) for d in deps if Requirement(d).name == "uvicorn"]
    assert any(spec.operator == "<" for spec in uvicorn_req.specifier), "uvicorn needs an upper bound"
    assert uvicorn_req.specifier.contains(uvicorn.__version__), (uvicorn.__version__, str(uvicorn_req.specifier))


def test_the_installed_uvicorn_has_what_the_protocol_needs():
    check_uvicorn()


@pytest.mark.parametrize("gone", OVERRIDDEN)
def test_a_uvicorn_without_an_overridden_method_is_refused_loudly(gone):
    changed = type("ChangedProtocol", (HttpToolsProtocol,), {gone: None})
    with pytest.raises(ImportError, match=f"HttpToolsProtocol has no {gone}; .*pinned in pyproject.toml"):
        check_uvicorn(changed)


def test_a_uvicorn_whose_protocol_keeps_no_pipeline_is_refused_loudly():
    import inspect

    source = inspect.getsource(HttpToolsProtocol.__init__).replace("self.pipeline", "self.requests")
    with pytest.raises(ImportError, match=f"uvicorn {uvicorn.__version__}: HttpToolsProtocol has no pipeline"):
        check_uvicorn(HttpToolsProtocol, source)
