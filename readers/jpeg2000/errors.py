"""Turning decoder exceptions into reader errors whose messages never reveal a server path."""

from __future__ import annotations

from pathlib import Path

from readers.base import SourceError, UnsupportedSource


def scrub(message: str, path: Path) -> str:
    """``message`` with the file's full path (and its folder) replaced by the bare file name.

    glymur puts ``self.filename`` into several messages and OSErrors carry the path; responses
    must only ever name the file.
    """
    for p in {path, path.absolute(), path.resolve()}:
        message = message.replace(str(p), path.name)
        message = message.replace(str(p.parent) + "/", "").replace(str(p.parent), "<folder>")
    return " ".join(message.split()) or "no message from the decoder"


def describe(exc: BaseException, path: Path) -> str:
    return f"{path.name}: {scrub(f'{type(exc).__name__}: {exc}', path)}"


def unsupported(exc: BaseException, path: Path, what: str) -> UnsupportedSource:
    return UnsupportedSource(f"{what}: {describe(exc, path)}")


def source_error(exc: BaseException, path: Path, what: str) -> SourceError:
    return SourceError(f"{what}: {describe(exc, path)}")
