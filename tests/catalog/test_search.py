"""Catalog.find: facets, word-prefix filters, hyphenated words, sorts, paging, new sidecar fields, and the
rebuild of a database written by the previous schema."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from catalog import schema
from catalog.record import Record
from catalog.store import Catalog, Query
from catalog.synthetic import synthetic


@pytest.fixture
def store():
    db = Catalog(":memory:")
    db.put_many(synthetic(100))
    yield db
    db.close()


def test_facets_count_every_match_not_the_page(store):
    found = store.find(Query(limit=5))
    assert found.total == 90 and len(found.records) == 5  # 10 private left out
    assert dict(found.facets["access"]) == {"public": 80, "embargoed": 10}
    assert sum(n for _, n in found.facets["species"]) == 90
    assert dict(found.facets["format"]) == {f: sum(1 for r in synthetic(100) if r.format == f and r.access != "private")
                                            for f in ("tiff", "jpeg2000", "imaris")}
    mouse = store.find(Query(species="mus musculus"))
    assert dict(mouse.facets["species"]) == {"mus musculus": mouse.total}


def test_filters_match_word_prefixes_ignoring_case(store):
    light = store.find(Query(technique="light", limit=1000)).records
    assert light and {r.technique for r in light} == {"light-sheet"}
    assert {r.technique for r in store.find(Query(technique="sheet", limit=1000)).records} == {"light-sheet"}
    assert {r.technique for r in store.find(Query(technique="two", limit=1000)).records} == {
        "two-photon", "serial two-photon tomography"}
    assert {r.species for r in store.find(Query(species="MUS", limit=1000)).records} == {"Mus musculus"}
    assert store.find(Query(species="us")).total == 0  # a prefix of a word, not any substring
    assert store.find(Query(technique="%")).total == 0  # LIKE wildcards are literal
    assert {r.format for r in store.find(Query(format="imaris", limit=1000)).records} == {"imaris"}
    assert store.find(Query(format="imar")).total == 0  # formats and access levels are exact


def test_text_matches_hyphenated_words_and_prefixes(store):
    assert store.find(Query(q="whole-brain")).total == 90
    assert store.find(Query(q="light-sheet")).total == store.find(Query(technique="light-sheet")).total
    assert [r.id for r in store.find(Query(q="d00042")).records] == ["d00042"]  # the id itself
    assert {r.id for r in store.find(Query(q="kw12", limit=100)).records} == {  # keywords are searched
        r.id for r in synthetic(100) if r.keywords == ["kw12"] and r.access != "private"}
    assert store.find(Query(q="auth")).total == 90  # contributors, as a prefix


def test_access_facet_follows_the_date(store):
    store.put(Record(**{**synthetic(1, 500)[0].__dict__, "access": "embargoed", "embargo_until": "2001-01-01"}))
    found = store.find(Query(access="public", limit=1000))
    assert "d00500" in [r.id for r in found.records]  # an embargo past its date is public
    assert all(r.access_now() == "public" for r in found.records)


def test_sorts_and_pages(store):
    by_size = store.find(Query(sort="largest", limit=3)).records
    assert [r.byte_size for r in by_size] == sorted((r.byte_size for r in by_size), reverse=True)
    assert by_size[0].id == "d00098"  # 99 is private
    titles = [r.title for r in store.find(Query(sort="title", limit=1000)).records]
    assert titles == sorted(titles, key=str.lower)
    pages = [store.find(Query(sort="id", limit=30, offset=o)).records for o in (0, 30, 60)]
    ids = [r.id for page in pages for r in page]
    assert len(ids) == len(set(ids)) == 90 and ids == sorted(ids)
    assert store.find(Query(sort="id", limit=30, offset=90)).records == []


def test_deep_pages_of_a_ranked_search_continue_the_ranking(store):
    """Pages are picked by rowid and then read: they keep the rank order and never repeat or drop a match."""
    whole = [r.id for r in store.find(Query(q="brain", limit=1000), facets=False).records]
    paged = [r.id for offset in range(0, 90, 7) for r in store.find(Query(q="brain", limit=7, offset=offset)).records]
    assert len(whole) == 90 and paged == whole
    largest = Query(q="brain", sort="largest", limit=40)
    by_size = [r.id for o in (0, 40, 80) for r in store.find(dataclasses.replace(largest, offset=o)).records]
    assert by_size == [r.id for r in sorted((r for r in synthetic(100) if r.access != "private"),
                                            key=lambda r: (-r.byte_size, r.id))]


def test_granted_private_records_are_listed(store):
    assert store.find(Query(q="d00009")).total == 0
    assert store.find(Query(q="d00009", granted=["d00009"])).total == 1
    assert store.find(Query(include_private=True)).total == 100


def test_new_sidecar_fields_are_validated_and_normalised():
    out = schema.validate({"funders": ["NIH", {"name": "NSF", "award": "1"}], "specimen": "P56",
                           "publications": ["A paper", {"citation": "B", "doi": "10.1/x"}], "keywords": ["a"],
                           "instrument": "SPIM", "affiliations": ["BIL"]})
    assert out["funders"] == [{"name": "NIH"}, {"name": "NSF", "award": "1"}]
    assert out["publications"] == [{"citation": "A paper"}, {"citation": "B", "doi": "10.1/x"}]
    for bad in ({"funders": [{"award": "1"}]}, {"publications": [{"citation": "x", "doi": "nope"}]},
                {"publications": [{"citation": "x", "url": "javascript:alert(1)"}]}, {"keywords": "a, b"},
                {"funders": [{"name": "x", "grant": "1"}]}):
        with pytest.raises(ValueError):
            schema.validate(bad)


def test_a_database_of_the_previous_schema_is_rebuilt(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE datasets (id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE, species TEXT NOT NULL DEFAULT '',
            technique TEXT NOT NULL DEFAULT '', public INTEGER NOT NULL DEFAULT 1, record TEXT NOT NULL);
        CREATE VIRTUAL TABLE datasets_fts USING fts5(id UNINDEXED, title, description, species, technique,
            contributors, citation, format);
    """)
    old = synthetic(3)
    for r in old:
        data = {k: v for k, v in r.__dict__.items() if k not in ("keywords", "affiliations", "funders",
                                                                  "publications", "specimen", "instrument")}
        db.execute("INSERT INTO datasets VALUES (?,?,?,?,?,?)",
                   (r.id, r.source, r.species.lower(), r.technique.lower(), 1, json.dumps(data)))
    db.commit()
    db.close()
    store = Catalog(path)
    assert [r.id for r in store.all()] == ["d00000", "d00001", "d00002"]
    assert store.find(Query(q="whole-brain")).total == 3 and store.find(Query(technique="light")).total == 3
    store.close()
    assert Catalog(path).find(Query()).total == 3  # opened again: nothing to rebuild, nothing lost


def test_the_readme_example_sidecar_is_valid():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("An example `dataset.json`:", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    out = schema.validate(json.loads(example))
    assert out["funders"] == [{"name": "NIH BRAIN Initiative", "award": "R24MH114793"}]
    assert out["publications"][0]["doi"].startswith("10.") and out["access"] == "embargoed"
