"""Objects beside an image, opened lazily: a neuron is parsed, a cell table read and indexed, the first time a
request needs it, in the worker pool (these functions block), and kept in the ``objects`` cache under the
dataset's version, so a changed file is a new version and never mixes with the old one.

Coordinates are the image's physical frame in micrometres, x, y, z as in the files: an SWC in µm is taken as
it is; one in voxels (``neurons_units: "voxel"``) is scaled by the image's level-0 voxel size, so voxel
coordinate ``k`` lands on the centre of voxel ``k``, as in the zarr views (docs/objects.md).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from catalog.store import Catalog
from readers.caching import Cache
from readers.objects.points import PointTableError
from readers.objects.swc import SWC_TYPE_NAMES, Morphology, parse_swc
from transformer.engine.cells import CellTable, build_cell_table
from transformer.engine.datasets import Dataset
from writers.errors import NoSuchKey

log = logging.getLogger(__name__)

#: SWC bytes a neuron listing parses by itself (about 1.5 million nodes, a second or two)
AUTO_PARSE_BYTES = 64 << 20
#: defects kept in a neuron's summary (a broken file may have thousands; the first ones say enough)
MAX_DEFECTS = 50


class NoSuchObject(NoSuchKey):
    """No neuron or cell table of that id in this dataset (404)."""


class RefusedObject(NoSuchKey):
    """The file is attached but cannot be served (a cycle, a duplicate id, empty or binary): 404 with why."""


@dataclass
class Neuron:
    """One parsed neuron: the morphology, its node positions in the image's physical frame (µm, x, y, z)
    and its summary."""

    id: str
    name: str
    morphology: Morphology
    xyz_um: np.ndarray
    radius_um: np.ndarray
    summary: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        m = self.morphology
        return (
            int(
                m.ids.nbytes
                + m.types.nbytes
                + m.xyz.nbytes
                + m.radius.nbytes
                + m.parent.nbytes
                + self.xyz_um.nbytes
                + self.radius_um.nbytes
            )
            + 4096
        )


def type_name(t: int) -> str:
    return SWC_TYPE_NAMES.get(int(t), f"custom_{int(t)}")


def base_of(ds: Dataset) -> Path:
    source = Path(ds.record.source)
    return source if source.is_dir() else source.parent


def scale_of(ds: Dataset, units: str) -> tuple[float, float, float]:
    """µm per file unit, x, y, z."""
    if units == "voxel":
        vz, vy, vx = ds.record.voxel_size
        return (vx, vy, vz)
    return (1.0, 1.0, 1.0)


class ObjectStore:
    """The neurons and cell tables of open datasets, built on demand and kept in ``cache``. Summaries found by
    parsing go to the catalog's ``objects`` table, so a page lists them without parsing again."""

    def __init__(self, cache: Cache, catalog: Catalog) -> None:
        self.cache = cache
        self.catalog = catalog

    # -- what a dataset has ------------------------------------------------------------------------

    @staticmethod
    def entries(ds: Dataset, kind: str) -> list[dict]:
        return [e for e in ds.record.attached if e["kind"] == kind]

    def entry(self, ds: Dataset, kind: str, object_id: str) -> dict:
        for e in ds.record.attached:
            if e["kind"] == kind and e["id"] == object_id:
                return e
        raise NoSuchObject(
            f"no {'neuron' if kind == 'neuron' else 'cell table'} {object_id} in dataset {ds.record.id!r}"
        )

    def path(self, ds: Dataset, entry: dict) -> Path:
        return base_of(ds) / entry["name"]

    def rows(self, ds: Dataset) -> dict[str, dict]:
        """The catalog's rows of this dataset by object id, with summaries made for the file as it is now
        (a stale summary, of another stamp, is dropped to the scan's part)."""
        from catalog.scan import stat_stamp

        out = {}
        for row in self.catalog.objects(ds.record.id):
            try:
                stamp = stat_stamp([(row["name"], os.stat(base_of(ds) / row["name"]))])
            except OSError:
                continue
            if stamp != row["stamp"]:
                keep = ("label", "bytes", "header", "refusal")
                row["summary"] = {k: v for k, v in row["summary"].items() if k in keep}
            out[row["object_id"]] = row
        return out

    # -- neurons -----------------------------------------------------------------------------------

    def neuron(self, ds: Dataset, object_id: str) -> Neuron:
        """The parsed neuron (blocking); RefusedObject when its file gives no tree."""
        entry = self.entry(ds, "neuron", object_id)
        found = self._parsed(ds, entry)
        if found.morphology.refusal:
            raise RefusedObject(f"neuron {object_id} ({entry['name']}) is not served: {found.morphology.refusal}")
        return found

    def _parsed(self, ds: Dataset, entry: dict) -> Neuron:
        """The neuron of ``entry``, parsed once per dataset version (refused ones too: the refusal is kept)."""
        return self.cache.get_or_compute((ds.version, "neuron", entry["id"]), lambda: self._parse(ds, entry))

    def _parse(self, ds: Dataset, entry: dict) -> Neuron:
        path = self.path(ds, entry)
        st = _stat(path, entry)
        data = path.read_bytes()
        morphology = parse_swc(data)
        scale = scale_of(ds, entry.get("units", "um"))
        xyz = morphology.xyz * np.asarray(scale, dtype=np.float64)
        # a radius in voxels is scaled by the mean lateral voxel size (SWC has one radius per node)
        radius = morphology.radius * np.float32((scale[0] + scale[1]) / 2)
        summary = neuron_summary(morphology, scale, path.name)
        self._keep_summary(ds, entry, st, summary)
        return Neuron(entry["id"], entry["name"], morphology, xyz, radius, summary)

    def summaries(self, ds: Dataset, parse_missing: bool | None = True) -> list[dict]:
        """Every neuron's ``{"id", "name", "label", **summary}``, in record order; ``parse_missing`` parses
        those whose summary is not known yet (blocking); None: only when they are at most AUTO_PARSE_BYTES in
        all (a listing must not take minutes on a brain of 1,000 large neurons)."""
        rows = self.rows(ds)
        entries = self.entries(ds, "neuron")
        known = [dict(rows.get(e["id"], {}).get("summary") or {}) for e in entries]
        if parse_missing is None:
            missing = sum(k.get("bytes", 0) for k in known if "nodes" not in k and "refusal" not in k)
            parse_missing = missing <= AUTO_PARSE_BYTES
        out = []
        for entry, summary in zip(entries, known, strict=True):
            if "nodes" not in summary and "refusal" not in summary and parse_missing:
                try:
                    summary = {**summary, **self._parsed(ds, entry).summary}
                except OSError as exc:
                    summary["refusal"] = f"cannot be read ({exc.strerror or exc.__class__.__name__})"
            out.append({"id": entry["id"], "name": entry["name"], "label": Path(entry["name"]).name, **summary})
        return out

    # -- cells -------------------------------------------------------------------------------------

    def cell_table(self, ds: Dataset, object_id: str) -> CellTable:
        """The cell table, read and spatially indexed (blocking)."""
        entry = self.entry(ds, "cells", object_id)
        scale = scale_of(ds, entry.get("units", "um"))
        return self.cache.get_or_compute((ds.version, "cells", object_id), lambda: self._build(ds, entry, scale))

    def _build(self, ds: Dataset, entry: dict, scale: tuple[float, float, float]) -> CellTable:
        path = self.path(ds, entry)
        st = _stat(path, entry)
        try:
            table = build_cell_table(path, scale)
        except PointTableError as exc:  # no usable x, y, z: attached, listed, not served
            raise RefusedObject(f"cell table {entry['id']} ({entry['name']}) is not served: {exc}") from None
        summary = {"rows": len(table), "rows_exact": True, "columns": [s["id"] for s in table.specs]}
        self._keep_summary(ds, entry, st, summary)
        return table

    def _keep_summary(self, ds: Dataset, entry: dict, st: os.stat_result, summary: dict) -> None:
        """Keep what parsing found in the catalog, for the file as ``st`` saw it."""
        from catalog.scan import stat_stamp

        try:
            self.catalog.put_object_summary(ds.record.id, entry["id"], stat_stamp([(entry["name"], st)]), summary)
        except Exception:  # noqa: BLE001 - a read-only or busy catalog must not fail the request
            log.warning("could not keep the summary of %s %s of %s", entry["kind"], entry["id"], ds.record.id,
                        exc_info=True)


def _stat(path: Path, entry: dict) -> os.stat_result:
    """The file's stat; a file removed since the scan is an object that no longer exists (404), not a failure."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise NoSuchObject(f"{entry['name']} is gone from the dataset's folder (a rescan forgets it)") from None


def neuron_summary(morphology: Morphology, scale_xyz: tuple[float, float, float], label: str) -> dict:
    """What the catalog and the pages show of a parsed neuron (µm in the image's physical frame)."""
    defects = [
        d.as_dict()
        if hasattr(d, "as_dict")
        else {"line": d.line, "kind": d.kind, "message": d.message, "fatal": d.fatal}
        for d in morphology.defects
    ]
    summary = {
        "label": label,
        "header": list(morphology.header)[:40],
        "defects": defects[:MAX_DEFECTS],
        "warnings": sum(1 for d in defects if not d["fatal"]),
    }
    if morphology.refusal:
        return {**summary, "refusal": morphology.refusal}
    facts = morphology.summary(scale_xyz)
    facts["type_names"] = [type_name(t) for t in facts.get("types", [])]
    return {**summary, **facts}
