"""The catalog pages in headless Chromium, as a new user meets them: search with a facet, open a landing page,
every button and snippet works, the JSON-LD expands as JSON-LD, embargoed data shows no images, private data
is absent, and the accessibility basics (labels, alt text, contrast, keyboard order) hold.

Screenshots of both pages go to the test's tmp dir, or to ``$TRANSFORMER_SCREENSHOTS`` (the README's images
in docs/screenshots/ were made with ``TRANSFORMER_SCREENSHOTS=docs/screenshots``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pytest
import tifffile

from bench.browser import CHROMEDRIVER, CHROMIUM
from tests.helpers import Server
from tests.require import skip_without, unavailable
from tests.server.test_pages import register
from tests.test_neuroglancer_browser import READ_CANVAS, browser  # noqa: F401 - fixture
from transformer.demo import synthetic_brain

pytestmark = [pytest.mark.slow, skip_without(
    "chromium", CHROMIUM.exists() and CHROMEDRIVER.exists(),
    "needs Debian chromium and chromium-driver (scripts/system-deps.sh --all installs them)",
)]

BRAIN = {
    "title": "Whole mouse brain, cleared, light-sheet", "species": "Mus musculus", "technique": "light-sheet",
    "description": "A cleared adult mouse brain imaged with a light-sheet microscope: autofluorescence and "
                   "a nuclear stain. Synthetic data with the structure of the real thing.",
    "contributors": ["Ada Lovelace", "Santiago Ramón y Cajal"], "affiliations": ["Brain Image Library"],
    "funders": [{"name": "NIH BRAIN Initiative", "award": "R24MH114793"}], "license": "CC-BY-4.0",
    "doi": "10.5555/demo.brain", "specimen": "P56 male C57BL/6J", "instrument": "SmartSPIM, 3.6x/0.2",
    "publications": [{"citation": "Demo et al. (2026) Brains served virtually.", "doi": "10.5555/demo.paper"}],
    "keywords": ["cortex", "atlas"], "voxel_size": [4.0, 2.0, 2.0],
    "channels": [{"name": "autofluorescence", "color": "00FF66", "window": [200, 6000]},
                 {"name": "nuclei", "color": "FF00AA", "window": [200, 9000]}],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages_browser")
    grey = synthetic_brain((32, 160, 192))
    tifffile.imwrite(root / "brain.tif", np.stack([grey, np.roll(grey, 9, axis=2)]), metadata={"axes": "CZYX"})
    (root / "brain.tif.json").write_text(json.dumps(BRAIN))
    small = (synthetic_brain((12, 64, 80), seed=3) // 2).astype(np.uint16)
    catalog, ids = register(root, small, titles={
        "fish.tif": {"title": "Zebrafish larva, confocal"}, "held.tif": {"title": "Embargoed rat hippocampus"}})
    catalog.close()
    srv = Server(root / "catalog.sqlite")
    yield srv, ids, np.stack([grey, np.roll(grey, 9, axis=2)])
    srv.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("TRANSFORMER_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def visible_cards(driver) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll('li.card')].map(c => c.dataset.id)")


def images_loaded(driver) -> list[tuple[str, bool]]:
    """(src, loaded) of every img on the page, after the browser finished loading them."""
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const imgs = [...document.images];
        Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })))
          .then(() => done(imgs.map(i => [i.src, i.naturalWidth > 0])));
    """)


def arrived(driver, in_url: str, timeout: float = 20) -> None:
    """Wait until the browser shows a loaded page whose URL contains ``in_url``."""
    deadline = time.monotonic() + timeout
    while not (in_url in driver.current_url
               and driver.execute_script("return document.readyState") == "complete"):
        assert time.monotonic() < deadline, f"no page with {in_url!r} in its URL after {timeout:.0f} s"
        time.sleep(0.05)


