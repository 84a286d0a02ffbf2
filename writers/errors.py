"""Errors raised by the pure format layer; the HTTP layer maps them to status codes in one place."""


class WriterError(Exception):
    """Base class of format-layer errors."""


class MalformedKey(WriterError, ValueError):
    """The key is not a canonical key of this format (HTTP 400)."""


class NoSuchKey(WriterError, LookupError):
    """The key is well formed but names nothing: a level or chunk outside the grid (HTTP 404)."""
