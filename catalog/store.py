"""Dataset records in an embedded SQLite database with FTS5 full-text search."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection
from dataclasses import asdict
from pathlib import Path

from catalog.record import Record
from catalog.tokens import TokenRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    species TEXT NOT NULL DEFAULT '',
    technique TEXT NOT NULL DEFAULT '',
    public INTEGER NOT NULL DEFAULT 1,  -- listed: 0 for private records only (embargoed ones are listed)
    record TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS datasets_fts USING fts5(
    id UNINDEXED, title, description, species, technique, contributors, citation, format,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,  -- sha256 of the token: the token itself is never stored
    datasets TEXT,              -- JSON list of dataset ids, NULL for every dataset
    created TEXT NOT NULL,
    expires TEXT,               -- ISO time (UTC), NULL for never
    revoked TEXT                -- ISO time (UTC) of revocation, NULL while valid
);
"""


class Catalog:
    """Thread-safe access to the catalog database (one connection, serialised; reads are tiny)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._writes = 0  # this connection's own commits (``data_version`` counts only the others')

    def generation(self) -> tuple[int, int]:
        """Changes whenever anything in the database changed, by this process or another (a ``transformer
        scan`` or ``token revoke`` beside the server): cheap enough to ask on every request."""
        with self._lock:
            return self._db.execute("PRAGMA data_version").fetchone()[0], self._writes

    def close(self) -> None:
        self._db.close()

    def put(self, record: Record) -> None:
        fts = (record.id, record.title, record.description, record.species, record.technique,
               " ".join(record.contributors), record.citation, record.format)
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM datasets WHERE id = ? OR source = ?", (record.id, record.source))
            self._db.execute("DELETE FROM datasets_fts WHERE id = ?", (record.id,))
            self._db.execute(
                "INSERT INTO datasets (id, source, species, technique, public, record) VALUES (?,?,?,?,?,?)",
                (record.id, record.source, record.species.lower(), record.technique.lower(),
                 int(record.access != "private"), json.dumps(asdict(record))),
            )
            self._db.execute("INSERT INTO datasets_fts VALUES (?,?,?,?,?,?,?,?)", fts)
            self._db.execute("COMMIT")
            self._writes += 1

    def remove(self, dataset_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
            self._db.execute("DELETE FROM datasets_fts WHERE id = ?", (dataset_id,))
            self._writes += 1
            return cur.rowcount > 0

    def get(self, dataset_id: str) -> Record | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        return Record.from_dict(json.loads(row[0])) if row else None

    def id_for_source(self, source: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT id FROM datasets WHERE source = ?", (source,)).fetchone()
        return row[0] if row else None

    def search(
        self,
        q: str = "",
        species: str = "",
        technique: str = "",
        limit: int = 50,
        offset: int = 0,
        include_private: bool = False,
        granted: Collection[str] = (),
    ) -> tuple[int, list[Record]]:
        """(total matches, one page of records), best full-text matches first.

        Private records are left out unless ``include_private`` (all of them) or their id is ``granted``."""
        where, args = [], []
        join = ""
        order = "d.id"
        if q.strip():
            join = "JOIN datasets_fts f ON f.id = d.id"
            where.append("datasets_fts MATCH ?")
            args.append(fts_query(q))
            order = "bm25(datasets_fts), d.id"
        if species:
            where.append("d.species = ?")
            args.append(species.lower())
        if technique:
            where.append("d.technique = ?")
            args.append(technique.lower())
        if not include_private:
            ids = list(granted)
            where.append(f"(d.public = 1 OR d.id IN ({','.join('?' * len(ids))}))" if ids else "d.public = 1")
            args.extend(ids)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM datasets d {join} {clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT d.record FROM datasets d {join} {clause} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return total, [Record.from_dict(json.loads(r[0])) for r in rows]

    def all(self) -> list[Record]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM datasets ORDER BY id").fetchall()
        return [Record.from_dict(json.loads(r[0])) for r in rows]


    # tokens (catalog.tokens makes and checks them; only their sha256 is stored)
    def put_token(self, row: TokenRow) -> None:
        """Raises ValueError when the name is taken."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?)", row.as_row())
            except sqlite3.IntegrityError:
                raise ValueError(f"a token named {row.name!r} exists already") from None
            self._writes += 1

    def token_by_hash(self, digest: str) -> TokenRow | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM tokens WHERE hash = ?", (digest,)).fetchone()
        return TokenRow.from_row(row) if row else None

    def tokens(self) -> list[TokenRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM tokens ORDER BY name").fetchall()
        return [TokenRow.from_row(r) for r in rows]

    def revoke_token(self, name: str, when: str) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", (when, name))
            self._writes += 1
            return cur.rowcount > 0


def fts_query(text: str) -> str:
    """User text as an FTS5 query: every word must match, as a prefix; FTS syntax is not exposed."""
    words = ["".join(ch for ch in w if ch.isalnum()) for w in text.split()]
    return " ".join(f'"{w}"*' for w in words if w) or '""'
