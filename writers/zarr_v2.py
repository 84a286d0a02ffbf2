"""OME-NGFF 0.4 on zarr v2 at /zarr/{id}.ome.zarr/{key}: metadata documents, canonical keys, chunks."""

from __future__ import annotations

import numpy as np

from writers import ngff
from writers.codecs import Compressor, encode_full_chunk
from writers.errors import MalformedKey, NoSuchKey
from writers.keys import chunk_index, level_index, shown
from writers.neuroglancer import Source
from writers.spec import ImageSpec, LevelSpec
from writers.view import Chunk, Document, ViewOptions
from writers.zarr_view import ZarrView

GROUP_DOCUMENTS = (".zgroup", ".zattrs", ".zmetadata")
#: keys clients probe that this layout never has: a clean 404, not a 400
PROBED_ABSENT = {"zarr.json", ".zarray", "labels", "OME", ".zgroup", ".zattrs", ".zmetadata"}


def zgroup() -> dict:
    return {"zarr_format": 2}


def zarray(spec: ImageSpec, level: LevelSpec, comp: Compressor) -> dict:
    return {
        "zarr_format": 2,
        "shape": list(level.shape),
        "chunks": list(level.chunks),
        "dtype": np.dtype(spec.dtype).newbyteorder("<").str,
        "compressor": comp.v2_config(),
        "fill_value": 0,
        "order": "C",
        "filters": None,
        "dimension_separator": "/",
    }


def zmetadata(spec: ImageSpec, comp: Compressor) -> dict:
    meta: dict = {".zgroup": zgroup(), ".zattrs": ngff.zattrs_v04(spec)}
    for i, level in enumerate(spec.levels):
        meta[f"{i}/.zarray"] = zarray(spec, level, comp)
    return {"zarr_consolidated_format": 1, "metadata": meta}


def encode_chunk(block: np.ndarray, level: LevelSpec, comp: Compressor) -> bytes:
    return encode_full_chunk(block, level.chunks, comp)


class ZarrV2(ZarrView):
    """Documents: ``.zgroup``, ``.zattrs``, ``.zmetadata`` and ``{level}/.zarray``;
    chunks: ``{level}/{t}/{c}/{z}/{y}/{x}``."""

    name = "zarr"
    prefix = "/zarr"
    group_documents = GROUP_DOCUMENTS
    array_document = ".zarray"
    neuroglancer = Source("zarr2://", ome_axes=True)

    def parse(self, key: str, spec: ImageSpec) -> Document | Chunk:
        if key in GROUP_DOCUMENTS:
            return Document(key)
        parts = key.split("/")
        if not parts[0].isdigit():
            if parts[0] in PROBED_ABSENT or parts[0].startswith("."):
                raise NoSuchKey(f"{shown(key)} does not exist in this group")
            raise MalformedKey(f"{shown(key)} is not a key of this OME-Zarr group")
        level = level_index(parts[0], key, spec)
        rest = parts[1:]
        if rest == [".zarray"]:
            return Document(".zarray", level)
        if len(rest) == 1 and rest[0] in PROBED_ABSENT:
            raise NoSuchKey(f"{shown(key)} does not exist: levels are arrays")
        ndim = len(spec.levels[level].shape)
        if len(rest) != ndim:
            raise MalformedKey(f"{shown(key)}: a chunk key of level {level} has {ndim} '/'-separated indices")
        return Chunk(level, chunk_index(rest, key, spec, level))

    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        if isinstance(key, Chunk):
            return "/".join(map(str, (key.level, *key.index)))
        return key.name if key.level is None else f"{key.level}/{key.name}"

    def document(self, key: Document, spec: ImageSpec, options: ViewOptions) -> dict:
        if key.name == ".zgroup":
            return zgroup()
        if key.name == ".zattrs":
            return ngff.zattrs_v04(spec)
        if key.name == ".zmetadata":
            return zmetadata(spec, options.compressor)
        return zarray(spec, spec.levels[key.level], options.compressor)
