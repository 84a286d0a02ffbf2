"""Service configuration: defaults, overridden by environment variables, overridden by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from platformdirs import user_data_path

APP_NAME = "brain-transformer"
#: how computed levels are made: exact block means; sampled past --exact-limit-mb (auto); always sampled
OVERVIEWS = ("auto", "exact", "sampled")


def data_dir() -> Path:
    """$XDG_DATA_HOME/brain-transformer (else ~/.local/share/...): never inside the source tree."""
    return user_data_path(APP_NAME, appauthor=False)


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    catalog: Path = field(default_factory=lambda: data_dir() / "catalog.sqlite")
    data_root: Path | None = None  # scanned at start-up when set
    cache_mb: int = 1024  # split between decoded blocks and encoded chunks
    public_url: str | None = None  # e.g. https://data.example.org/transformer behind a proxy
    threads: int = max(4, (os.cpu_count() or 2) * 2)
    compressor: str = "blosc-zstd"
    chunk: tuple[int, int, int] = (64, 64, 64)
    max_open_datasets: int = 64
    # computed levels past the first: block means while the source is small, else every n-th voxel
    overview: str = "auto"
    exact_limit_mb: int = 512
    viewer_url: str | None = None  # neuroglancer links open this viewer instead of the bundled {base}/viewer/

    @classmethod
    def from_env(cls, **overrides) -> Config:
        cfg = cls()
        for f in fields(cls):
            raw = os.environ.get(f"TRANSFORMER_{f.name.upper()}")
            if raw:
                setattr(cfg, f.name, _parse(f.name, raw))
        for name, value in overrides.items():
            if value is not None:
                setattr(cfg, name, _parse(name, value) if isinstance(value, str) else value)
        if cfg.overview not in OVERVIEWS:
            raise ValueError(f"overview must be one of {OVERVIEWS}, not {cfg.overview!r}")
        return cfg

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb * 1024 * 1024


def _parse(name: str, raw: str):
    if name in ("port", "cache_mb", "threads", "max_open_datasets", "exact_limit_mb"):
        return int(raw)
    if name in ("catalog", "data_root"):
        return Path(raw).expanduser()
    if name == "chunk":
        parts = [int(p) for p in raw.replace("x", ",").split(",")]
        return tuple(parts * 3 if len(parts) == 1 else parts)
    return raw
