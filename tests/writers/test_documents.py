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
from writers.precomputed import Info
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


# -- the published schemas (tests/schemas/README.md says where each comes from) ------------------------------

SCHEMAS = Path(__file__).parents[1] / "schemas"


def precomputed_validator():
    """Neuroglancer's own JSON schema of a precomputed volume's ``info`` (with its sharding schema)."""
    import yaml
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    volume, sharding = (yaml.safe_load((SCHEMAS / "neuroglancer" / f"{n}.yml").read_text())
                        for n in ("volume", "sharding"))
    # upstream erratum: the scale's `required` names "chunk_size", the property it defines (and Neuroglancer
    # reads) is "chunk_sizes"; require what is defined, so a missing chunk_sizes still fails
    scale = volume["properties"]["scales"]["items"]
    assert "chunk_size" in scale["required"] and "chunk_sizes" in scale["properties"]
    scale["required"] = ["chunk_sizes" if r == "chunk_size" else r for r in scale["required"]]
    registry = Registry().with_resource("PrecomputedSharding", Resource.from_contents(sharding, DRAFT7))
    return Draft7Validator(volume, registry=registry), volume


def infos() -> list[tuple[str, str | None]]:
    from tests.writers.conftest import offered

    return [(spec, encoding) for spec in SPECS for encoding in offered(SPECS[spec])]


@pytest.mark.parametrize(("spec", "encoding"), infos(), ids=[f"{s}-{e or 'default'}" for s, e in infos()])
def test_precomputed_info_validates_against_neuroglancers_schema(spec, encoding):
    validator, schema = precomputed_validator()
    info = VIEWS["precomputed"].document(Info(encoding=encoding), SPECS[spec], ViewOptions(compressor("blosc-zstd")))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(info)]
    assert not errors, errors
    # the schema allows unknown keys; a misspelt key would be ignored by Neuroglancer, so name only known ones
    assert set(info) <= set(schema["properties"]), set(info) - set(schema["properties"])
    scale_keys = set(schema["properties"]["scales"]["items"]["properties"])
    for scale in info["scales"]:
        assert set(scale) <= scale_keys, set(scale) - scale_keys


def test_the_precomputed_schema_rejects_what_neuroglancer_would():
    """The validator is not vacuous: documents Neuroglancer cannot read fail it."""
    validator, _ = precomputed_validator()
    good = VIEWS["precomputed"].document(Info(), SPECS["u16"], ViewOptions(compressor("blosc-zstd")))
    assert validator.is_valid(good)
    broken = [
        {**good, "data_type": "float64"},  # Neuroglancer has no float64
        {**good, "scales": []},
        {**good, "scales": [{k: v for k, v in good["scales"][0].items() if k != "chunk_sizes"}]},
        {**good, "scales": [{**good["scales"][0], "size": good["scales"][0]["size"][:2]}]},
        {**good, "scales": [{**good["scales"][0], "encoding": "zstd"}]},
    ]
    assert [validator.is_valid(doc) for doc in broken] == [False] * len(broken)


@pytest.mark.parametrize("spec", SPECS)
def test_zarr_v3_documents_validate_as_an_ome_zarr_05_image(spec):
    """The root ``zarr.json`` and every level's, assembled as the group a client walks, validate as an OME-Zarr
    0.5 image (ome-zarr-models over pydantic-zarr's zarr v3 node models) and each array parses as zarr v3
    metadata in zarr-python, the reference implementation."""
    from ome_zarr_models.v05.image import Image
    from pydantic import ValidationError
    from zarr.core.group import GroupMetadata
    from zarr.core.metadata.v3 import ArrayV3Metadata

    options, view = ViewOptions(compressor("blosc-zstd")), VIEWS["zarr3"]
    root = view.document(Document("zarr.json"), SPECS[spec], options)
    arrays = {str(level): view.document(Document("zarr.json", level), SPECS[spec], options)
              for level in range(len(SPECS[spec].levels))}
    for doc in arrays.values():
        parsed = ArrayV3Metadata.from_dict(json.loads(json.dumps(doc)))
        assert parsed.to_dict()["shape"] == tuple(doc["shape"]) and doc["node_type"] == "array"
    # consolidated_metadata is zarr-python's extension (not in the v3 spec, so not in pydantic-zarr's model):
    # zarr-python parses it, and it must repeat each array's own document
    GroupMetadata.from_dict(json.loads(json.dumps(root)))
    consolidated = root["consolidated_metadata"]
    assert consolidated["kind"] == "inline" and consolidated["metadata"] == arrays
    image = Image.model_validate({**{k: v for k, v in root.items() if k != "consolidated_metadata"},
                                  "members": arrays})
    assert image.attributes.ome.version == "0.5"
    assert [d.path for d in image.attributes.ome.multiscales[0].datasets] == list(arrays)
    # not vacuous: a level the multiscale names but the group lacks, or a level of another rank, fails
    last = str(len(arrays) - 1)
    with pytest.raises(ValidationError):
        Image.model_validate({**image.model_dump(), "members": {k: v for k, v in arrays.items() if k != last}})
    flat = {**arrays[last], "shape": arrays[last]["shape"][1:], "dimension_names": arrays[last]["dimension_names"][1:]}
    with pytest.raises(ValidationError):
        Image.model_validate({**image.model_dump(), "members": {**arrays, last: flat}})
