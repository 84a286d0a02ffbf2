"""URLs of every view of a dataset (the only place URL shapes are spelled out for responses)."""

from __future__ import annotations


def dataset_links(base: str, dataset_id: str) -> dict:
    return {
        "self": f"{base}/api/datasets/{dataset_id}",
        "zarr": f"{base}/zarr/{dataset_id}.ome.zarr",
        "zarr3": f"{base}/zarr3/{dataset_id}.ome.zarr",
        "precomputed": f"{base}/precomputed/{dataset_id}",
        "neuroglancer": f"{base}/neuroglancer/{dataset_id}",
    }
