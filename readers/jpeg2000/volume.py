"""Assembling a Volume from JPEG2000 slices: header checks, native levels, channels, voxel size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from readers.base import Channel, LevelGeometry, ReaderError, UnsupportedSource, Volume, default_channels
from readers.jpeg2000 import backend
from readers.jpeg2000.decoders import GlymurDecoder, ImagecodecsDecoder, SliceDecoder
from readers.jpeg2000.errors import unsupported
from readers.jpeg2000.files import slice_files
from readers.jpeg2000.header import SliceHeader, read_header
from readers.jpeg2000.level import Jpeg2000Level
from readers.jpeg2000.slices import Identities, SliceHeaders
from readers.resources import ReaderResources

#: native levels stop at the first one that fits in this on both y and x (the service's top level)
SMALLEST = 64
#: read_chunks for untiled slices: OpenJPEG decodes only the code-blocks a region touches
UNTILED_CHUNK = 512
RGB = [Channel("red", "FF0000"), Channel("green", "00FF00"), Channel("blue", "0000FF")]


def open_jpeg2000(path: Path, mode: str | None, resources: ReaderResources) -> Volume:
    """Open a JPEG2000 file (one slice) or a folder of 2-D slices (a z stack in natural order)."""
    files = slice_files(path)
    if not files:
        raise UnsupportedSource(f"{path.name}: no JPEG 2000 files (.jp2 .j2k .j2c .jpx .jph)")
    mode = backend.choose(mode or resources.jp2_backend)
    headers = _headers(files)  # a few parsed now, the others on first read (O(1) in slices)
    first = headers[0]
    opened = Identities(headers)
    decoder: SliceDecoder
    if mode == backend.GLYMUR:
        decoder = GlymurDecoder(files, headers, resources, opened)
        _probe(decoder, sorted({0, len(files) - 1}))
    else:
        decoder = ImagecodecsDecoder(files, headers, resources, opened)
    vy, vx, source = _voxel_yx(first)
    # z defaults to the x size; sidecar metadata overrides it later
    levels = _levels(decoder, headers, (vx, vy, vx), mode == backend.GLYMUR)
    metadata = {
        "voxel_size_source": source,
        "decoder": mode,
        "dwt_levels": headers.dwt_levels,
        "bits_per_sample": first.bits,
        "reversible": first.reversible,
        "tile": list(first.tile) if first.tile else None,
        "slices": len(files),
    }
    volume = Volume(
        levels=levels,
        channels=RGB if first.components == 3 else default_channels(first.components),
        format="jpeg2000",
        # a wavelet LL band (low-pass filter then decimation), not a block mean
        downsampling="wavelet",
        metadata=metadata,
        files=files,
    )
    volume.on_close(decoder.close)
    return volume


def _headers(files: list[Path]) -> SliceHeaders:
    if backend.glymur_module() is not None:
        return SliceHeaders(files, read_header)
    # No header parser: learn the facts by decoding the first slice; the decoder checks every
    # other slice against them when it decodes it.
    first = _header_by_decoding(files[0])
    return SliceHeaders(files, lambda f: first if f == files[0] else dataclasses.replace(first, name=f.name))


def _header_by_decoding(path: Path) -> SliceHeader:
    import imagecodecs

    try:
        arr = imagecodecs.jpeg2k_decode(path.read_bytes())
    except Exception as exc:  # noqa: BLE001 - Jpeg2kError, OSError...
        raise unsupported(exc, path, "cannot decode JPEG 2000") from exc
    comps = 1 if arr.ndim == 2 else arr.shape[2]
    return SliceHeader(path.name, arr.shape[0], arr.shape[1], comps, arr.dtype, bits=arr.dtype.itemsize * 8)


def _probe(decoder: SliceDecoder, indices: list[int]) -> None:
    """Decode one pixel at the coarsest reduction: refuses at open (cheaply, a few ms) what
    OpenJPEG cannot read, e.g. a broken JP2 header box or a truncated codestream, and checks the
    decoded components and dtype against the header."""
    for i in indices:
        try:
            decoder.region(i, decoder.headers[i].dwt_levels, 0, 1, 0, 1)
        except ReaderError as exc:
            decoder.close()
            raise UnsupportedSource(f"refused at open (one-pixel probe decode): {exc}") from exc


def _voxel_yx(head: SliceHeader) -> tuple[float, float, str]:
    if head.capture_ppm:
        v, h = head.capture_ppm
        return 1e6 / v, 1e6 / h, "jp2 capture resolution (resc) box"
    return 1.0, 1.0, "default (no resc box)"


def _levels(
    decoder: SliceDecoder, headers: SliceHeaders, voxel: tuple[float, float, float], reduce: bool
) -> list[Jpeg2000Level]:
    first = headers[0]
    max_r = headers.dwt_levels if reduce else 0
    origins = {h.origin for h in headers.sample()}  # a slice at another origin is refused when it is read
    levels: list[Jpeg2000Level] = []
    for r in range(max_r + 1):
        shapes = {dataclasses.replace(first, origin=o).reduced(r) for o in origins}
        if len(shapes) > 1:  # slices with different grid origins reduce to different sizes
            break
        ((ny, nx),) = shapes
        s = 1 << r
        if first.tile:
            chunks = (1, min(ny, -(-first.tile[0] // s)), min(nx, -(-first.tile[1] // s)))
        else:
            chunks = (1, min(ny, UNTILED_CHUNK), min(nx, UNTILED_CHUNK))
        geometry = LevelGeometry(
            shape=(1, first.components, len(headers), ny, nx),
            dtype=first.dtype,
            voxel_size=(voxel[0], voxel[1] * s, voxel[2] * s),
            read_chunks=chunks,
            # LL sample k of reduction r sits on full-resolution pixel k * 2**r, not on its block's centre
            origin=(0.0, 0.0, 0.0),
            # OpenJPEG reads each tile-part whole, whatever the reduction: the cost is the files' size
            read_cost=decoder.estimated_bytes() // first.components,
        )
        levels.append(Jpeg2000Level(decoder, r, geometry))
        if ny <= SMALLEST and nx <= SMALLEST:
            break
    return levels
