"""Descriptive metadata from a sidecar JSON file beside a dataset, and from ``key=value`` options."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import schema

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


#: a sidecar is a few KiB of descriptive text; anything much larger is not one
MAX_BYTES = 1 << 20


def load_sidecar(source: Path) -> dict:
    """The validated sidecar of ``source`` (``{}`` when it has none); raises SidecarError naming the file."""
    path = sidecar_path(source)
    if path is None:
        return {}
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SidecarError(f"{path.name}: larger than {MAX_BYTES >> 10} KiB")
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise SidecarError(f"{path.name}: not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict):
        raise SidecarError(f"{path.name}: must hold a JSON object")
    try:
        return schema.validate(data)
    except ValueError as exc:
        raise SidecarError(f"{path.name}: {exc}") from None


def parse_options(options: list[str]) -> dict:
    """``["species=mouse", "voxel_size=2,0.5,0.5"]`` as validated sidecar metadata (same schema)."""
    data: dict = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise SidecarError(f"--meta {option!r}: expected key=value")
        key, value = key.strip(), value.strip()
        data[key] = _TEXT_FORMS.get(key, str)(value)
    try:
        return schema.validate(data)
    except ValueError as exc:
        raise SidecarError(f"--meta: {exc}") from None


def _flag(text: str) -> bool | str:
    """``true``/``false`` (and yes/no, 1/0) on the command line; anything else fails validation."""
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text.lower(), text)


def _numbers(text: str) -> list[float | str]:
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    out: list[float | str] = []
    for part in parts:
        try:
            out.append(float(part))
        except ValueError:
            out.append(part)  # kept as text: the schema names it
    return out


def _whole_numbers(text: str) -> list[int | str]:
    """``1,512,512`` (or ``1x512x512``) as integers; a part that is not one is kept as text for the schema."""
    return [int(p) if p.strip().isdigit() else p.strip() for p in text.replace("x", ",").split(",")]


#: how a ``--meta key=value`` text becomes the JSON type the schema expects
_TEXT_FORMS = {
    "public": _flag,
    "voxel_size": _numbers,
    "contributors": lambda text: [s.strip() for s in text.split(";") if s.strip()],
    "channels": lambda text: [s.strip() for s in text.split(",")],
    "chunks": lambda text: text.strip() if text.strip() == "auto" else _whole_numbers(text),
}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _short(exc: BaseException) -> str:
    return str(exc)[:200] if not isinstance(exc, RecursionError) else "nested too deeply"
