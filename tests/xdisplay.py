"""napari offscreen, shared by every napari test: a virtual X server for GLX and a child-process runner.

Qt's offscreen platform draws into memory, but the OpenGL context napari's canvas needs comes from GLX: without
an X display vispy finds no context (glGetString answers None). So unless DISPLAY is set, ``display`` starts a
virtual one (``transformer.testing.virtual_display``: Xvfb) for Mesa's software GL, and ``run_napari`` runs a
script in a child process (Qt keeps its X connection until its process exits) against it.

What once made a launch fail on a loaded machine (1 in ~40), and what is done about each:
- Xvfb regenerates itself when its last client disconnects, so a child connecting meanwhile could meet a
  server without GLX: ``-noreset`` keeps one server generation for the whole module;
- the display number came before the server listened: ``-displayfd`` answers once it listens, and the
  fixture also waits until the display's socket accepts a connection;
- GLX is asked for explicitly (``+extension GLX``) and Mesa's software rasteriser chosen
  (``LIBGL_ALWAYS_SOFTWARE=1``), so no DRI device is probed;
- a child whose GL context still fails is run once more, and a second failure says that it was GL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest

from tests.require import module, unavailable
from transformer.testing import offscreen_env, virtual_display

#: what a child prints when it got no OpenGL context (vispy, Qt, GLX, Mesa)
GL_FAILURE = re.compile(r"glGetString|GL context|OpenGL context|GLXBadContext|Could not initialize GLX|"
                        r"QOpenGLWidget|failed to create.*context|could not connect to display", re.IGNORECASE)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """DISPLAY for GLX: the one set, else a virtual X server of our own for this module."""
    module("napari")
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        unavailable("xvfb", "napari needs an X display for OpenGL: install xvfb (scripts/system-deps.sh --all)")
    with virtual_display() as number:  # stopped after the module's children
        yield number


def require_xcb(display: str) -> None:
    """Skip unless Qt's xcb platform starts on ``display`` (its libraries: scripts/system-deps.sh --all); the
    offscreen platform draws napari's canvas black, so tests of pixels need a window on the virtual display."""
    probe = "from qtpy.QtWidgets import QApplication; QApplication([])"
    done = subprocess.run([sys.executable, "-c", probe], env=offscreen_env(display, "xcb"), capture_output=True,
                          text=True, timeout=120)
    if done.returncode:
        unavailable("xvfb", f"Qt's xcb platform does not start (scripts/system-deps.sh --all): {done.stderr[-300:]}")


def run_napari(script: str, args: Sequence[str], display: str, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -c script *args`` with napari's environment; run once more if its GL context failed. Fails the
    test with the child's stderr unless it exits 0."""
    command = [sys.executable, "-c", script, *args]
    for attempt in range(2):
        done = subprocess.run(command, env=offscreen_env(display, **(env or {})), capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode == 0:
            return done
        if not GL_FAILURE.search(done.stderr):
            break
        if attempt == 1:
            pytest.fail(f"napari got no OpenGL context twice on display {display}:\n{done.stderr[-3000:]}")
    pytest.fail(f"napari's child exited with {done.returncode}:\n{done.stderr[-3000:]}")
