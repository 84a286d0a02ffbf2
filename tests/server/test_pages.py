"""The search page, the landing pages, their images, /openapi.json and /docs, in process.

Real sources, real catalog, real templates: what a person sees without JavaScript. The images are decoded and
compared with the projection computed here from the source array."""

from __future__ import annotations

import html
import io
import json
import re

import imagecodecs
import numpy as np
import pytest
import tifffile

from catalog.scan import describe
from catalog.store import Catalog
from catalog.synthetic import synthetic
from catalog.tokens import new_token
from tests.helpers import in_process

FULL = {
    "title": "Mouse brain <b>cortex</b>", "description": "Whole cleared hemisphere & more.",
    "species": "Mus musculus", "technique": "light-sheet", "license": "CC-BY-4.0", "doi": "10.5555/brain.1",
    "citation": "Lovelace A. (2026) A brain.", "contributors": ["Ada Lovelace", "Alan Turing"],
    "affiliations": ["Brain Image Library"], "funders": ["NIH", {"name": "NSF", "award": "DBI-123"}],
    "publications": [{"citation": "Paper on brains", "doi": "10.1000/paper.7", "url": "https://example.org/p"}],
    "specimen": "P56 male C57BL/6J", "instrument": "SmartSPIM 3.6x", "keywords": ["cortex", "atlas"],
    "voxel_size": [2.0, 1.0, 1.0],
    "channels": [{"name": "autofluorescence", "color": "FF0000", "window": [0, 200]},
                 {"name": "cfos", "color": "00FF00", "window": [0, 100]}],
}


OTHERS = {
    "fish.tif": {"title": "Zebrafish larva", "species": "Danio rerio", "technique": "confocal"},
    "held.tif": {"title": "Embargoed rat", "species": "Rattus norvegicus", "technique": "light-sheet",
                 "access": "embargoed", "embargo_until": "2099-01-01"},
    "hidden.tif": {"title": "Private macaque", "species": "Macaca mulatta", "access": "private"},
}


def register(root, others, titles: dict | None = None) -> tuple[Catalog, dict[str, str]]:
    """Write ``others`` (a z, y, x array) as the public fish, the embargoed rat and the private macaque beside
    ``root/brain.tif`` (written by the caller) and register all four: (open catalog, {stem: id})."""
    for name, meta in OTHERS.items():
        tifffile.imwrite(root / name, others, metadata={"axes": "ZYX"})
        (root / f"{name}.json").write_text(json.dumps({**meta, **(titles or {}).get(name, {})}))
    catalog = Catalog(root / "catalog.sqlite")
    ids = {}
    for name in ("brain.tif", *OTHERS):
        record = describe(root / name, root, catalog)
        catalog.put(record)
        ids[name.split(".")[0]] = record.id
    return catalog, ids


def two_channels() -> np.ndarray:
    """(c 2, z 10, y 40, x 60) uint8 with a different maximum per column and plane."""
    z, y, x = np.mgrid[0:10, 0:40, 0:60]
    return np.stack([(x * 3 + z * 7) % 251, (y * 5 + z * 11) % 241]).astype(np.uint8)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    data = two_channels()
    tifffile.imwrite(root / "brain.tif", data, metadata={"axes": "CZYX"})
    (root / "brain.tif.json").write_text(json.dumps(FULL))
    catalog, ids = register(root, np.full((6, 24, 32), 90, np.uint8))
    token, row = new_token("reader", [ids["held"], ids["hidden"]], None)
    catalog.put_token(row)
    catalog.close()
    with in_process(root / "catalog.sqlite") as client:
        yield client, ids, token, data


def cards(page: str) -> list[str]:
    return re.findall(r'<li class="card" data-id="([a-z0-9-]+)"', page)


def facet(page: str, name: str) -> dict[str, str]:
    """A facet's {value: count} as the page shows it."""
    return dict(re.findall(rf'data-facet="{name}" data-value="([^"]+)"[^>]*>[^<]*</a> <span class="count">(\d+)', page))


def json_ld(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))


