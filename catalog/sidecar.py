"""Descriptive metadata from a sidecar JSON file beside a dataset, and from ``key=value`` options."""

from __future__ import annotations

import json
from pathlib import Path

from catalog.record import DESCRIPTIVE

SIDECAR = "dataset.json"


class SidecarError(ValueError):
    pass


def sidecar_path(source: Path) -> Path | None:
    """``folder/dataset.json`` for a folder; ``file.ext.json`` or ``file.dataset.json`` for a file."""
    if source.is_dir():
        candidates = [source / SIDECAR]
    else:
        stem = source.name.split(".")[0]
        candidates = [source.with_name(source.name + ".json"), source.with_name(stem + ".dataset.json")]
    return next((p for p in candidates if p.is_file()), None)


def load_sidecar(source: Path) -> dict:
    path = sidecar_path(source)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SidecarError(f"{path.name}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SidecarError(f"{path.name}: must hold a JSON object")
    return normalise(data)


def parse_options(options: list[str]) -> dict:
    """``["species=mouse", "voxel_size=2,0.5,0.5"]`` as sidecar-shaped metadata."""
    data: dict = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise SidecarError(f"--meta {option!r}: expected key=value")
        data[key.strip()] = value.strip()
    return normalise(data)


def normalise(data: dict) -> dict:
    out: dict = {}
    for key in DESCRIPTIVE:
        if key in data:
            out[key] = str(data[key])
    if "contributors" in data:
        value = data["contributors"]
        out["contributors"] = [s.strip() for s in value.split(";")] if isinstance(value, str) else list(value)
    if "public" in data:
        value = data["public"]
        out["public"] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if "kind" in data:
        if data["kind"] not in ("intensity", "labels"):
            raise SidecarError(f"kind {data['kind']!r}: expected 'intensity' or 'labels'")
        out["kind"] = data["kind"]
    if "voxel_size" in data:
        out["voxel_size"] = _voxel_size(data["voxel_size"])
    if "channels" in data:
        out["channels"] = _channels(data["channels"])
    unknown = set(data) - set(DESCRIPTIVE) - {"contributors", "public", "voxel_size", "channels", "kind"}
    if unknown:
        out["extra"] = {k: data[k] for k in sorted(unknown)}
    return out


def _voxel_size(value) -> list[float]:
    """[z, y, x] µm from a list, "z,y,x" text or {"z":.., "y":.., "x":..}."""
    if isinstance(value, dict):
        value = [value.get("z"), value.get("y"), value.get("x")]
    elif isinstance(value, str):
        value = value.replace("x", ",").split(",")
    try:
        sizes = [float(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise SidecarError(f"voxel_size {value!r}: expected three numbers z, y, x in micrometres") from exc
    if len(sizes) != 3 or any(v <= 0 for v in sizes):
        raise SidecarError(f"voxel_size {value!r}: expected three positive numbers z, y, x")
    return sizes


def _channels(value) -> list[dict]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    out = []
    for item in value:
        if isinstance(item, str):
            out.append({"name": item})
        elif isinstance(item, dict):
            out.append({k: item[k] for k in ("name", "color", "window") if k in item})
        else:
            raise SidecarError(f"channels: {item!r} is neither a name nor an object")
    return out
