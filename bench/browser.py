"""Headless Chromium driving the service's own /viewer/ (Neuroglancer): shared by the browser tests and
``bench.browser_views``.

- ``start_chromium``: Debian's chromium through chromedriver, offline (selenium-manager never downloads).
- ``wait_ready``: Neuroglancer's ``viewer.isReady()`` on several polls in a row (like its screenshot
  handshake); returns when the streak began, so a bench can time a view to it.
- ``measuring_state``: the service's own state for a dataset, zoomed to 1 screen pixel per voxel.
- ``panel_viewports`` / ``fit_xy_panel``: the cross-section panels' render viewports, and a window sized
  so a single panel's is exactly the wanted size.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from transformer.testing import Server

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
WINDOW = (900, 720)

READY = "return !!(window.viewer && window.viewer.isReady())"
#: ``READY`` and the chunk statistics of Neuroglancer's worker (the layer bar's progress): every chunk its
#: visible sources need is loaded, and there are some. Under heavy CPU load ``isReady()`` alone was seen
#: to hold while a view's finer levels were still missing (a cold view "ready" with its 9 coarsest chunks).
LOADED = """
const v = window.viewer;
if (!v || !v.isReady()) return false;
let need = 0, have = 0;
for (const managed of v.layerManager.managedLayers) {
  if (!managed.layer || !managed.visible) continue;
  for (const r of managed.layer.renderLayers) {
    if (r.layerChunkProgressInfo) {
      need += r.layerChunkProgressInfo.numVisibleChunksNeeded;
      have += r.layerChunkProgressInfo.numVisibleChunksAvailable;
    }
  }
}
return need > 0 && need === have;
"""

PANELS = """
const panels = [];
for (const p of window.viewer.display.panels) {
  if (p.renderViewport) panels.push([p.canvasRelativeClippedLeft, p.canvasRelativeClippedTop,
                                     p.renderViewport.width, p.renderViewport.height]);
}
return panels;
"""


def available() -> bool:
    """Debian's chromium and chromium-driver are installed (scripts/system-deps.sh --all)."""
    return Path("/usr/bin/chromium").exists() and CHROMIUM.exists() and CHROMEDRIVER.exists()


def start_chromium(profile: Path, window: tuple[int, int] = WINDOW) -> WebDriver:
    """A headless Chromium with its profile in ``profile``; the browser console is logged
    (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--window-size={window[0]},{window[1]}", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never try to download a browser or driver
    try:
        driver = webdriver.Chrome(options=options, service=DriverService(executable_path=str(CHROMEDRIVER)))
    finally:
        if previous is None:
            del os.environ["SE_OFFLINE"]
        else:
            os.environ["SE_OFFLINE"] = previous
    driver.set_script_timeout(30)
    return driver


def wait_ready(driver: WebDriver, timeout: float = 60, streak: int = 3, poll: float = 0.15,
               check: str = READY) -> float:
    """Wait until ``check`` (JavaScript returning a boolean; default ``viewer.isReady()``: every visible
    chunk drawn) holds on ``streak`` polls in a row; returns the ``time.monotonic()`` of the first poll of
    that streak. Raises AssertionError with the browser log after ``timeout`` seconds."""
    deadline, ready, since = time.monotonic() + timeout, 0, 0.0
    while ready < streak:
        if time.monotonic() > deadline:
            logs = "\n".join(str(e) for e in driver.get_log("browser"))
            raise AssertionError(f"viewer not ready after {timeout:g} s; browser log:\n{logs}")
        now = time.monotonic()
        ok = driver.execute_script(check)
        if ok and ready == 0:
            since = now
        ready = ready + 1 if ok else 0
        time.sleep(poll)
    return since


def measuring_state(server: Server, dataset_id: str, kind: str, position_xyz, t: int = 0,
                    compensate: bool = True) -> dict:
    """The service's state, zoomed to 1 screen pixel per voxel at ``position_xyz``, without overlays."""
    r = httpx.get(f"{server.url}/api/datasets/{dataset_id}/neuroglancer", params={"source": kind, "t": t})
    if r.status_code != 200:
        raise AssertionError(f"neuroglancer state: {r.status_code} {r.text}")
    state = r.json()["state"]
    state["position"][:3] = list(position_xyz)
    state.update(layout="xy", crossSectionScale=1.0, showAxisLines=False, showScaleBar=False,
                 showDefaultAnnotations=False)
    if not compensate:
        for layer in state["layers"]:
            if isinstance(layer["source"], dict):
                layer["source"] = layer["source"]["url"]
    return state


def panel_viewports(driver: WebDriver) -> list[tuple[int, int, int, int]]:
    """(left, top, width, height) of every cross-section panel's render viewport on the canvas."""
    return [tuple(p) for p in driver.execute_script(PANELS)]


def settled_panels(driver: WebDriver, timeout: float = 30) -> list[tuple[int, int, int, int]]:
    """The panels' viewports once the viewer exists and two reads 0.2 s apart agree (no data needed)."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        panels = driver.execute_script("return window.viewer ? 1 : 0") and panel_viewports(driver)
        if panels and panels == last:
            return panels
        last = panels
        time.sleep(0.2)
    raise AssertionError(f"the viewer's panels did not settle in {timeout:g} s: {last}")


def fit_xy_panel(driver: WebDriver, link: str, size: tuple[int, int], tries: int = 4) -> tuple[int, int]:
    """Resize the window until the single panel of ``link`` (a one-panel layout) renders ``size`` (width,
    height) pixels; returns the window size. Raises AssertionError if it cannot."""
    for _ in range(tries):
        driver.get("about:blank")
        driver.get(link)
        panels = settled_panels(driver)
        if len(panels) != 1:
            raise AssertionError(f"expected one panel, got {panels}")
        width, height = panels[0][2:]
        if (width, height) == tuple(size):
            window = driver.get_window_size()
            return window["width"], window["height"]
        window = driver.get_window_size()
        driver.set_window_size(window["width"] + size[0] - width, window["height"] + size[1] - height)
    raise AssertionError(f"the panel stays {width}×{height}, not {size[0]}×{size[1]}")
