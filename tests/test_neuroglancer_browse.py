"""Neuroglancer's folder browsing, in the viewer the service bundles at /viewer/ (headless Chromium): a user
adds a layer, types the server's URL and a view prefix into the source box, and the completions list every
public dataset, then the dataset's own keys, and Neuroglancer recognises the format.

Neuroglancer lists a plain http(s) URL as S3 (routes/s3.py answers the view prefixes). Its released versions
(2.41.2 is bundled) parse the listing with an XPath that finds no element in S3's namespace; the listing sent to
a browser carries each entry once more in no namespace (writers/s3_xml.list_v2). Without that, every step below
shows no completion at all.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from bench.browser import available, start_chromium
from tests.require import skip_without

pytestmark = [pytest.mark.slow, skip_without(
    "chromium", available(), "needs Debian chromium and chromium-driver (scripts/system-deps.sh --all installs them)",
)]

COMPLETION = ".neuroglancer-multiline-autocomplete-completion"
HINT = ".neuroglancer-multiline-autocomplete-hint"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def completions(driver, server, typed: str, expected: set[str], timeout: float = 30) -> tuple[list[str], str]:
    """The completions (and the format hint) Neuroglancer offers for ``typed`` in a new layer's source box, once
    they include ``expected``."""
    driver.get(server.url + "/viewer/")
    deadline = time.monotonic() + timeout
    while not driver.find_elements(By.CSS_SELECTOR, ".neuroglancer-layer-add-button"):
        assert time.monotonic() < deadline, "the viewer did not start"
        time.sleep(0.2)
    driver.find_element(By.CSS_SELECTOR, ".neuroglancer-layer-add-button").click()
    while "neuroglancer-multiline-autocomplete-input" not in (driver.switch_to.active_element.get_attribute("class")
                                                               or ""):
        assert time.monotonic() < deadline, "the new layer's source box never took the focus"
        time.sleep(0.1)
    driver.switch_to.active_element.send_keys(server.url + typed)
    found, hint = [], ""
    while time.monotonic() < deadline:
        # a file's completion ends with "|" (what follows it is a format); one more names the format found
        found = [e.text.removesuffix("|") for e in driver.find_elements(By.CSS_SELECTOR, COMPLETION)
                 if not e.text.startswith("|")]
        hint = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, HINT))
        if expected <= set(found):
            return found, hint
        time.sleep(0.3)
    logs = "\n".join(str(e) for e in driver.get_log("browser"))
    raise AssertionError(f"{typed}: completions {found}, expected {sorted(expected)}; browser log:\n{logs}")


def public_ids(generated) -> list[str]:
    return sorted(g.dataset_id for name, g in generated.items() if name != "_catalog")


@pytest.mark.parametrize("view", ["zarr", "zarr3"])
def test_typing_a_zarr_view_lists_datasets_then_their_keys(browser, server, generated, view):
    ids = public_ids(generated)
    found, _ = completions(browser, server, f"/{view}/", {f"{i}.ome.zarr/" for i in ids})
    assert sorted(found) == sorted(f"{i}.ome.zarr/" for i in ids)  # each once: no copy of an entry shows twice
    dataset = generated["big"].dataset_id
    documents = {".zattrs", ".zgroup"} if view == "zarr" else {"zarr.json"}
    found, hint = completions(browser, server, f"/{view}/{dataset}.ome.zarr/", {"0/", "1/", *documents})
    assert len(found) == len(set(found))
    assert ("zarr2:" if view == "zarr" else "zarr3:") in hint  # Neuroglancer recognised the format


def test_typing_the_precomputed_view_lists_datasets_then_info(browser, server, generated):
    ids = public_ids(generated)
    found, _ = completions(browser, server, "/precomputed/", {f"{i}/" for i in ids})
    assert sorted(found) == sorted(f"{i}/" for i in ids)
    _, hint = completions(browser, server, f"/precomputed/{generated['big'].dataset_id}/", {"info", "0/"})
    assert "neuroglancer-precomputed:" in hint
