"""Dataset records in an embedded SQLite database with FTS5 full-text search."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from catalog.access import today
from catalog.objects_table import ObjectsTable
from catalog.record import Record
from catalog.tokens import TokenRow

#: bumped whenever the tables below change; an older database is rebuilt from its records on open
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    species TEXT NOT NULL DEFAULT '',    -- lower case: filters and facets ignore case
    technique TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT '',
    access TEXT NOT NULL DEFAULT 'public',
    embargo_until TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',       -- lower case, for sorting
    byte_size INTEGER NOT NULL DEFAULT 0,
    added TEXT NOT NULL DEFAULT '',
    public INTEGER NOT NULL DEFAULT 1,  -- listed: 0 for private records only (embargoed ones are listed)
    record TEXT NOT NULL
);
-- facets count and pages sort without scanning the records' JSON (covering indexes: column, then listed)
CREATE INDEX IF NOT EXISTS datasets_species ON datasets (species, public);
CREATE INDEX IF NOT EXISTS datasets_technique ON datasets (technique, public);
CREATE INDEX IF NOT EXISTS datasets_format ON datasets (format, public);
CREATE INDEX IF NOT EXISTS datasets_access ON datasets (access, embargo_until, public);
-- the facet pass over every listed record (no words typed) scans this instead of the wide rows (not led by
-- `public`: the planner would take it for every page and sort all listed records, not walk a sort index)
CREATE INDEX IF NOT EXISTS datasets_facets ON datasets (species, technique, format, access, embargo_until, public);
CREATE INDEX IF NOT EXISTS datasets_title ON datasets (title);
CREATE INDEX IF NOT EXISTS datasets_added ON datasets (added);
CREATE INDEX IF NOT EXISTS datasets_size ON datasets (byte_size);
-- rowid = the datasets row's rowid
CREATE VIRTUAL TABLE IF NOT EXISTS datasets_fts USING fts5(
    id, title, description, species, technique, contributors, citation, format, more,
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
#: bm25 weights of the full-text columns above: a word in the title or id counts most
_WEIGHTS = "10.0, 8.0, 1.0, 3.0, 3.0, 2.0, 1.0, 1.0, 1.0"
#: what a facet counts: (name, SQL of its value; ``?`` is today's date for the access level that applies)
FACETS = {
    "species": "d.species",
    "technique": "d.technique",
    "format": "d.format",
    "access": "CASE WHEN d.access = 'embargoed' AND d.embargo_until != '' AND d.embargo_until <= :today "
              "THEN 'public' ELSE d.access END",
}
FACET_VALUES = 50  # the most values a facet lists
SORTS = {
    "relevance": None,  # bm25 with a query, else title
    "title": "d.title, d.id",
    "newest": "d.added DESC, d.id",
    "largest": "d.byte_size DESC, d.id",
    "id": "d.id",
}


@dataclass
class Query:
    """One search: full text ``q`` (every word a prefix), filters, sort and page, and what may be listed."""

    q: str = ""
    species: str = ""  # a word prefix of the species (``mus`` finds ``Mus musculus``), case ignored
    technique: str = ""  # likewise: ``light`` finds ``light-sheet``
    format: str = ""  # exact
    access: str = ""  # exact: the level that applies today
    sort: str = "relevance"
    limit: int = 50
    offset: int = 0
    include_private: bool = False
    granted: Collection[str] = ()


@dataclass
class Results:
    total: int
    records: list[Record]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # value, count; most first


def _text(record: Record) -> tuple:
    """The full-text columns of a record."""
    more = [record.specimen, record.instrument, record.doi, record.license, *record.keywords,
            *record.affiliations, *(f.get("name", "") + " " + (f.get("award") or "") for f in record.funders),
            *(p.get("citation", "") for p in record.publications), *(c.get("name") or "" for c in record.channels),
            *(a["name"].replace("/", " ") for a in record.attached)]  # its neurons and cell tables by file name
    return (record.id, record.title, record.description, record.species, record.technique,
            " ".join(record.contributors), record.citation, record.format, " ".join(m for m in more if m))


class Catalog(ObjectsTable):
    """Thread-safe access to the catalog database (one connection, serialised; reads are tiny)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._migrate()
        self._lock = threading.Lock()
        self._writes = 0  # this connection's own commits (``data_version`` counts only the others')
        # generation() asks its own connection, under its own lock: the event loop asks it for every warm chunk
        # and must not wait for the main lock, which a whole search holds (30-140 ms at 10,000 records). Seen
        # from that second connection, this one's commits are "other" ones too. A ":memory:" database has no
        # other connection: its own write count is its generation.
        self._watch = (None if str(path) == ":memory:"
                       else sqlite3.connect(str(path), check_same_thread=False, isolation_level=None))
        self._watch_lock = threading.Lock()

    def _migrate(self) -> None:
        """Create the tables, or rebuild those of an older schema from the records they hold."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            old = self._db.execute("SELECT name FROM sqlite_master WHERE name = 'datasets'").fetchone()
            records = []
            if old and version < SCHEMA_VERSION:
                records = [Record.from_dict(json.loads(r[0])) for r in self._db.execute("SELECT record FROM datasets")]
                self._db.execute("DROP TABLE datasets")
                self._db.execute("DROP TABLE IF EXISTS datasets_fts")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            for record in records:
                self._insert(record)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def generation(self) -> tuple[int, int]:
        """Changes whenever anything in the database changed, by this process or another (a ``transformer
        scan`` or ``token revoke`` beside the server): cheap enough to ask on every request."""
        if self._watch is None:
            return 0, self._writes
        with self._watch_lock:
            return self._watch.execute("PRAGMA data_version").fetchone()[0], self._writes

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self._db.close()

    @contextlib.contextmanager
    def _write(self, counted: bool = True) -> Iterator[None]:
        """One write transaction under the lock: committed whole, or rolled back whole on any error (else the
        shared connection would stay inside the transaction and every later write fail). ``counted``: whether
        it changes ``generation()`` (a parsed object's summary changes no record)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if counted:
                self._writes += 1

    def put(self, record: Record) -> None:
        with self._write():
            self._delete("id = ? OR source = ?", (record.id, record.source))
            self._insert(record)

    def put_many(self, records: Iterable[Record]) -> None:
        """Several records in one transaction (a bulk import; the search benchmark's 10,000)."""
        with self._write():
            for record in records:
                self._delete("id = ? OR source = ?", (record.id, record.source))
                self._insert(record)

    def _insert(self, record: Record) -> None:
        cur = self._db.execute(
            "INSERT INTO datasets (id, source, species, technique, format, access, embargo_until, title, "
            "byte_size, added, public, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.id, record.source, record.species.lower(), record.technique.lower(), record.format,
             record.access, record.embargo_until, record.title.lower(), record.byte_size, record.added,
             int(record.access != "private"), json.dumps(record.fields())),
        )
        self._db.execute("INSERT INTO datasets_fts (rowid, id, title, description, species, technique, contributors, "
                         "citation, format, more) VALUES (?,?,?,?,?,?,?,?,?,?)", (cur.lastrowid, *_text(record)))

    def _delete(self, where: str, args: tuple) -> int:
        rowids = [r[0] for r in self._db.execute(f"SELECT rowid FROM datasets WHERE {where}", args)]
        for rowid in rowids:
            self._db.execute("DELETE FROM datasets_fts WHERE rowid = ?", (rowid,))
            self._db.execute("DELETE FROM datasets WHERE rowid = ?", (rowid,))
        return len(rowids)

    def remove(self, dataset_id: str) -> bool:
        with self._write():  # the full-text row and the record go together
            removed = self._delete("id = ?", (dataset_id,))
        return removed > 0

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
        """(total matches, one page of records), best full-text matches first (:meth:`find` without facets).

        Private records are left out unless ``include_private`` (all of them) or their id is ``granted``."""
        found = self.find(Query(q, species, technique, limit=limit, offset=offset,
                                include_private=include_private, granted=granted), facets=False)
        return found.total, found.records

    def find(self, query: Query, facets: bool = True) -> Results:
        """One page of matches, their total and (``facets``) the count of each species, technique, format and
        access level among all matches."""
        where, args = [], {"today": today().isoformat()}
        join = ""
        order = SORTS.get(query.sort) or "d.title, d.id"
        if query.q.strip():
            # the full-text match drives (CROSS JOIN keeps that order): with a sort index at hand the planner
            # would otherwise walk every record in sort order and ask FTS about each (3 s on 10,000 records)
            join = "CROSS JOIN datasets d ON d.rowid = f.rowid"
            where.append("datasets_fts MATCH :q")
            args["q"] = fts_query(query.q)
            if query.sort not in SORTS or SORTS[query.sort] is None:
                order = f"bm25(datasets_fts, {_WEIGHTS}), d.id"
        for name in ("species", "technique"):
            value = getattr(query, name).strip().lower()
            if value:
                where.append(_word_prefix(f"d.{name}", name))
                args[name] = value
                args[name + "_like"] = _escape_like(value)
        for name in ("format", "access"):
            value = getattr(query, name).strip()
            if value:
                where.append(f"({FACETS[name]}) = :{name}")
                args[name] = value
        if not query.include_private:
            ids = list(query.granted)
            names = [f":granted{i}" for i in range(len(ids))]
            args.update({n[1:]: i for n, i in zip(names, ids, strict=True)})
            where.append(f"(d.public = 1 OR d.id IN ({','.join(names)}))" if ids else "d.public = 1")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        # word-prefix filters are LIKEs no index answers: the planner walked the sort index reading every wide
        # row to find a page (10 ms for a filter matching nothing); the narrow facets index holds both columns
        narrow = "INDEXED BY datasets_facets" if query.species.strip() or query.technique.strip() else ""
        source = f"FROM datasets_fts f {join} {clause}" if join else f"FROM datasets d {narrow} {clause}"
        with self._lock:
            if facets:  # one pass over the matches counts each combination of facet values (a few hundred at
                # most): counting 9,000 matches' values in Python took longer than the query
                groups = self._db.execute(f"SELECT {', '.join(FACETS.values())}, count(*) {source} "
                                          f"GROUP BY {', '.join(str(i + 1) for i in range(len(FACETS)))}",
                                          args).fetchall()
                total = sum(g[-1] for g in groups)
            else:
                total = self._db.execute(f"SELECT count(*) {source}", args).fetchone()[0]
            # the page's rowids first, then their records: sorting the records themselves carried every
            # match's JSON through the sort (page 200 of 9,000 matches: 55 ms instead of 13)
            page = [r[0] for r in self._db.execute(
                f"SELECT d.rowid {source} ORDER BY {order} LIMIT :limit OFFSET :offset",
                {**args, "limit": query.limit, "offset": query.offset})]
            records = dict(self._db.execute(
                f"SELECT rowid, record FROM datasets WHERE rowid IN ({','.join('?' * len(page))})", page))
        counts = {}
        if facets:
            for i, name in enumerate(FACETS):
                tally = Counter()
                for group in groups:
                    if group[i]:
                        tally[group[i]] += group[-1]
                counts[name] = sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:FACET_VALUES]
        return Results(total, [Record.from_dict(json.loads(records[r])) for r in page], counts)

    def accesses(self) -> list[tuple[str, str, str]]:
        """(id, access, embargo_until) of every record by id: what S3 listings filter on, without the records."""
        with self._lock:
            return self._db.execute("SELECT id, access, embargo_until FROM datasets ORDER BY id").fetchall()

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
    """User text as an FTS5 query: every word must match, as a prefix; FTS syntax is not exposed. Words are
    split where the tokenizer splits them (``mouse-brain`` is ``mouse`` and ``brain``)."""
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return " ".join(f'"{w}"*' for w in words) or '""'


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_prefix(column: str, name: str) -> str:
    """SQL: ``column`` equals the value, or one of its words starts with it (words split at spaces, hyphens)."""
    return (f"({column} = :{name} OR {column} LIKE :{name}_like || '%' ESCAPE '\\' "
            f"OR {column} LIKE '% ' || :{name}_like || '%' ESCAPE '\\' "
            f"OR {column} LIKE '%-' || :{name}_like || '%' ESCAPE '\\')")
