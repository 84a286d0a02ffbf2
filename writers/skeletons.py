"""Neuroglancer precomputed skeletons: the info, one skeleton's bytes (both ways), segment properties.

Vertices and radius are stored in nanometres with the identity transform, which every reader agrees on
(cloud-volume applies ``transform``, navis ignores it). The SWC type is a float32 attribute: the released
neuroglancer Python package mis-pads a uint32 that follows another 4-byte attribute.

Bytes of one skeleton, little-endian, no padding: u32 nv, u32 ne, f32[nv][3] positions, u32[ne][2] edges,
then each vertex attribute in info order.
"""

from __future__ import annotations

import re

import numpy as np

IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
VERTEX_ATTRIBUTES = [
    {"id": "radius", "data_type": "float32", "num_components": 1},
    {"id": "type", "data_type": "float32", "num_components": 1},
]
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


class SkeletonError(ValueError):
    """Bytes that are not a skeleton of the given info (a client or a bug, never a source file)."""


def skeleton_info(segment_properties: str | None = "segment_properties") -> dict:
    info: dict = {
        "@type": "neuroglancer_skeletons",
        "transform": list(IDENTITY),
        "vertex_attributes": [dict(a) for a in VERTEX_ATTRIBUTES],
    }
    if segment_properties:
        info["segment_properties"] = segment_properties
    return info


def encode_skeleton(positions_nm: np.ndarray, edges: np.ndarray, radius_nm: np.ndarray, types: np.ndarray) -> bytes:
    """One unsharded skeleton object: positions (n, 3) x,y,z nm, edges (m, 2) vertex pairs, per-vertex
    radius (nm) and SWC type."""
    pos = np.ascontiguousarray(positions_nm, dtype="<f4").reshape(-1, 3)
    e = np.ascontiguousarray(edges, dtype="<u4").reshape(-1, 2)
    nv = len(pos)
    if len(radius_nm) != nv or len(types) != nv:
        raise SkeletonError("radius and type need one value per vertex")
    if len(e) and int(e.max()) >= nv:
        raise SkeletonError("an edge names a vertex that does not exist")
    head = np.array([nv, len(e)], dtype="<u4")
    parts = [head, pos, e, np.asarray(radius_nm, dtype="<f4"), np.asarray(types, dtype="<f4")]
    return b"".join(p.tobytes() for p in parts)


def decode_skeleton(data: bytes, info: dict) -> dict[str, np.ndarray]:
    """The arrays of one skeleton: "positions" (n, 3), "edges" (m, 2) and each vertex attribute."""
    if len(data) < 8:
        raise SkeletonError("shorter than the 8-byte header")
    nv, ne = (int(v) for v in np.frombuffer(data, dtype="<u4", count=2))
    offset = 8
    out: dict[str, np.ndarray] = {}

    def take(name: str, dtype: str, count: int, shape: tuple[int, ...]) -> None:
        nonlocal offset
        size = np.dtype(dtype).itemsize * count
        if offset + size > len(data):
            raise SkeletonError(f"truncated in {name!r}")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
        offset += size

    take("positions", "<f4", nv * 3, (nv, 3))
    take("edges", "<u4", ne * 2, (ne, 2))
    for attr in info.get("vertex_attributes", []):
        k = int(attr.get("num_components", 1))
        dtype = np.dtype(attr["data_type"]).newbyteorder("<").str
        take(attr["id"], dtype, nv * k, (nv, k) if k > 1 else (nv,))
    if offset != len(data):
        raise SkeletonError(f"{len(data) - offset} bytes after the last attribute")
    return out


def skeleton_arrays(
    xyz: np.ndarray,
    parent: np.ndarray,
    radius: np.ndarray,
    types: np.ndarray,
    um_per_unit: tuple[float, float, float] = (1.0, 1.0, 1.0),
    offset_um: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, ...]:
    """From SWC arrays (x,y,z in file units, parent rows): positions nm, edges child->parent, radius nm
    (radius scaled by the mean of the x and y scales: SWC has one radius), types."""
    scale = np.asarray(um_per_unit, dtype=np.float64)
    positions = ((np.asarray(xyz, dtype=np.float64) * scale + np.asarray(offset_um)) * 1000.0).astype(np.float32)
    rows = np.flatnonzero(parent >= 0)
    edges = np.stack([rows, parent[rows]], axis=1).astype(np.uint32)
    radius_nm = (np.asarray(radius, dtype=np.float64) * float(scale[:2].mean()) * 1000.0).astype(np.float32)
    return positions, edges, radius_nm, np.asarray(types, dtype=np.float32)