def test_find_by_typing_and_a_facet_then_open_in_neuroglancer(served, browser, shots):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    srv, ids, volume = served
    browser.set_window_size(1280, 900)
    browser.get(srv.url + "/")
    assert set(visible_cards(browser)) == {ids["brain"], ids["fish"], ids["held"]}  # never the private one
    assert "Private macaque" not in browser.page_source
    loaded = images_loaded(browser)
    assert len(loaded) == 2 and all(ok for _, ok in loaded)  # brain and fish; the embargoed card has none
    assert all(ids["held"] not in src for src, _ in loaded)
    browser.save_screenshot(str(shots / "search.png"))

    box = browser.find_element(By.ID, "q")
    box.send_keys("light", Keys.ENTER)  # a prefix of light-sheet
    arrived(browser, "q=light")  # Enter submits the form; selenium does not wait for the next page
    assert set(visible_cards(browser)) == {ids["brain"], ids["held"]}
    browser.find_element(By.CSS_SELECTOR, 'a[data-facet="species"][data-value="mus musculus"]').click()
    arrived(browser, "species=")
    assert visible_cards(browser) == [ids["brain"]]
    assert "technique" not in browser.current_url and "q=light" in browser.current_url

    # two clicks from the results: the Neuroglancer link of the card shows the dataset
    browser.find_element(By.CSS_SELECTOR, f'li.card[data-id="{ids["brain"]}"] a.open-ng').click()
    deadline, ready = time.monotonic() + 60, 0
    while ready < 3:
        assert time.monotonic() < deadline, "viewer not ready after 60 s"
        ok = browser.execute_script("return !!(window.viewer && window.viewer.isReady())")
        ready = ready + 1 if ok else 0
        time.sleep(0.15)
    data_url, _, state = browser.execute_script(READ_CANVAS)
    layers = json.loads(state)["layers"]
    assert [layer["name"] for layer in layers] == ["autofluorescence", "nuclei"]
    assert all(ids["brain"] in json.dumps(layer["source"]) for layer in layers)
    from PIL import Image

    canvas = np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"))
    assert canvas.std() > 5 and canvas[..., 1].max() > 100  # the green channel's brain is drawn


def test_landing_page_buttons_snippets_and_json_ld(served, browser, shots, tmp_path):  # noqa: F811
    import zarr
    from pyld import jsonld
    from selenium.webdriver.common.by import By

    srv, ids, volume = served
    browser.set_window_size(1280, 1400)
    browser.get(srv.url + "/")
    browser.find_element(By.LINK_TEXT, BRAIN["title"]).click()
    arrived(browser, f"/datasets/{ids['brain']}")
    assert browser.current_url == f"{srv.url}/datasets/{ids['brain']}"
    assert all(ok for _, ok in images_loaded(browser)) and browser.find_element(By.ID, "preview")
    browser.save_screenshot(str(shots / "dataset.png"))

    # the copy button puts the URL on the clipboard and says so; the URL opens with zarr-python
    url = browser.find_element(By.ID, "url-zarr").get_attribute("value")
    assert copied(browser, srv.url, 'button[data-copy="url-zarr"]') == url
    group = zarr.open_group(url, mode="r")
    np.testing.assert_array_equal(group["0"][0], volume)
    for name in ("zarr3", "precomputed"):
        link = browser.find_element(By.ID, f"url-{name}").get_attribute("value")
        doc = {"zarr3": "/zarr.json", "precomputed": "/info"}[name]
        assert httpx.get(link + doc).status_code == 200

    snippet = {name: browser.find_element(By.ID, f"snippet-{name}").text
               for name in ("client", "zarr", "curl", "napari")}
    scope: dict = {}
    exec(snippet["client"], scope)  # noqa: S102 - the page's own snippet, run as a user would paste it
    assert scope["ds"].shape == (1, 2, 32, 160, 192) and scope["overview"].ndim == 3
    exec(snippet["zarr"], scope)  # noqa: S102
    levels = len(scope["group"].attrs["multiscales"][0]["datasets"])
    assert scope["coarsest"].shape[:2] == (1, 2) and f'group["{levels - 1}"]' in snippet["zarr"]
    assert snippet["napari"] == f"napari --plugin napari-ome-zarr {url}"

    # JSON-LD: valid JSON-LD whose schema.org terms expand to full IRIs (the context is resolved offline)
    doc = json.loads(browser.execute_script(
        "return document.querySelector('script[type=\"application/ld+json\"]').textContent"))

    def offline(url, options=None):
        assert url.rstrip("/") == "https://schema.org", url
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": {"@vocab": "https://schema.org/"}}}

    expanded = jsonld.expand(doc, {"documentLoader": offline})[0]
    assert expanded["@type"] == ["https://schema.org/Dataset"]
    assert expanded["https://schema.org/name"][0]["@value"] == BRAIN["title"]
    assert expanded["https://schema.org/identifier"][0]["@value"] == "https://doi.org/10.5555/demo.brain"
    creators = [c["https://schema.org/name"][0]["@value"] for c in expanded["https://schema.org/creator"]]
    assert creators == BRAIN["contributors"]
    assert len(expanded["https://schema.org/distribution"]) == 3


