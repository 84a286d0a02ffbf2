"""Small image specs the serverless writer tests run on: odd sizes (edge chunks on every axis), several
levels, time points and channels, labels, and the dtypes precomputed converts."""

from __future__ import annotations

from dataclasses import replace

from writers.spec import ChannelSpec, ImageSpec, LevelSpec

GREY = ChannelSpec("grey", "FFFFFF", (100.0, 40000.0), (0.0, 65535.0))


def _levels(shape: tuple[int, ...], chunks: tuple[int, ...], voxel: tuple[float, float, float],
            n: int) -> tuple[LevelSpec, ...]:
    """``n`` levels halving y and x (and z while it is the finest axis), as the pyramid does."""
    out = []
    t, c, z, y, x = shape
    vz, vy, vx = voxel
    tz = ty = tx = 0.0
    for _ in range(n):
        out.append(LevelSpec((t, c, z, y, x), chunks, (vz, vy, vx), (tz, ty, tx)))
        halve_z = vz <= vy
        ty, tx = ty + vy / 2, tx + vx / 2
        y, x, vy, vx = -(-y // 2), -(-x // 2), vy * 2, vx * 2
        if halve_z:
            tz, z, vz = tz + vz / 2, -(-z // 2), vz * 2
    return tuple(out)


SPECS: dict[str, ImageSpec] = {
    "u16": ImageSpec("u16 stack", "uint16", _levels((1, 1, 45, 130, 150), (1, 1, 32, 64, 64), (2.0, 0.5, 0.5), 3),
                     (GREY,)),
    "tc": ImageSpec("time series", "uint8", _levels((2, 3, 19, 70, 90), (1, 1, 16, 32, 32), (1.6, 0.8, 0.8), 2),
                    (ChannelSpec("dapi", "0000FF", (10.0, 200.0), (0.0, 255.0)),
                     ChannelSpec("gfp", "00FF00", (5.0, 180.0), (0.0, 255.0)),
                     ChannelSpec("tdtomato", "FF0000", (0.0, 255.0), (0.0, 255.0))),
                    sampled_from=1, time_interval=2.5),
    # a slice stack under --chunks auto: flat chunks, plus deeper ones (not dividing them) precomputed also offers
    "flat": ImageSpec("flat stack", "uint16",
                      tuple(replace(level, orientations=(level.chunks, (1, 1, 16, 48, 48))) for level in
                            _levels((1, 1, 45, 130, 150), (1, 1, 1, 64, 128), (2.0, 0.5, 0.5), 2)),
                      (GREY,)),
    "rgb": ImageSpec("rgb", "uint8", _levels((1, 3, 10, 70, 80), (1, 1, 10, 64, 64), (1.0, 1.0, 1.0), 2),
                     tuple(ChannelSpec(n, col, (0.0, 255.0), (0.0, 255.0))
                           for n, col in (("red", "FF0000"), ("green", "00FF00"), ("blue", "0000FF")))),
    "labels": ImageSpec("labels", "uint32", _levels((1, 1, 30, 66, 70), (1, 1, 16, 32, 32), (1.0, 1.0, 1.0), 2),
                        (ChannelSpec("labels", "FFFFFF", (0.0, 4294967295.0), (0.0, 4294967295.0)),),
                        downsampling="mode", kind="labels"),
    "f64": ImageSpec("f64", "float64", _levels((1, 1, 12, 40, 50), (1, 1, 12, 32, 32), (1.0, 1.0, 1.0), 2),
                     (ChannelSpec("f", "FFFFFF", (0.1, 0.9), (0.0, 1.0)),), downsampling="mean"),
}
