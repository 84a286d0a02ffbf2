"""What a dataset's landing page says beyond the record: copyable snippets and schema.org JSON-LD.

Pure functions of the record, its served spec and its links (``routes/links.dataset_links``): every URL
comes from those links, so the pages follow whatever URL shapes the views and links module spell.
"""

from __future__ import annotations

from catalog.record import Record
from writers.spec import ImageSpec

#: a cutout example stays small whatever the dataset: at most this many voxels along each axis
CUTOUT_EDGE = 64


def cutout_example(links: dict, spec: ImageSpec) -> str:
    """A cutout URL of a small central box of the coarsest level (a few KiB, any dataset)."""
    level = len(spec.levels) - 1
    _, _, nz, ny, nx = spec.levels[level].shape
    box = "&".join(f"{axis}={(n - min(n, CUTOUT_EDGE)) // 2}:{(n - min(n, CUTOUT_EDGE)) // 2 + min(n, CUTOUT_EDGE)}"
                   for axis, n in zip("zyx", (nz, ny, nx), strict=True))
    return f"{links['cutout']}?level={level}&t=0&c=0&{box}&format=npy"


def snippets(links: dict, spec: ImageSpec, s3: tuple[str, str] | None = None) -> dict[str, str]:
    """Ready-to-run commands and code for this dataset, keyed by what they are. ``s3``: the S3 endpoint and the
    dataset's folder in the ``zarr`` bucket (None: the service has no S3 API)."""
    zarr_url = links["zarr"]
    copy = {}
    if s3 is not None:
        endpoint, folder = s3
        copy["s3"] = (f"aws s3 cp --recursive --no-sign-request --endpoint-url {endpoint} "
                      f"s3://zarr/{folder}/ {folder}")
    return {
        "napari": f"napari --plugin napari-ome-zarr {zarr_url}",
        "client": (
            "from transformer.client import open_dataset\n"
            f'ds = open_dataset("{links["self"]}")\n'
            "print(ds.shape, ds.dtype, ds.voxel_size)\n"
            f"overview = ds.level({len(spec.levels) - 1})[0, 0]  # numpy (z, y, x), coarsest level"
        ),
        "zarr": (
            "import zarr\n"
            f'group = zarr.open_group("{zarr_url}", mode="r")\n'
            f'coarsest = group["{len(spec.levels) - 1}"][:]  # numpy (t, c, z, y, x)'
        ),
        "curl": f'curl -o box.npy "{cutout_example(links, spec)}"',
        **copy,
    }


def json_ld(record: Record, links: dict, page_url: str, thumbnail: str | None) -> dict:
    """A schema.org ``Dataset`` aligned with DataCite: identifier (DOI), creators with affiliations,
    funders, license, citations, keywords, distributions (the zarr/precomputed views)."""
    doi = record.doi.strip()
    doi_url = doi if doi.startswith("https://") else (f"https://doi.org/{doi}" if doi else "")
    out: dict = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": page_url,
        "url": page_url,
        "name": record.title,
        "description": record.description or record.title,
        "identifier": doi_url or page_url,
        "creator": [_person(name, record.affiliations) for name in record.contributors],
        "keywords": [k for k in (record.species, record.technique, *record.keywords) if k],
        "isAccessibleForFree": record.access_now() == "public",
        "distribution": [
            {"@type": "DataDownload", "name": name, "contentUrl": links[name], "encodingFormat": encoding}
            for name, encoding in (("zarr", "application/x-zarr; version=2 (OME-Zarr 0.4)"),
                                   ("zarr3", "application/x-zarr; version=3 (OME-Zarr 0.5)"),
                                   ("precomputed", "application/x-neuroglancer-precomputed"))
            if name in links
        ],
        "contentSize": f"{record.byte_size} B",
    }
    if record.added:
        out["dateCreated"] = record.added[:10]
    if record.license:
        out["license"] = record.license
    if record.funders:
        out["funder"] = [{"@type": "Organization", "name": f["name"]} for f in record.funders]
    citations = [p.get("citation", "") for p in record.publications] + ([record.citation] if record.citation else [])
    if citations:
        out["citation"] = citations
    if record.technique:
        out["measurementTechnique"] = record.technique
    if record.access_now() == "embargoed":
        out["conditionsOfAccess"] = f"embargoed until {record.embargo_until or 'further notice'}"
    if thumbnail:
        out["thumbnailUrl"] = thumbnail
    return out


def _person(name: str, affiliations: list[str]) -> dict:
    person: dict = {"@type": "Person", "name": name}
    if affiliations:
        person["affiliation"] = [{"@type": "Organization", "name": a} for a in affiliations]
    return person


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
