"""Catalog records without image files: varied, deterministic metadata for search benchmarks and tests.

Such records can be listed and searched (and their pages rendered) but not opened: their sources do not exist.
"""

from __future__ import annotations

from catalog.record import Record

SPECIES = ["Mus musculus", "Danio rerio", "Rattus norvegicus", "Macaca mulatta", "Homo sapiens"]
COMMON = ["mouse", "zebrafish", "rat", "rhesus macaque", "human"]
TECHNIQUES = ["light-sheet", "confocal", "two-photon", "fMOST", "serial two-photon tomography"]
ACCESS = ["public"] * 8 + ["embargoed", "private"]
REGIONS = ["cortex", "hippocampus", "cerebellum", "thalamus", "striatum", "olfactory bulb", "brainstem",
           "hypothalamus", "amygdala", "retina", "spinal cord"]


def synthetic(n: int, start: int = 0) -> list[Record]:
    """``n`` records with varied, deterministic metadata (no image files: enough for listing and search)."""
    out = []
    for i in range(start, start + n):
        species, technique = SPECIES[i % len(SPECIES)], TECHNIQUES[(i // 5) % len(TECHNIQUES)]
        access = ACCESS[i % len(ACCESS)]
        out.append(Record(
            id=f"d{i:05d}", source=f"/data/{i}", reader="tiff", format=["tiff", "jpeg2000", "imaris"][i % 3],
            title=f"{species} brain {i} {technique}", shape=[1, 1, 64, 512, 512], dtype="uint16",
            voxel_size=[2.0, 1.0, 1.0], channels=[{"name": "c0"}], native_levels=1, byte_size=1000 + i,
            description=(f"Sample {i}: whole-brain {technique} imaging of a {COMMON[i % 5]} ({species}), "
                         f"{REGIONS[i % 11]} in focus."),
            species=species, technique=technique, contributors=[f"Author {i % 50}"], keywords=[f"kw{i % 13}"],
            access=access, embargo_until="2099-01-01" if access == "embargoed" else "",
            added=f"2026-01-{1 + i % 28:02d}T00:00:00+00:00",
        ))
    return out
