"""URLs of every view of a dataset (the only place URL shapes are spelled out for responses)."""

from __future__ import annotations

from collections.abc import Iterable

from writers.view import View, version_tag


def dataset_links(base: str, dataset_id: str, views: Iterable[View]) -> dict:
    return {
        "self": f"{base}/api/datasets/{dataset_id}",
        **{view.name: view_url(base, view, dataset_id) for view in views},
        "neuroglancer": f"{base}/neuroglancer/{dataset_id}",
        # a template: add ?level=&t=&c=&z=&y=&x=&format= (README "Data for analysis")
        "cutout": cutout_url(base, dataset_id),
    }


def cutout_url(base: str, dataset_id: str, version: str | None = None) -> str:
    """The cutout template URL; ``version``: that version's immutable form (``{id}@{tag}``, as the views')."""
    return f"{base}/api/datasets/{dataset_id}{f'@{version_tag(version)}' if version else ''}/cutout"


def view_url(base: str, view: View, dataset_id: str, version: str | None = None) -> str:
    """``version`` (``Dataset.version``): the immutable URL of that version (cached for a year), which 404s
    with a pointer to the current one once the source changes."""
    return f"{base}{view.prefix}/{view.dataset_segment(dataset_id, version)}"