def test_search_page_lists_public_and_embargoed_never_private(world):
    client, ids, token, _ = world
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert sorted(cards(r.text)) == sorted([ids["brain"], ids["fish"], ids["held"]])
    assert "Private macaque" not in r.text and ids["hidden"] not in r.text
    assert "Mouse brain &lt;b&gt;cortex&lt;/b&gt;" in r.text and "<b>cortex</b>" not in r.text  # autoescaped
    with_token = client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert ids["hidden"] in cards(with_token.text)
    assert with_token.headers["cache-control"] == "private, no-store"
    assert ids["hidden"] in cards(client.get(f"/t/{token}/").text)


def test_search_finds_what_people_type(world):
    client, ids, _, _ = world
    assert cards(client.get("/?technique=light").text) == [ids["held"], ids["brain"]]  # sorted by title
    assert cards(client.get("/?q=mouse-brain").text) == [ids["brain"]]
    assert cards(client.get("/?q=lovel").text) == [ids["brain"]]  # a contributor's name, as a prefix
    assert cards(client.get("/?q=smartspim").text) == [ids["brain"]]  # the instrument
    assert cards(client.get("/?q=NSF").text) == [ids["brain"]]  # a funder
    assert cards(client.get("/?species=danio").text) == [ids["fish"]]
    assert cards(client.get("/?q=zzzz").text) == []
    assert "No dataset matches" in client.get("/?q=zzzz").text
    assert client.get("/?sort=sideways").status_code == 400


def test_facets_count_the_matches_and_link_to_a_filter(world):
    client, ids, _, _ = world
    page = client.get("/").text
    assert facet(page, "technique") == {"light-sheet": "2", "confocal": "1"}
    assert facet(page, "access") == {"public": "2", "embargoed": "1"}  # the private one is not counted either
    link = html.unescape(re.search(r'href="([^"]+)" data-facet="species" data-value="danio rerio"', page).group(1))
    assert cards(client.get(link.split("testserver", 1)[1]).text) == [ids["fish"]]
    api = client.get("/api/datasets?technique=light").json()
    assert api["total"] == 2 and dict(map(tuple, api["facets"]["access"])) == {"public": 1, "embargoed": 1}