def test_the_curl_snippet_downloads_the_box(served, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    if shutil.which("curl") is None:
        unavailable("curl", "curl is not installed: the page's curl snippet cannot be run")
    import zarr

    srv, ids, _ = served
    browser.get(f"{srv.url}/datasets/{ids['brain']}")
    snippet = browser.find_element(By.ID, "snippet-curl").text
    subprocess.run(snippet, shell=True, cwd=tmp_path, check=True, capture_output=True)  # as a user pastes it
    # the box is the one the URL names, of the level it names, as zarr-python reads it
    query = parse_qs(urlparse(snippet.split('"')[1]).query)
    box = tuple(slice(*map(int, query[axis][0].split(":"))) for axis in "zyx")
    level = zarr.open_group(browser.find_element(By.ID, "url-zarr").get_attribute("value"), mode="r")[query["level"][0]]
    np.testing.assert_array_equal(np.load(tmp_path / "box.npy"), level[0:1, 0:1][(..., *box)])


def copied(driver, origin: str, button: str) -> str:
    """Click the copy ``button`` with clipboard access granted to ``origin``: it must say "Copied" (the page's
    success path, not its select-the-text fallback), and what the clipboard then holds is returned."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    driver.execute_script("return navigator.clipboard.writeText('')")
    element = driver.find_element(By.CSS_SELECTOR, button)
    assert element.text == "Copy"
    element.click()
    # "Copied" shows for 1.5 s, then the label goes back to "Copy": polled often enough to see it
    WebDriverWait(driver, 10, poll_frequency=0.02).until(lambda _: element.text == "Copied")
    return driver.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0]"
                                        "('clipboard read failed: ' + e))")


def test_embargoed_and_private(served, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    srv, ids, _ = served
    browser.get(f"{srv.url}/datasets/{ids['held']}")
    notice = browser.find_element(By.ID, "embargo").text
    assert "Embargoed until 2099-01-01" in notice
    assert browser.find_element(By.TAG_NAME, "h1").text == "Embargoed rat hippocampus"
    assert images_loaded(browser) == [] and ".png" not in browser.page_source
    assert httpx.get(f"{srv.url}/datasets/{ids['held']}/thumbnail.png").status_code == 401
    assert httpx.get(f"{srv.url}/datasets/{ids['hidden']}").status_code == 404
    browser.get(f"{srv.url}/?q=macaque")
    assert visible_cards(browser) == [] and "No dataset matches" in browser.page_source


def contrast(fg: str, bg: str) -> float:
    def luminance(css: str) -> float:
        rgb = [int(v) / 255 for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_accessibility_basics(served, browser):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    srv, ids, _ = served
    for path in ("/", f"/datasets/{ids['brain']}", "/docs"):
        browser.get(srv.url + path)
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        unlabelled = browser.execute_script("""
            return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.outerHTML)""")
        assert unlabelled == [], path
        assert browser.execute_script("return [...document.images].filter(i => !i.hasAttribute('alt')).length") == 0
        pairs = browser.execute_script("""
            const bg = e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
                              if (c !== 'rgba(0, 0, 0, 0)') return c; } return 'rgb(255, 255, 255)'; };
            return [...document.querySelectorAll('p, a, li, dt, dd, td, th, h1, h2, h3, label, button, .badge')]
              .filter(e => e.offsetParent !== null && e.textContent.trim())
              .map(e => [e.tagName + '.' + e.className, getComputedStyle(e).color, bg(e)])""")
        low = [(name, round(contrast(fg, bg), 2)) for name, fg, bg in pairs if contrast(fg, bg) < 4.5]
        assert low == [], (path, low[:5])
    # keyboard: the search page opens with the cursor in the search box; Tab walks sort, Search, the facets,
    # then the results; on a landing page the first Tab reaches the skip link, then the header's search
    browser.get(srv.url + "/")
    assert browser.switch_to.active_element.get_attribute("id") == "q"
    order = []
    for _ in range(6):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        element = browser.switch_to.active_element
        order.append(element.get_attribute("id") or element.get_attribute("data-value") or element.text)
    assert order[:2] == ["sort", "Search"] and order[2] in {"mus musculus", "danio rerio", "rattus norvegicus"}, order
    browser.get(f"{srv.url}/datasets/{ids['brain']}")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.text == "Skip to content"
    browser.switch_to.active_element.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "top-q"
    focusable = browser.execute_script("""
        const b = document.getElementById('open-neuroglancer'); b.focus(); return document.activeElement === b""")
    assert focusable
