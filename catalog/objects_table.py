"""The catalog's ``objects`` table: one row per neuron or cell table attached to a dataset (catalog/attached.py).

A row holds the parent dataset id, the object id, its kind, its file's name in the dataset's folder, the
file's stamp when the row was written and a JSON summary: the scan writes the cheap part (label, bytes,
header lines, refusal of an empty or binary file); the server adds what parsing tells (nodes, cable length,
soma, types, defects) the first time it parses the file. A summary of another stamp than the file's is
stale and is not used. ``objects_fts`` makes neurons findable by name, SWC type and header words; a search
joins the datasets table, so an object is listed exactly when its dataset is (access is the dataset's).

Mixed into :class:`catalog.store.Catalog`, whose connection, lock and write transaction it uses.
"""

from __future__ import annotations

import json
from collections.abc import Collection

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    dataset_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    stamp TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (dataset_id, object_id)
);
-- rowid = the objects row's rowid
CREATE VIRTUAL TABLE IF NOT EXISTS objects_fts USING fts5(
    name, types, header, tokenize = 'unicode61 remove_diacritics 2'
)
"""


def _text(row: dict) -> tuple[str, str, str]:
    summary = row["summary"]
    # file names split into words at dots and underscores too (``cell_12.swc`` is found by ``cell``)
    name = row["name"].replace("_", " ").replace(".", " ").replace("/", " ")
    types = " ".join(summary.get("type_names") or [])
    return f"{row['name']} {name}", types, " ".join(summary.get("header") or [])


class ObjectsTable:
    """Methods of the catalog over the ``objects`` table (``self._db``, ``self._lock``, ``self._write`` are the
    catalog's)."""

    def ensure_objects_schema(self) -> None:
        """Create the tables once per connection (an older database gains them on first use)."""
        if getattr(self, "_objects_ready", False):
            return
        with self._lock:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._objects_ready = True

    def put_objects(self, dataset_id: str, rows: list[dict]) -> None:
        """Replace the rows of ``dataset_id``; a row whose stamp is unchanged keeps what parsing added."""
        self.ensure_objects_schema()
        with self._write():  # the catalog's transaction (catalog/store.py)
            kept = {
                r[0]: (r[1], json.loads(r[2]))
                for r in self._db.execute(
                    "SELECT object_id, stamp, summary FROM objects WHERE dataset_id = ?", (dataset_id,)
                )
            }
            self._drop_objects(dataset_id)
            for row in rows:
                old = kept.get(row["object_id"])
                if old is not None and old[0] == row["stamp"] and row["stamp"]:
                    row = {**row, "summary": {**row["summary"], **old[1]}}
                self._insert_object(row)

    def _drop_objects(self, dataset_id: str) -> None:
        rowids = [r[0] for r in self._db.execute("SELECT rowid FROM objects WHERE dataset_id = ?", (dataset_id,))]
        for rowid in rowids:
            self._db.execute("DELETE FROM objects_fts WHERE rowid = ?", (rowid,))
        self._db.execute("DELETE FROM objects WHERE dataset_id = ?", (dataset_id,))

    def _insert_object(self, row: dict) -> None:
        cur = self._db.execute(
            "INSERT INTO objects (dataset_id, object_id, kind, name, stamp, summary) VALUES (?,?,?,?,?,?)",
            (
                row["dataset_id"],
                row["object_id"],
                row["kind"],
                row["name"],
                row["stamp"],
                json.dumps(row["summary"], allow_nan=False),
            ),
        )
        self._db.execute(
            "INSERT INTO objects_fts (rowid, name, types, header) VALUES (?,?,?,?)", (cur.lastrowid, *_text(row))
        )

    def objects(self, dataset_id: str) -> list[dict]:
        """The rows of ``dataset_id`` (summary decoded), in name order."""
        self.ensure_objects_schema()
        with self._lock:
            rows = self._db.execute(
                "SELECT object_id, kind, name, stamp, summary FROM objects WHERE dataset_id = ? ORDER BY name",
                (dataset_id,),
            ).fetchall()
        return [
            {
                "dataset_id": dataset_id,
                "object_id": r[0],
                "kind": r[1],
                "name": r[2],
                "stamp": r[3],
                "summary": json.loads(r[4]),
            }
            for r in rows
        ]

    def put_object_summary(self, dataset_id: str, object_id: str, stamp: str, summary: dict) -> None:
        """Keep what parsing found, if the row still describes the file of ``stamp``. Not counted as a write
        of this connection: a summary changes no record, so open datasets need not be re-read."""
        self.ensure_objects_schema()
        with self._write(counted=False):
            row = self._db.execute(
                "SELECT rowid, name, summary FROM objects WHERE dataset_id = ? AND object_id = ? AND stamp = ?",
                (dataset_id, object_id, stamp),
            ).fetchone()
            if row is None:
                return
            merged = {**json.loads(row[2]), **summary}
            self._db.execute(
                "UPDATE objects SET summary = ? WHERE rowid = ?", (json.dumps(merged, allow_nan=False), row[0])
            )
            self._db.execute("DELETE FROM objects_fts WHERE rowid = ?", (row[0],))
            self._db.execute(
                "INSERT INTO objects_fts (rowid, name, types, header) VALUES (?,?,?,?)",
                (row[0], *_text({"name": row[1], "summary": merged})),
            )

    def find_objects(
        self, q: str, limit: int = 50, include_private: bool = False, granted: Collection[str] = ()
    ) -> list[dict]:
        """Objects whose name, types or header match every word of ``q`` (as prefixes), best first; only of
        datasets that may be listed (public or embargoed, or ``granted``)."""
        from catalog.store import fts_query

        self.ensure_objects_schema()
        args: list = [fts_query(q)]
        where = ""
        if not include_private:
            ids = list(granted)
            where = f"AND (d.public = 1 OR d.id IN ({','.join('?' * len(ids))}))" if ids else "AND d.public = 1"
            args += ids
        with self._lock:
            rows = self._db.execute(
                "SELECT o.dataset_id, o.object_id, o.kind, o.name, o.summary FROM objects_fts f "
                "CROSS JOIN objects o ON o.rowid = f.rowid JOIN datasets d ON d.id = o.dataset_id "
                f"WHERE objects_fts MATCH ? {where} ORDER BY bm25(objects_fts, 10.0, 5.0, 1.0) LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [
            {"dataset_id": r[0], "object_id": r[1], "kind": r[2], "name": r[3], "summary": json.loads(r[4])}
            for r in rows
        ]
