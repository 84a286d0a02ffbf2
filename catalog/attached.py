"""Objects beside an image: the neurons (SWC) and cell tables (CSV, Vaa3D .apo) a sidecar names.

The scan reads only what is cheap: the files a sidecar's patterns match, their stamps (name, size, mtime,
inode) and the first bytes of each (the ``#`` header lines of an SWC, the header row of a table). Parsing is
lazy: the server parses a neuron the first time it is asked for and then keeps its summary (node count,
cable length, soma, types, warnings) in the catalog's ``objects`` table, keyed by the file's stamp. 1,000
neurons of 100,000 nodes are about 5 GB of text: counting their lines alone would cost seconds per scan.

Each object has a stable decimal id (``object_id``): Neuroglancer segment ids are uint64 and JavaScript
reads JSON numbers as doubles, so ids stay below 2**53 and at or above 1 (0 is the background segment).
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

#: the sidecar key of each kind of object, and its units key
KINDS = {"neuron": ("neurons", "neurons_units"), "cells": ("cells", "cells_units")}
#: bytes read from the start of each file at scan time (header lines, a table's header row)
SNIFF_BYTES = 16 << 10
#: header lines kept per neuron, and characters per line
HEADER_LINES, HEADER_CHARS = 40, 300
#: files one pattern may bring in (a glob matching a whole disk is a mistake, not a brain)
MAX_FILES = 100_000


def object_id(dataset_id: str, name: str, attempt: int = 0) -> str:
    """A decimal id in [1, 2**53) from a hash of the dataset id and the file's name in the dataset's folder."""
    digest = hashlib.sha256(f"{dataset_id}\0{name}\0{attempt}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") % ((1 << 53) - 1) + 1)


def find_attached(meta: dict, base: str, root: str, dataset_id: str) -> list[dict]:
    """The objects the sidecar ``meta`` names, as record entries ``{"kind", "id", "name", "units"}``: each
    pattern's matches (relative to ``base``, the sidecar's folder), sorted, files under ``root`` only (a
    pattern cannot publish what lies outside the registered root), each file once."""
    out: list[dict] = []
    seen: set[str] = set()
    ids: set[str] = set()
    root = root.rstrip("/") + "/"
    for kind, (key, units_key) in KINDS.items():
        units = meta.get(units_key, "um")
        for pattern in meta.get(key) or ():
            matches = sorted(glob.glob(os.path.join(base, pattern), recursive="**" in pattern))[:MAX_FILES]
            for path in matches:
                real = os.path.realpath(path)
                if not real.startswith(root) or not os.path.isfile(real):
                    continue
                name = os.path.relpath(os.path.abspath(path), base)
                if name in seen:
                    continue
                seen.add(name)
                attempt, oid = 0, object_id(dataset_id, name)
                while oid in ids:  # two names of one dataset hashed alike: the later one takes another
                    attempt += 1
                    oid = object_id(dataset_id, name, attempt)
                ids.add(oid)
                out.append({"kind": kind, "id": oid, "name": name, "units": units})
    return out


def attached_files(base: str, attached: list[dict]) -> list[tuple[str, str]]:
    """(name, path) of each attached file, in record order: what the record's stamp covers after its image."""
    return [(entry["name"], os.path.join(base, entry["name"])) for entry in attached]


def sniff(path: Path, kind: str, st: os.stat_result | None = None) -> dict:
    """What the scan records of one file without parsing it: its label (file name), size, header lines and,
    for an empty or binary file, the refusal. Never raises: an unreadable file is a refusal. ``st``: the
    file's stat when the caller has it (not asked twice)."""
    summary: dict = {"label": path.name, "bytes": 0, "header": []}
    try:
        summary["bytes"] = (st or path.stat()).st_size
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        summary["refusal"] = f"cannot be read ({exc.strerror or exc.__class__.__name__})"
        return summary
    if not head.strip():
        summary["refusal"] = "empty file"
    elif b"\0" in head:
        summary["refusal"] = "binary file, not text"
    elif kind == "neuron":
        summary["header"] = header_lines(head)
    else:
        from readers.objects.points import sniff_points  # the table's columns and row count from its first bytes

        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        summary["header"] = [first[:HEADER_CHARS]]
        try:
            facts = sniff_points(path)
        except (OSError, ValueError) as exc:
            facts = {"error": str(exc)[:300]}
        if facts.get("error"):
            summary["refusal"] = facts["error"]
        else:
            summary.update(columns=facts["columns"], rows=facts["rows_estimate"], rows_exact=facts["exact"])
    return summary


def header_lines(head: bytes) -> list[str]:
    """The ``#`` comment lines at the start of an SWC, without ``#`` (as the parser reports them)."""
    lines = []
    for raw in head.split(b"\n"):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(b"#"):
            break
        lines.append(line[1:].strip().decode("utf-8", "replace")[:HEADER_CHARS])
        if len(lines) >= HEADER_LINES:
            break
    return lines


def rows_of(record, base: str) -> list[dict]:
    """The ``objects`` table rows of a record's attached files, as the scan makes them (sniffed, unparsed)."""
    from catalog.scan import stat_stamp  # the scan's stamp, one file at a time

    rows = []
    for entry in record.attached:
        path = Path(base, entry["name"])
        try:
            st = os.stat(path)
            stamp = stat_stamp([(entry["name"], st)])
        except OSError:
            st, stamp = None, ""
        rows.append(
            {
                "dataset_id": record.id,
                "object_id": entry["id"],
                "kind": entry["kind"],
                "name": entry["name"],
                "stamp": stamp,
                "summary": sniff(path, entry["kind"], st),
            }
        )
    return rows
