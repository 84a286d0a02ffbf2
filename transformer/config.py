"""Service configuration: defaults, overridden by environment variables, overridden by CLI flags.

Each setting is declared once, as a field of :class:`Config` with its type and help: the environment
variable ``TRANSFORMER_<NAME>`` and the ``transformer serve --<name>`` flag are derived from it.
"""

from __future__ import annotations

import os
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any

from platformdirs import user_data_path

from readers.jpeg2000.backend import CHOICES as JP2_BACKENDS

APP_NAME = "brain-transformer"
#: how computed levels are made: exact block means; sampled past --exact-limit-mb (auto); always sampled
OVERVIEWS = ("auto", "exact", "sampled")


def data_dir() -> Path:
    """$XDG_DATA_HOME/brain-transformer (else ~/.local/share/...): never inside the source tree."""
    return user_data_path(APP_NAME, appauthor=False)


def setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None, factory: Any = None) -> Any:
    """A Config field with its help text (and allowed values) for the CLI and the README."""
    meta = {"help": help, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Config:
    host: str = setting("127.0.0.1", "interface to listen on")
    port: int = setting(8000, "port to listen on")
    catalog: Path = setting(None, "catalog database (default: the user data dir, never the source tree)",
                            factory=lambda: data_dir() / "catalog.sqlite")
    data_root: Path | None = setting(None, "scan this folder at start-up")
    cache_mb: int = setting(1024, "memory budget in MiB for ALL decoded and encoded data (see the README's split)")
    public_url: str | None = setting(None, "base URL clients use, when behind a proxy")
    allowed_hosts: str = setting("", "comma-separated host names whose Host header links may be built from "
                                 "(localhost and the address a client connected to always are)")
    header_timeout: int = setting(10, "seconds a connection may take to send a request's headers (from "
                                  "connecting or the previous response): idle connections are closed")
    threads: int = setting(max(4, (os.cpu_count() or 2) * 2), "chunk worker threads")
    compressor: str = setting("blosc-zstd", "zarr chunk compressor: blosc-zstd, blosc-lz4, zstd, gzip, none")
    s3_prefix: str = setting("/s3", "URL prefix of the read-only S3 API (docs/s3.md); empty: no S3 API")
    s3_host: str = setting("", "host name of virtual-hosted-style S3 (docs/s3.md): {bucket}.HOST/{key} is "
                           "{s3-prefix}/{bucket}/{key}, and HOST itself is the S3 API's root; empty: path style only")
    chunks: str = setting("auto", "chunk layout: auto (per level, from the source's decode unit: flat "
                          "chunks at a slice stack's fine levels, see docs/chunk-layouts.md) or z,y,x for every level")
    max_open_datasets: int = setting(64, "datasets kept open; the least recently used one closes beyond it")
    max_open_files: int = setting(256, "source files kept open by the readers")
    max_open_slices: int = setting(2048, "slices of TIFF slice folders kept open (an xz or yz view reads one "
                                   "slice per screen row; their parsed headers take at most 64 MiB)")
    overview: str = setting("auto", "computed levels: exact block means (exact), or past the first one every "
                            "n-th voxel of it (sampled); auto samples sources larger than --exact-limit-mb",
                            choices=OVERVIEWS)
    exact_limit_mb: int = setting(512, "auto: largest finest level (MiB per time point and channel) whose "
                                  "overview is exact")
    cutout_max_mb: int = setting(4096, "largest cutout one request may ask for (MiB of voxels); bigger boxes "
                                 "answer 413 and are for `transformer export`")
    cutout_files: int = setting(4, "OME-TIFF and HDF5 cutouts written at once (each is finished in a temporary "
                                "file before it is sent); beyond it 503 with Retry-After")
    cutout_tmp_mb: int = setting(8192, "temporary disk all cutout files being written or sent may take (MiB); "
                                 "beyond it 503 with Retry-After, a file that could never fit 413")
    cutout_tmp_dir: Path | None = setting(None, "folder of the temporary cutout files (default: the system's, $TMPDIR)")
    viewer_url: str | None = setting(None, "neuroglancer links open this viewer (default: the bundled {base}/viewer/)")
    metrics_port: int | None = setting(None, "serve /metrics on this port only (with token names and the ids of "
                                       "restricted datasets), not on the public one (docs/security.md)")
    metrics_host: str = setting("127.0.0.1", "interface of the --metrics-port listener")
    worker_name: str = setting("", "name sent as the X-Worker header of every response (set per worker by "
                               "`transformer stack`; empty: no header)")
    jp2_backend: str = setting("auto", "JPEG2000 decoder: glymur (regions, wavelet levels), imagecodecs (whole "
                               "slices), auto (glymur when the system OpenJPEG is found)", choices=JP2_BACKENDS)

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Defaults, then ``TRANSFORMER_<NAME>`` variables, then ``overrides`` that are not None."""
        cfg = cls()
        for f in fields(cls):
            raw = os.environ.get(env_name(f))
            if raw:
                setattr(cfg, f.name, parse(f, raw))
        by_name = {f.name: f for f in fields(cls)}
        for name, value in overrides.items():
            if value is not None:
                setattr(cfg, name, parse(by_name[name], value) if isinstance(value, str) else value)
        chunk_layout(cfg.chunks)  # refuses a malformed layout now, not at the first dataset
        for f in fields(cls):
            choices = f.metadata.get("choices")
            if choices and getattr(cfg, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {choices}, not {getattr(cfg, f.name)!r}")
        return cfg

    @property
    def allowed_host_names(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb * 1024 * 1024


#: the voxels of one auto chunk (and the shape --chunks auto aims at where voxels are isotropic)
AUTO_TARGET = (64, 64, 64)


def chunk_layout(text: str) -> tuple[int, int, int] | None:
    """``--chunks``: None for ``auto``, else the one (z, y, x) shape of every level ("64", "32,64,64" or
    "32x64x64"); ValueError for anything else."""
    if text.strip().lower() == "auto":
        return None
    try:
        parts = [int(p) for p in text.replace("x", ",").split(",")]
    except ValueError:
        raise ValueError(f"chunks must be auto or z,y,x, not {text!r}") from None
    if len(parts) == 1:
        parts *= 3
    if len(parts) != 3 or min(parts) < 1:
        raise ValueError(f"chunks must be auto or three positive integers z,y,x, not {text!r}")
    return (parts[0], parts[1], parts[2])


def env_name(f: Field) -> str:
    return f"TRANSFORMER_{f.name.upper()}"


def field_type(f: Field) -> Any:
    """The field's type with ``| None`` removed."""
    kind = typing.get_type_hints(Config)[f.name]
    if isinstance(kind, UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def parse(f: Field, raw: str) -> Any:
    """``raw`` (an environment variable or a flag) as the field's type."""
    kind = field_type(f)
    if kind is int:
        return int(raw)
    if kind is Path:
        return Path(raw).expanduser()
    if typing.get_origin(kind) is tuple:  # "64", "64,64,64" or "64x64x64"
        parts = [int(p) for p in raw.replace("x", ",").split(",")]
        n = len(typing.get_args(kind))
        return tuple(parts * n if len(parts) == 1 else parts)
    return raw


def default_text(f: Field) -> str:
    """The default as the README and ``--help`` show it."""
    if f.default is MISSING:
        return "see above"
    value = f.default
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "unset" if value is None else str(value)
