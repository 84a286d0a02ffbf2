"""OME-Zarr 0.5 on zarr v3 at /zarr3/{id}.ome.zarr/{key}: zarr.json documents (consolidated in the root),
default chunk keys."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from writers import ngff
from writers.codecs import Compressor
from writers.errors import MalformedKey, NoSuchKey
from writers.keys import chunk_index, level_index, shown
from writers.neuroglancer import Source
from writers.spec import AXES, ImageSpec, LevelSpec
from writers.view import Chunk, Document, ViewOptions
from writers.zarr_view import ZarrView

NODE = "zarr.json"
#: v2 documents and other probes: absent in a v3 hierarchy
PROBED_ABSENT = {".zgroup", ".zattrs", ".zarray", ".zmetadata", "labels", "OME"}


def codecs(dtype: str, comp: Compressor) -> list[dict]:
    """bytes (little-endian) then the compressor's own codec, if any."""
    chain: list[dict] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    codec = comp.v3_codec(dtype)
    return chain if codec is None else [*chain, codec]


def array_json(spec: ImageSpec, level: LevelSpec, comp: Compressor) -> dict:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(level.shape),
        "data_type": np.dtype(spec.dtype).name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(level.chunks)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": codecs(spec.dtype, comp),
        "dimension_names": list(AXES),
        "attributes": {},
        "storage_transformers": [],
    }


def group_json(spec: ImageSpec, comp: Compressor,
               array: Callable[[ImageSpec, int], dict] | None = None) -> dict:
    """Root group with OME 0.5 attributes and consolidated metadata of every level.

    ``omero`` is also written at the top level of the attributes, where Neuroglancer reads channel
    colours and windows; validators look only inside ``ome``. ``array``: each level's document, if not
    ``array_json`` with ``comp``.
    """
    ome = ngff.ome_attributes_v05(spec)
    return {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {"ome": ome, "omero": ome["omero"]},
        "consolidated_metadata": {
            "kind": "inline",
            "must_understand": False,
            "metadata": {str(i): array(spec, i) if array is not None else array_json(spec, level, comp)
                         for i, level in enumerate(spec.levels)},
        },
    }


class ZarrV3(ZarrView):
    """Documents: ``zarr.json`` (root group) and ``{level}/zarr.json``; chunks: ``{level}/c/{t}/{c}/{z}/{y}/{x}``
    (the default chunk key encoding with ``/``)."""

    name = "zarr3"
    prefix = "/zarr3"
    group_documents = (NODE,)
    array_document = NODE
    chunk_folder = "c"
    neuroglancer = Source("zarr3://", ome_axes=True)

    def parse(self, key: str, spec: ImageSpec) -> Document | Chunk:
        if key == NODE:
            return Document(NODE)
        parts = key.split("/")
        if not parts[0].isdigit():
            if parts[0] in PROBED_ABSENT or parts[-1] in PROBED_ABSENT:
                raise NoSuchKey(f"{shown(key)} does not exist in this zarr v3 group")
            raise MalformedKey(f"{shown(key)} is not a key of this OME-Zarr group")
        level = level_index(parts[0], key, spec)
        rest = parts[1:]
        if rest == [NODE]:
            return Document(NODE, level)
        if len(rest) == 1 and rest[0] in PROBED_ABSENT:
            raise NoSuchKey(f"{shown(key)} does not exist")
        ndim = len(spec.levels[level].shape)
        if len(rest) != ndim + 1 or rest[0] != "c":
            raise MalformedKey(f"{shown(key)}: chunk keys of level {level} are '{level}/c/' + {ndim} indices")
        return Chunk(level, chunk_index(rest[1:], key, spec, level))

    def spell(self, key: Document | Chunk, spec: ImageSpec) -> str:
        if isinstance(key, Chunk):
            return "/".join(map(str, (key.level, "c", *key.index)))
        return NODE if key.level is None else f"{key.level}/{NODE}"

    def document(self, key: Document, spec: ImageSpec, options: ViewOptions) -> dict:
        if key.level is None:
            return group_json(spec, options.compressor)
        return array_json(spec, spec.levels[key.level], options.compressor)