def test_paging(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite")
    catalog.put_many(synthetic(46))  # 42 listed: every 10th is private
    catalog.close()
    with in_process(tmp_path / "c.sqlite") as client:
        first, third = client.get("/?sort=id").text, client.get("/?sort=id&page=3").text
        assert len(cards(first)) == 20 and len(cards(third)) == 2
        assert "1–20 of 42 datasets" in first and "41–42 of 42" in third and 'rel="next"' not in third
        assert set(cards(first)).isdisjoint(cards(third))


def test_landing_page_shows_every_field(world):
    client, ids, _, _ = world
    r = client.get(f"/datasets/{ids['brain']}")
    assert r.status_code == 200
    text = html.unescape(r.text)
    for value in ["Mouse brain <b>cortex</b>", "Whole cleared hemisphere & more.", "Ada Lovelace; Alan Turing",
                  "Brain Image Library", "NSF (DBI-123)", "NIH", "https://doi.org/10.5555/brain.1",
                  "Lovelace A. (2026) A brain.", "CC-BY-4.0", "Paper on brains", "doi:10.1000/paper.7",
                  "P56 male C57BL/6J", "SmartSPIM 3.6x", "cortex, atlas", "Mus musculus", "light-sheet",
                  "1 × 2 × 10 × 40 × 60", "uint8", "2.0 × 1.0 × 1.0 µm", "autofluorescence", "#FF0000", "cfos",
                  "brain.tif", "Open in Neuroglancer", "napari --plugin napari-ome-zarr"]:
        assert value in text, value
    links = client.get(f"/api/datasets/{ids['brain']}").json()["links"]
    for name in ("zarr", "zarr3", "precomputed"):
        assert f'value="{links[name]}"' in r.text
    assert f'href="{links["neuroglancer"]}"' in r.text


def test_landing_page_buttons_answer(world):
    client, ids, _, data = world
    page = client.get(f"/datasets/{ids['brain']}").text
    ng = html.unescape(re.search(r'id="open-neuroglancer" href="([^"]+)"', page).group(1))
    assert client.get(ng.split("testserver", 1)[1], follow_redirects=False).status_code == 307
    for name in ("zarr", "zarr3", "precomputed"):
        url = html.unescape(re.search(rf'id="url-{name}" class="copy-source" readonly value="([^"]+)"', page).group(1))
        doc = {"zarr": "/.zattrs", "zarr3": "/zarr.json", "precomputed": "/info"}[name]
        assert client.get(url.split("testserver", 1)[1] + doc).status_code == 200
    curl = html.unescape(re.search(r'id="snippet-curl".*?<code>(.*?)</code>', page, re.S).group(1))
    url = re.search(r'"(http[^"]+)"', curl).group(1)
    box = np.load(io.BytesIO(client.get(url.split("testserver", 1)[1]).content))
    level = int(re.search(r"level=(\d+)", url).group(1))
    assert level == 0 and box.shape == (1, 1, 10, 40, 60)  # a dataset smaller than the example box: all of it
    np.testing.assert_array_equal(box[0, 0], data[0])
    copy = html.unescape(re.search(r'id="snippet-s3".*?<code>(.*?)</code>', page, re.S).group(1))
    assert copy == ("aws s3 cp --recursive --no-sign-request --endpoint-url http://testserver/s3 "
                    f"s3://zarr/{ids['brain']}.ome.zarr/ {ids['brain']}.ome.zarr")  # run for real: test_s3_clients.py
    listing = client.get(f"/s3/zarr?list-type=2&prefix={ids['brain']}.ome.zarr/&delimiter=/")
    assert listing.status_code == 200 and b"<Key>" in listing.content


def test_json_ld_is_a_datacite_aligned_dataset(world):
    client, ids, _, _ = world
    doc = json_ld(client.get(f"/datasets/{ids['brain']}").text)
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Dataset"
    assert doc["name"] == FULL["title"] and doc["identifier"] == "https://doi.org/10.5555/brain.1"
    assert [c["name"] for c in doc["creator"]] == FULL["contributors"]
    assert doc["creator"][0]["affiliation"] == [{"@type": "Organization", "name": "Brain Image Library"}]
    assert [f["name"] for f in doc["funder"]] == ["NIH", "NSF"]
    assert doc["license"] == "CC-BY-4.0" and doc["isAccessibleForFree"] is True
    assert {d["name"] for d in doc["distribution"]} == {"zarr", "zarr3", "precomputed"}
    assert doc["thumbnailUrl"].endswith(".png?v=" + doc["thumbnailUrl"].rsplit("=", 1)[1])


def test_embargoed_page_has_metadata_and_notice_but_no_images(world):
    client, ids, token, _ = world
    r = client.get(f"/datasets/{ids['held']}")
    assert r.status_code == 200
    assert "Embargoed until 2099-01-01" in r.text and "Embargoed rat" in r.text
    assert ".png" not in r.text and "open-neuroglancer" not in r.text and "snippet-" not in r.text
    assert "thumbnailUrl" not in json_ld(r.text) and json_ld(r.text)["isAccessibleForFree"] is False
    search = client.get("/?q=rat").text
    assert cards(search) == [ids["held"]] and ".png" not in search and "embargoed</span>" in search
    for kind in ("thumbnail", "preview"):
        assert client.get(f"/datasets/{ids['held']}/{kind}.png").status_code == 401
        granted = client.get(f"/t/{token}/datasets/{ids['held']}/{kind}.png")
        assert granted.status_code == 200 and granted.headers["cache-control"] == "private, no-store"
    granted_page = client.get(f"/datasets/{ids['held']}", headers={"Authorization": f"Bearer {token}"}).text
    assert "Your token grants this dataset" in granted_page and f"/t/{token}/zarr/" in granted_page


def test_private_pages_are_404_without_a_token(world):
    client, ids, token, _ = world
    assert client.get(f"/datasets/{ids['hidden']}").status_code == 404
    assert client.get(f"/datasets/{ids['hidden']}/thumbnail.png").status_code == 404
    assert client.get(f"/t/{token}/datasets/{ids['hidden']}").status_code == 200


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_browsers_get_error_pages_and_api_clients_json(world):
    """A person opening a private or unknown dataset gets the same HTML 404 (nothing tells them apart), an
    embargoed image opened as a page an HTML 401 saying what to do; clients not asking for HTML keep JSON."""
    client, ids, _, _ = world
    private = client.get(f"/datasets/{ids['hidden']}", headers=BROWSER)
    unknown = client.get("/datasets/nob-ody-her", headers=BROWSER)
    for r in (private, unknown):
        assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.headers["cache-control"] == "no-store" and "<h1>Not found</h1>" in r.text
    assert private.text.replace(ids["hidden"], "ID") == unknown.text.replace("nob-ody-her", "ID")
    assert "Private macaque" not in private.text and f"no dataset &#39;{ids['hidden']}&#39;" in private.text
    for accept in ({}, {"Accept": "application/json"}):
        api = client.get(f"/datasets/{ids['hidden']}", headers=accept)
        assert api.status_code == 404 and api.json() == {
            "error": "not_found", "reason": f"no dataset {ids['hidden']!r}", "status": 404}
    image = client.get(f"/datasets/{ids['held']}/preview.png", headers=BROWSER)
    assert image.status_code == 401 and image.headers["www-authenticate"] == "Bearer"
    assert "<h1>Token needed</h1>" in image.text and "/t/TOKEN/" in image.text
    img_tag = client.get(f"/datasets/{ids['held']}/preview.png", headers={"Accept": "image/avif,image/*,*/*"})
    assert img_tag.status_code == 401 and img_tag.json()["error"] == "unauthorized"
    bad = client.get("/?page=two", headers=BROWSER)
    assert bad.status_code == 400 and "<h1>Bad request</h1>" in bad.text and "page=" in bad.text
    assert client.get("/?page=two").json()["error"] == "bad_request"


def test_images_are_the_coloured_projection_of_the_source(world):
    client, ids, _, data = world
    for kind in ("thumbnail", "preview"):
        r = client.get(f"/datasets/{ids['brain']}/{kind}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        rgb = imagecodecs.png_decode(r.content)
        # level 0 (60 voxels wide is below both sizes), all 10 planes: red = channel 0 over [0, 200],
        # green = channel 1 over [0, 100]
        mip = data.max(axis=1).astype(np.float64)
        expected = np.stack([np.clip(mip[0] / 200, 0, 1), np.clip(mip[1] / 100, 0, 1), np.zeros_like(mip[0])], -1)
        np.testing.assert_array_equal(rgb, np.rint(expected * 255).astype(np.uint8))
        again = client.get(f"/datasets/{ids['brain']}/{kind}.png", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304


def test_openapi_describes_the_json_api(world):
    client, _, _, _ = world
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.") and schema["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    paths = schema["paths"]
    for path in ["/api/datasets", "/api/datasets/{id}", "/api/query", "/api/retrieve", "/api/datasets/{id}/cutout",
                 "/api/datasets/{id}/neuroglancer", "/neuroglancer/{id}", "/zarr/{segment}/{key}",
                 "/zarr3/{segment}/{key}", "/precomputed/{segment}/{key}"]:
        assert "get" in paths[path], path
    search = {p["name"]: p for p in paths["/api/datasets"]["get"]["parameters"]}
    assert set(search) == {"q", "species", "technique", "format", "access", "sort", "limit", "offset"}
    assert {p["name"]: p["in"] for p in paths["/api/retrieve"]["get"]["parameters"]} == {"id": "query"}
    assert {p["name"]: p["in"] for p in paths["/api/datasets/{id}"]["get"]["parameters"]} == {"id": "path"}
    assert "/t/TOKEN/" in schema["info"]["description"]
    page = client.get("/docs").text
    for path in paths:
        assert f'<code class="path">{html.escape(path)}</code>' in page, path
