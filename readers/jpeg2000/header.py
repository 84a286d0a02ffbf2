"""What one slice's headers say: geometry, components, dtype, DWT levels, tiles, pixel size.

Parsed with glymur's pure-Python box and main-header parser (no decoding), so it is cheap enough to
run on every slice of a stack at open time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from readers.base import UnsupportedSource
from readers.jpeg2000.errors import unsupported


@dataclass(frozen=True)
class SliceHeader:
    """Facts of one slice; sizes are of the decoded image (reference grid minus its origin)."""

    name: str
    height: int
    width: int
    components: int
    dtype: np.dtype
    #: wavelet decomposition levels, i.e. how many power-of-two reductions the decoder can give
    dwt_levels: int = 0
    #: (height, width) of a tile when the image has more than one tile
    tile: tuple[int, int] | None = None
    #: reference-grid origin (YOsiz, XOsiz); almost always (0, 0)
    origin: tuple[int, int] = (0, 0)
    #: (vertical, horizontal) capture resolution in pixels per metre, from a ``resc`` box
    capture_ppm: tuple[float, float] | None = None
    reversible: bool | None = None
    bits: int = 0
    #: (YTOsiz, XTOsiz, YTsiz, XTsiz): where the tile grid starts and the tile size, on the reference grid
    tile_grid: tuple[int, int, int, int] | None = None
    #: High-Throughput (Part 15) block coder: OpenJPEG 2.5.0 decodes sub-tile regions of it wrongly
    htj2k: bool = False
    #: a raw J2K codestream (.j2k, .j2c), not a JP2-family file with boxes
    codestream: bool = False

    def key(self) -> tuple:
        """What every slice of a stack must share."""
        return (self.height, self.width, self.components, np.dtype(self.dtype).str)

    def reduced(self, r: int) -> tuple[int, int]:
        """Decoded (height, width) at reduction ``r``: ceil on the reference grid, as OpenJPEG does."""
        s = 1 << r
        (y0, x0), (y1, x1) = self.origin, (self.origin[0] + self.height, self.origin[1] + self.width)
        return -(-y1 // s) - -(-y0 // s), -(-x1 // s) - -(-x0 // s)

    def grid_area(self, r: int, y0: int, y1: int, x0: int, x1: int) -> tuple[int, int, int, int]:
        """Full-resolution reference-grid area (top, left, bottom, right) whose reduction ``r`` is the
        region [y0:y1, x0:x1] of the reduced image (bottom/right clipped to the image edge)."""
        s = 1 << r
        by, bx = -(-self.origin[0] // s), -(-self.origin[1] // s)
        end_y, end_x = self.origin[0] + self.height, self.origin[1] + self.width
        return (by + y0) * s, (bx + x0) * s, min((by + y1) * s, end_y), min((bx + x1) * s, end_x)

    def whole_tiles(self, area: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """``area`` (reference grid) grown to the tiles it touches, clipped to the image."""
        top, left, bottom, right = area
        yto, xto, yt, xt = self.tile_grid or (0, 0, 1 << 32, 1 << 32)
        oy, ox = self.origin
        return (
            max(oy, yto + (top - yto) // yt * yt),
            max(ox, xto + (left - xto) // xt * xt),
            min(oy + self.height, yto - (-(bottom - yto) // yt) * yt),
            min(ox + self.width, xto - (-(right - xto) // xt) * xt),
        )


def dtype_for(bits: int, signed: bool) -> np.dtype:
    """The dtype OpenJPEG decoders return for a component precision (what glymur and imagecodecs give)."""
    if bits <= 8:
        return np.dtype(np.int8 if signed else np.uint8)
    return np.dtype(np.int16 if signed else np.uint16)


def read_header(path: Path) -> SliceHeader:
    """Parse ``path``'s headers; UnsupportedSource (file name only) when they are unusable."""
    import glymur  # heavy: only when a JPEG2000 source is actually opened

    try:
        jp2 = glymur.Jp2k(path)
        cstr = jp2.codestream
        if cstr is None:
            raise ValueError("no contiguous codestream (jp2c) box")
        siz = cstr.segment[1]
        cod = next(s for s in cstr.segment if s.marker_id == "COD")
        cocs = [s for s in cstr.segment if s.marker_id == "COC"]
        return _from_glymur(path, jp2, siz, cod, cocs, cstr.segment)
    except UnsupportedSource:
        raise
    except Exception as exc:  # noqa: BLE001 - glymur raises anything from struct.error to OSError
        raise unsupported(exc, path, "cannot parse the JPEG 2000 header") from exc


def _from_glymur(path: Path, jp2, siz, cod, cocs, segments) -> SliceHeader:
    height, width = siz.ysiz - siz.yosiz, siz.xsiz - siz.xosiz
    if height <= 0 or width <= 0:
        raise UnsupportedSource(f"{path.name}: image size {width} x {height} in the SIZ marker")
    if any(v != 1 for v in (*siz.xrsiz, *siz.yrsiz)):
        raise UnsupportedSource(f"{path.name}: subsampled components are not supported")
    bits, signed = set(siz.bitdepth), set(siz.signed)
    jp2h = next((b for b in jp2.box if b.box_id == "jp2h"), None)
    boxes = {b.box_id: b for b in (jp2h.box if jp2h else [])}
    components = len(siz.bitdepth)
    if "pclr" in boxes:  # a palette expands one index component into its columns
        pclr = boxes["pclr"]
        components, bits, signed = len(pclr.signed), set(pclr.bits_per_component), set(pclr.signed)
    if len(bits) != 1 or len(signed) != 1:
        raise UnsupportedSource(f"{path.name}: components differ in bit depth or sign")
    (nbits,), (sign,) = bits, signed
    if not 1 <= nbits <= 16:
        raise UnsupportedSource(f"{path.name}: {nbits}-bit components are not supported")
    tile = (siz.ytsiz, siz.xtsiz)
    single_tile = siz.ytosiz + siz.ytsiz >= siz.ysiz and siz.xtosiz + siz.xtsiz >= siz.xsiz
    return SliceHeader(
        name=path.name,
        height=height,
        width=width,
        components=components,
        dtype=dtype_for(nbits, bool(sign)),
        # a COC can give one component fewer levels; a reduction must exist for every component
        dwt_levels=min([cod.num_res, *(int(c.spcoc[0]) for c in cocs)]),
        tile=None if single_tile else tile,
        origin=(siz.yosiz, siz.xosiz),
        capture_ppm=_capture_ppm(boxes.get("res ")),
        reversible=cod.xform == 1,
        bits=nbits,
        tile_grid=(siz.ytosiz, siz.xtosiz, siz.ytsiz, siz.xtsiz),
        # Rsiz bit 14 announces Part-15 capabilities (and a CAP marker): HT code-blocks
        htj2k=bool(siz.rsiz & 0x4000) or any(s.marker_id == "CAP" for s in segments),
        codestream=not jp2.box,  # glymur finds boxes only in JP2-family files
    )


def _capture_ppm(res_box) -> tuple[float, float] | None:
    resc = next((b for b in getattr(res_box, "box", []) if b.box_id == "resc"), None)
    if resc is None:
        return None
    v, h = float(resc.vertical_resolution), float(resc.horizontal_resolution)
    if not all(math.isfinite(x) and x > 0 for x in (v, h)):
        return None
    return v, h
