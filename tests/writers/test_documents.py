"""Metadata documents pinned by golden cases (tests/writers/cases/*.json, made once from the code before
views became objects and checked against the NGFF 0.4/0.5, zarr v2/v3 and precomputed specs).

A case names the view, the spec (tests/writers/specs.py), the compressor and the key; the document the view
answers must serialise to exactly the golden bytes (key order included: clients see these bytes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.writers.conftest import VIEWS
from tests.writers.specs import SPECS
from writers.codecs import compressor
from writers.view import Document, ViewOptions

CASES = sorted((Path(__file__).parent / "cases").glob("*.json"))


def compact(doc) -> str:
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_document_matches_golden(path):
    case = json.loads(path.read_text())
    view, spec = VIEWS[case["view"]], SPECS[case["spec"]]
    key = view.parse(case["key"], spec)
    assert isinstance(key, Document)
    assert compact(view.document(key, spec, ViewOptions(compressor(case["compressor"])))) == compact(case["document"])


def test_every_view_and_spec_has_golden_cases():
    cases = [json.loads(p.read_text()) for p in CASES]
    assert {(c["view"], c["spec"]) for c in cases} == {(v, s) for v in VIEWS for s in SPECS}


@pytest.mark.parametrize("spec", SPECS)
def test_ngff_documents_validate(spec):
    from ome_zarr_models.v04.image import ImageAttrs as Attrs04
    from ome_zarr_models.v05.image import ImageAttrs as Attrs05

    options = ViewOptions(compressor("blosc-zstd"))
    zattrs = VIEWS["zarr"].document(Document(".zattrs"), SPECS[spec], options)
    Attrs04.model_validate(zattrs)
    root = VIEWS["zarr3"].document(Document("zarr.json"), SPECS[spec], options)
    Attrs05.model_validate(root["attributes"]["ome"])
