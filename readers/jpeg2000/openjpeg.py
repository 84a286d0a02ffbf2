"""One region of one slice decoded by libopenjp2 through glymur's ctypes bindings, read with a small buffer.

glymur opens OpenJPEG's default file stream, which refills a 1 MiB buffer at every tile-part header while
the decoder walks a codestream without TLM markers to the tiles a region needs: a region of a 4096² slice
of 64 tiles read 64 MiB. With an 8 KiB buffer the walk reads a few pages per tile-part (measured on a
4096² 16-bit slice tiled 512, the best of 10: one row of a tile 19 → 14 ms, 8 rows at reduction 3 4.6 →
1.4 ms, the whole slice at reduction 5 12.3 → 5.0 ms; a whole tile 45.5 → 40.6 ms). The decoding is
OpenJPEG's, with the parameters glymur would set: the JP2 decoder applies palettes and channel definitions.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from pathlib import Path

import numpy as np

#: bytes OpenJPEG reads at once: a tile-part header and a little more (its data is skipped with a seek)
READ_BUFFER = 8 << 10

_messages = threading.local()  # OpenJPEG's error messages, per decoding thread (it calls back synchronously)


@ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)
def _on_error(message: bytes, _user: int) -> None:
    _messages.lines.append(message.decode("utf-8", "replace").strip())


class OpenJPEGError(Exception):
    """OpenJPEG refused the file; the message is OpenJPEG's own."""


@functools.cache
def _create_stream():
    """``opj_stream_create_file_stream`` (glymur binds only the default-buffer variant)."""
    from glymur.lib import openjp2 as opj2

    create = opj2.OPENJP2.opj_stream_create_file_stream
    create.argtypes = [ctypes.c_char_p, ctypes.c_size_t, opj2.BOOL_TYPE]
    create.restype = opj2.STREAM_TYPE_P
    return create


def decode_area(path: Path, codestream: bool, r: int, area: tuple[int, int, int, int],
                dtype: np.dtype) -> np.ndarray:
    """(rows, columns, components) of reference-grid ``area`` (top, left, bottom, right) at reduction ``r``.

    ``codestream``: a raw J2K codestream, else a JP2-family file. Raises OpenJPEGError (or OSError) when
    OpenJPEG cannot decode it; components of unequal sizes raise ValueError.
    """
    from glymur.lib import openjp2 as opj2

    stream = _create_stream()(str(path).encode(), READ_BUFFER, 1)
    if not stream:
        raise OSError(f"{path.name}: OpenJPEG could not open it")
    codec = opj2.create_decompress(opj2.CODEC_J2K if codestream else opj2.CODEC_JP2)
    _messages.lines = []
    try:
        opj2.set_error_handler(codec, _on_error)
        opj2.set_warning_handler(codec, None)
        opj2.set_info_handler(codec, None)
        params = opj2.set_default_decoder_parameters()
        params.cp_reduce = r
        opj2.setup_decoder(codec, params)
        image = opj2.read_header(stream, codec)
        try:
            top, left, bottom, right = area
            opj2.set_decode_area(codec, image, left, top, right, bottom)
            opj2.decode(codec, stream, image)
            opj2.end_decompress(codec, stream)
            return _pixels(image.contents, dtype)
        finally:
            opj2.image_destroy(image)
    except opj2.OpenJPEGLibraryError as exc:
        raise OpenJPEGError("; ".join(_messages.lines) or "decoding failed") from exc
    finally:
        opj2.destroy_codec(codec)
        opj2.stream_destroy(stream)


def _pixels(image, dtype: np.dtype) -> np.ndarray:
    """The decoded components (int32 planes in OpenJPEG) as one (rows, columns, components) array."""
    comps = [image.comps[k] for k in range(image.numcomps)]
    h, w = comps[0].h, comps[0].w
    if h == 0 or w == 0 or any((c.h, c.w) != (h, w) for c in comps):
        raise ValueError(f"components of sizes {[(c.h, c.w) for c in comps]}")
    out = np.empty((h, w, len(comps)), dtype)
    for k, comp in enumerate(comps):
        plane = np.ctypeslib.as_array(ctypes.cast(comp.data, ctypes.POINTER(ctypes.c_int32)), (h, w))
        out[:, :, k] = plane  # narrowed as glymur does (OpenJPEG clips decoded samples to their precision)
    return out
