"""OME-NGFF multiscales and omero metadata (0.4 on zarr v2, 0.5 on zarr v3)."""

from __future__ import annotations

from writers.spec import ImageSpec


def axes() -> list[dict]:
    return [
        {"name": "t", "type": "time", "unit": "second"},
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]


def multiscale(spec: ImageSpec, version: str | None) -> dict:
    """One multiscales entry; ``version`` is written for 0.4 (neuroglancer needs it) and omitted for 0.5."""
    dt = spec.time_interval or 1.0
    datasets = []
    for i, level in enumerate(spec.levels):
        datasets.append(
            {
                "path": str(i),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [dt, 1.0, *map(float, level.voxel_size)]},
                    {"type": "translation", "translation": [0.0, 0.0, *map(float, level.translation)]},
                ],
            }
        )
    out = {
        "name": spec.name,
        "axes": axes(),
        "datasets": datasets,
        "type": spec.downsampling if spec.sampled_from is None else f"{spec.downsampling}+nearest",
        "metadata": {
            "description": _describe(spec.downsampling) + _sampled(spec),
            "kind": spec.kind,
        },
    }
    if version:
        out = {"version": version, **out}
    return out


def _describe(downsampling: str) -> str:
    return {
        "mean": "each level is the mean of 2x2x2 (or 2x2 in y, x) blocks of the level above, "
        "computed on demand; partial edge blocks average the voxels they have",
        "mode": "each level is the most frequent label of 2x2x2 blocks of the level above",
        "wavelet": "native levels are JPEG2000 wavelet LL bands (approximately a block mean); "
        "levels past the codestream's are block means",
    }.get(downsampling, downsampling)


def _sampled(spec: ImageSpec) -> str:
    if spec.sampled_from is None:
        return ""
    return (f"; levels coarser than {spec.sampled_from} take every 2nd voxel (per halved axis) of the level "
            f"above, i.e. every n-th voxel of level {spec.sampled_from}, so an overview of a large source "
            "without a native pyramid reads a fixed number of voxels per chunk")


def omero(spec: ImageSpec, version: str | None) -> dict:
    channels = [
        {
            "active": True,
            "coefficient": 1,
            "color": ch.color,
            "family": "linear",
            "inverted": False,
            "label": ch.label,
            "window": {"min": ch.range[0], "max": ch.range[1], "start": ch.window[0], "end": ch.window[1]},
        }
        for ch in spec.channels
    ]
    out = {
        "name": spec.name,
        "channels": channels,
        "rdefs": {
            "defaultT": 0,
            "defaultZ": spec.levels[0].shape[2] // 2,
            "model": "greyscale" if len(channels) == 1 else "color",
        },
    }
    if version:
        out["version"] = version
    return out


def zattrs_v04(spec: ImageSpec) -> dict:
    return {"multiscales": [multiscale(spec, "0.4")], "omero": omero(spec, "0.4")}


def ome_attributes_v05(spec: ImageSpec) -> dict:
    return {"version": "0.5", "multiscales": [multiscale(spec, None)], "omero": omero(spec, None)}
