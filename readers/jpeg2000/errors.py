"""Turning decoder exceptions into reader errors whose messages never reveal a server path."""

from __future__ import annotations

from pathlib import Path

from readers import scrub as paths
from readers.base import SourceError, UnsupportedSource


def scrub(message: str, path: Path) -> str:
    """``message`` without server paths (``path`` reduced to its file name), on one line."""
    return " ".join(paths.scrub(message, path).split()) or "no message from the decoder"


def describe(exc: BaseException, path: Path) -> str:
    return f"{path.name}: {scrub(f'{type(exc).__name__}: {exc}', path)}"


def unsupported(exc: BaseException, path: Path, what: str) -> UnsupportedSource:
    return UnsupportedSource(f"{what}: {describe(exc, path)}")


def source_error(exc: BaseException, path: Path, what: str) -> SourceError:
    return SourceError(f"{what}: {describe(exc, path)}")
