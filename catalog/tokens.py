"""Access tokens: a random secret shown once, stored only as its sha256, granting some datasets or all.

A token is checked on every request against the catalog database, so revoking it (``transformer token
revoke``, another process) takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: the alphabet of ``secrets.token_urlsafe``: also what a ``/t/{TOKEN}/`` path segment may hold
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,200}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenRow:
    name: str
    hash: str
    datasets: tuple[str, ...] | None  # None: every dataset
    created: str
    expires: str | None = None
    revoked: str | None = None

    def valid(self, at: datetime | None = None) -> bool:
        at = at or now()
        return self.revoked is None and (self.expires is None or at < datetime.fromisoformat(self.expires))

    def covers(self, dataset_id: str) -> bool:
        return self.datasets is None or dataset_id in self.datasets

    def as_row(self) -> tuple:
        datasets = None if self.datasets is None else json.dumps(list(self.datasets))
        return self.name, self.hash, datasets, self.created, self.expires, self.revoked

    @classmethod
    def from_row(cls, row: tuple) -> TokenRow:
        name, hash_, datasets, created, expires, revoked = row
        return cls(name, hash_, None if datasets is None else tuple(json.loads(datasets)), created, expires, revoked)


def new_token(name: str, datasets: list[str] | None, lifetime: timedelta | None) -> tuple[str, TokenRow]:
    """(the token, the row to store): the token itself is returned once and never kept."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"token name {name!r}: letters, digits and _.@- only, up to 100")
    token = secrets.token_urlsafe(32)
    created = now()
    expires = (created + lifetime).isoformat(timespec="seconds") if lifetime else None
    row = TokenRow(name, digest(token), None if datasets is None else tuple(datasets),
                   created.isoformat(timespec="seconds"), expires)
    return token, row


def parse_lifetime(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w``."""
    match = re.fullmatch(r"(\d{1,6})([mhdw])", text.strip())
    if not match:
        raise ValueError(f"--expires {text!r}: a number and m, h, d or w (30d)")
    n, unit = int(match[1]), match[2]
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
