"""Which decoder serves reads: glymur (regions and wavelet reductions) or imagecodecs (whole slices).

glymur drives the *system* libopenjp2 through ctypes; when that library (or glymur itself) is
missing, imagecodecs' bundled OpenJPEG still decodes full slices, so the reader keeps working with
level 0 only and the service's pyramid computes the coarser levels.
"""

from __future__ import annotations

import logging
from types import ModuleType

log = logging.getLogger(__name__)

GLYMUR = "glymur"
IMAGECODECS = "imagecodecs"
CHOICES = ("auto", GLYMUR, IMAGECODECS)


def glymur_module() -> ModuleType | None:
    """glymur if it imports (its header parser is pure Python, usable even without libopenjp2)."""
    try:
        import glymur
    except Exception:  # noqa: BLE001 - any import-time failure means "not available"
        return None
    return glymur


def openjpeg_loaded() -> bool:
    """True when glymur found the system libopenjp2 it needs to decode."""
    if glymur_module() is None:
        return False
    from glymur.lib import openjp2

    return openjp2.OPENJP2 is not None


def choose(requested: str | None = None) -> str:
    """The backend to use: ``requested`` (a plugin's or the configuration's ``jp2_backend``), else glymur
    when it can decode.

    Asking for glymur when it cannot decode falls back to imagecodecs with a warning rather than
    refusing every JPEG2000 dataset over a deployment detail.
    """
    wanted = (requested or "auto").strip().lower()
    if wanted not in CHOICES:
        log.warning("JPEG2000 backend %r is not one of %s; using auto", wanted, ", ".join(CHOICES))
        wanted = "auto"
    if wanted == IMAGECODECS:
        return IMAGECODECS
    if openjpeg_loaded():
        return GLYMUR
    if wanted == GLYMUR:
        log.warning("glymur or the system libopenjp2 is unavailable; decoding JPEG2000 with imagecodecs")
    return IMAGECODECS
