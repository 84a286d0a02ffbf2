"""What a failed request means, in words for a napari notification (never a traceback)."""

from __future__ import annotations

import json
import urllib.error

from transformer.client import ClientError


def explain(exc: BaseException, server: str, dataset_id: str | None = None, token: bool = False) -> str:
    """A one-line message naming the server (and the dataset) for ``exc`` raised by transformer.client;
    ``token``: whether the request carried one (a 401 then means the token is not valid)."""
    what = f"dataset {dataset_id!r} on {server}" if dataset_id else server
    if isinstance(exc, ClientError):
        if exc.status == 401 and token:
            return f"the token was refused by {server} (unknown, expired or revoked): {exc.reason}"
        if exc.status == 401:
            return f"{what} needs a token: {exc.reason} (the Brain archive widget has a Token field)"
        if exc.status == 403:
            return f"the token does not grant {what}: {exc.reason}"
        if exc.status == 404:
            return f"{what}: not found ({exc.reason})"
        if exc.status >= 500:
            return f"{server} failed (HTTP {exc.status}): {exc.reason}"
        return f"{what}: HTTP {exc.status}: {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{server} does not answer ({exc.reason})"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"{server} does not answer ({exc})"
    if isinstance(exc, json.JSONDecodeError):
        return f"{server} is not a brain-transformer service (its answer is not JSON)"
    return f"{what}: {exc}"


#: what transformer.client raises for a failed request (OSError: refused, reset, timed out)
FAILURES = (ClientError, OSError, ValueError)
