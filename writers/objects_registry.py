"""The served views of objects beside an image (neurons, cells): their URL names and key grammars.

Pure, like writers/view.py: a view says which kind of attached object it serves, where it hangs under
``/objects/{dataset id}/`` and what its keys name; transformer/server/routes/objects.py builds the routes, the
record's links and the warm path from :func:`installed`. Keys are canonical: a key is served only if it
parses and spells back to itself; a malformed one is 400 (MalformedKey), a well-formed one naming nothing 404.

- ``skeletons`` (neurons): ``info``, ``segment_properties/info``, ``{decimal id}`` (one unsharded skeleton).
- ``cells`` (cell tables, one per table id): ``info``, ``by_id/{decimal id}``, ``spatial{k}/{i}_{j}_{k}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from writers.errors import MalformedKey, NoSuchKey

#: the URL prefix of every object view; ``{OBJECTS_PREFIX}/{dataset id}/info`` is a volume info naming the
#: skeleton directory (what cloud-volume opens to read skeletons)
OBJECTS_PREFIX = "/objects"
_DECIMAL = re.compile(r"^[1-9][0-9]{0,19}$")
_SPATIAL = re.compile(r"^spatial(0|[1-9][0-9]{0,2})/(.+)$")


@dataclass(frozen=True)
class ObjectKey:
    """What a key names: ``what`` is info, segment_properties, skeleton, by_id or spatial."""

    what: str
    object_id: int | None = None  # skeleton, by_id
    level: str | None = None  # spatial: the level's key (spatial0, ...)
    cell: str | None = None  # spatial: "i_j_k" (the handler checks it against the level's grid)


def decimal_id(text: str) -> int:
    """A canonical decimal uint64 >= 1 (segment and annotation ids); MalformedKey otherwise, NoSuchKey for 0."""
    if text == "0":
        raise NoSuchKey("id 0 is the background: no object has it")
    if not _DECIMAL.match(text) or int(text) >= 2**64:
        raise MalformedKey(f"{text[:40]!r} is not a decimal object id (1 to 2**64 - 1)")
    return int(text)


@dataclass(frozen=True)
class ObjectView:
    name: str  #: URL segment under /objects/{id}/ and the record's ``links`` key
    kind: str  #: the kind of attached object it serves (catalog/attached.py KINDS)
    per_object: bool  #: one source per object (cell tables), or one for all objects of the kind (skeletons)
    link: str  #: the record's ``links`` key of the (first) source

    def parse(self, key: str) -> ObjectKey:
        raise NotImplementedError


class SkeletonView(ObjectView):
    def parse(self, key: str) -> ObjectKey:
        if key == "info":
            return ObjectKey("info")
        if key == "segment_properties/info":
            return ObjectKey("segment_properties")
        if "/" in key or key == "segment_properties":  # a folder probe is 404: clients walk up trees
            raise NoSuchKey(f"no skeleton key {key[:80]!r}")
        return ObjectKey("skeleton", decimal_id(key))


class AnnotationView(ObjectView):
    def parse(self, key: str) -> ObjectKey:
        if key == "info":
            return ObjectKey("info")
        head, sep, rest = key.partition("/")
        if head == "by_id" and sep and "/" not in rest:
            return ObjectKey("by_id", decimal_id(rest))
        m = _SPATIAL.match(key)
        if m and "/" not in m.group(2):
            return ObjectKey("spatial", level=f"spatial{m.group(1)}", cell=m.group(2))
        raise NoSuchKey(f"no annotation key {key[:80]!r}")


SKELETONS = SkeletonView("skeletons", "neuron", per_object=False, link="skeletons")
CELLS = AnnotationView("cells", "cells", per_object=True, link="annotations")


def installed() -> tuple[ObjectView, ...]:
    return (SKELETONS, CELLS)


def source_url(base: str, view: ObjectView, dataset_id: str, object_id: str | None = None) -> str:
    """The URL of a view's source directory (what ``precomputed://`` opens)."""
    url = f"{base}{OBJECTS_PREFIX}/{dataset_id}/{view.name}"
    return f"{url}/{object_id}" if view.per_object else url


def object_links(base: str, dataset_id: str, attached: list[dict]) -> dict:
    """The record's links to its objects: each view's source (of cell tables, the first), the volume info
    that names the skeletons (what cloud-volume opens) and the neuron list; empty without objects."""
    links: dict = {}
    for view in installed():
        ids = [e["id"] for e in attached if e["kind"] == view.kind]
        if ids:
            links[view.link] = source_url(base, view, dataset_id, ids[0])
    if "skeletons" in links:
        links["skeleton_volume"] = f"{base}{OBJECTS_PREFIX}/{dataset_id}"
        links["neurons"] = f"{base}/api/datasets/{dataset_id}/neurons"
    if "annotations" in links:
        links["cells"] = f"{base}/api/datasets/{dataset_id}/cells"
    return links
