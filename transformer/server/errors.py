"""The one table that maps every layer's exceptions to HTTP status codes."""

from __future__ import annotations

import logging
import secrets

from readers.base import OutsideVolume, ReaderBug, ReaderError
from readers.scrub import describe, scrub
from transformer.engine.datasets import UnknownDataset
from writers.errors import MalformedKey, NoSuchKey, WriterError

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A malformed request parameter (HTTP 400)."""


class NotFound(LookupError):
    """Nothing of that name (HTTP 404)."""


class TooLarge(Exception):
    """A request for more data than one response may carry (HTTP 413)."""


class Unauthorized(Exception):
    """Embargoed data asked for without a valid token (HTTP 401)."""


class Forbidden(Exception):
    """A valid token that does not grant this dataset (HTTP 403)."""


class MethodNotAllowed(Exception):
    """The route exists but not for this method (HTTP 405)."""


class Unavailable(Exception):
    """The server cannot take this request now, but can later (HTTP 503 with ``Retry-After``): every slot or
    byte of temporary space for cutouts is taken, or the temporary disk is full."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


# (exception class, status, short error code); first match wins
TABLE: list[tuple[type[BaseException], int, str]] = [
    (MalformedKey, 400, "malformed_key"),
    (BadRequest, 400, "bad_request"),
    (MethodNotAllowed, 405, "method_not_allowed"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (TooLarge, 413, "too_large"),
    (NoSuchKey, 404, "not_found"),
    (NotFound, 404, "not_found"),
    (UnknownDataset, 404, "not_found"),
    (OutsideVolume, 404, "outside_volume"),
    (ReaderBug, 500, "internal_error"),  # a plugin's bug, not damaged data: logged, reason kept generic
    (ReaderError, 500, "source_error"),
    (WriterError, 500, "encoding_error"),
    (OSError, 500, "source_error"),
    (MemoryError, 503, "overloaded"),
    (Unavailable, 503, "unavailable"),
]


def classify(exc: BaseException) -> tuple[int, str, str]:
    """(status, code, reason) for an exception; unknown ones are 500 with a generic reason."""
    for cls, status, code in TABLE:
        if isinstance(exc, cls):
            if code == "internal_error":
                break  # the generic answer below: the details are for the log, not the client
            return status, code, _reason(exc, status)
    return 500, "internal_error", "the server failed to handle this request"


def _reason(exc: BaseException, status: int) -> str:
    text = str(exc.args[0]) if exc.args else exc.__class__.__name__
    if isinstance(exc, OSError) and not isinstance(exc, ReaderError):
        return f"reading the source failed ({exc.strerror or exc.__class__.__name__})"  # no paths
    # last resort: a source failure never names a server path, whichever reader or library phrased it
    return scrub(text) if status >= 500 else text


def log_failure(exc: BaseException, status: int, code: str) -> str:
    """Log a 5xx as one line (no traceback per request: a flood of one failure would drown the log) and
    return its id, which the response carries so a report can be matched to the line."""
    error_id = secrets.token_hex(6)
    log.error("%s %d %s: %s", error_id, status, code, describe(exc))  # describe scrubs paths
    log.debug("traceback of %s", error_id, exc_info=exc)
    return error_id
