"""Cell rows of a box query as CSV or npy (``GET /api/datasets/{id}/cells``): id, z, y, x in µm, then every
property. Pure: arrays in, bytes out; read back with ``decode_cell_rows`` (or numpy / any CSV reader)."""

from __future__ import annotations

import io

import numpy as np


def cell_rows_dtype(names: list[str]) -> np.dtype:
    return np.dtype([("id", "<u8"), ("z", "<f8"), ("y", "<f8"), ("x", "<f8"), *((n, "<f8") for n in names)])


def encode_cell_rows(ids: np.ndarray, xyz_nm: np.ndarray, properties: dict[str, np.ndarray], fmt: str) -> bytes:
    """``ids`` (n,), ``xyz_nm`` (n, 3) x, y, z in nm, ``properties`` name -> (n,), in their order; ``fmt`` csv|npy."""
    xyz_um = np.asarray(xyz_nm, dtype=np.float64) / 1000.0
    out = np.zeros(len(ids), dtype=cell_rows_dtype(list(properties)))
    out["id"] = ids
    out["z"], out["y"], out["x"] = xyz_um[:, 2], xyz_um[:, 1], xyz_um[:, 0]
    for name, values in properties.items():
        out[name] = values
    buffer = io.BytesIO()
    if fmt == "npy":
        np.save(buffer, out, allow_pickle=False)
        return buffer.getvalue()
    buffer.write((",".join(out.dtype.names) + "\n").encode())
    if len(out):
        np.savetxt(buffer, out, fmt=["%d", *["%.9g"] * (len(out.dtype.names) - 1)], delimiter=",")
    return buffer.getvalue()


def decode_cell_rows(data: bytes, fmt: str) -> np.ndarray:
    """The structured rows ``encode_cell_rows`` wrote."""
    if fmt == "npy":
        return np.load(io.BytesIO(data), allow_pickle=False)
    header, _, _ = data.partition(b"\n")
    names = header.decode().split(",")[4:]
    rows = np.genfromtxt(io.BytesIO(data), delimiter=",", skip_header=1, dtype=cell_rows_dtype(names), ndmin=1)
    return rows