def tag_name(text: str) -> str:
    """A tag the segment query box can match: no '#', no spaces."""
    return _TAG_UNSAFE.sub("_", text.replace("#", "")).strip("_") or "tag"


def segment_properties_info(
    ids: list[int], labels: list[str], tags: list[list[str]], numbers: dict[str, list[float]]
) -> dict:
    """An inline ``neuroglancer_segment_properties`` document: label per id, tags (as increasing indices
    into the sorted tag names) and float32 numbers."""
    n = len(ids)
    if len(labels) != n or len(tags) != n or any(len(v) != n for v in numbers.values()):
        raise ValueError("every property needs one value per id")
    names = sorted({tag_name(t) for row in tags for t in row})
    index = {t: i for i, t in enumerate(names)}
    properties: list[dict] = [{"id": "label", "type": "label", "values": [str(v) for v in labels]}]
    if names:
        properties.append(
            {
                "id": "tags",
                "type": "tags",
                "tags": names,
                "values": [sorted({index[tag_name(t)] for t in row}) for row in tags],
            }
        )
    for key, values in numbers.items():
        as32 = np.asarray(values, dtype=np.float32)
        properties.append(
            {
                "id": key,
                "type": "number",
                "data_type": "float32",
                "values": [float(v) if np.isfinite(v) else 0.0 for v in as32.tolist()],
            }
        )
    return {
        "@type": "neuroglancer_segment_properties",
        "inline": {"ids": [str(int(i)) for i in ids], "properties": properties},
    }


def encode_skeleton_um(xyz_um: np.ndarray, edges: np.ndarray, radius_um: np.ndarray, types: np.ndarray) -> bytes:
    """``encode_skeleton`` from positions and radii in µm (x, y, z), as the service keeps a parsed neuron."""
    return encode_skeleton(
        (xyz_um * 1000.0).astype(np.float32), edges, (radius_um * 1000.0).astype(np.float32), types.astype(np.float32)
    )


def properties_of_summaries(summaries: list[dict]) -> dict:
    """``segment_properties_info`` of neuron summaries (``id``, ``label``, ``type_names``, ``nodes``,
    ``cable_length_um``): refused neurons are left out; numbers only when every neuron has them."""
    rows = [s for s in summaries if "refusal" not in s]
    numbers = {}
    if all("nodes" in s for s in rows):
        numbers = {"nodes": [s["nodes"] for s in rows], "cable_length_um": [s["cable_length_um"] for s in rows]}
    return segment_properties_info(
        [int(s["id"]) for s in rows], [s["label"] for s in rows], [s.get("type_names", []) for s in rows], numbers
    )


def skeleton_volume_info(shape_zyx: tuple[int, int, int], voxel_size_um_zyx: tuple[float, float, float],
                         skeletons: str = "skeletons") -> dict:
    """A segmentation volume info with no chunks of its own that names the skeleton directory: what cloud-volume
    opens to read skeletons (opening the skeleton directory itself fails, OBJECTS.md §2)."""
    nz, ny, nx = shape_zyx
    vz, vy, vx = voxel_size_um_zyx
    return {
        "@type": "neuroglancer_multiscale_volume",
        "type": "segmentation",
        "data_type": "uint64",
        "num_channels": 1,
        "skeletons": skeletons,
        "scales": [
            {
                "key": "none",
                "resolution": [vx * 1000, vy * 1000, vz * 1000],
                "size": [nx, ny, nz],
                "voxel_offset": [0, 0, 0],
                "chunk_sizes": [[64, 64, 64]],
                "encoding": "raw",
            }
        ],
    }
