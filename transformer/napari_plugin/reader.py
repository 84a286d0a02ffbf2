"""The npe2 reader: ``napari http://HOST/datasets/ID`` (or ``…/api/datasets/ID``, ``…/zarr/ID.ome.zarr``,
``…/t/TOKEN/…``) opens the dataset's channels as lazy multiscale image layers."""

from __future__ import annotations

from collections.abc import Callable

from transformer.client import open_dataset, parse_dataset_url
from transformer.napari_plugin.errors import FAILURES, explain
from transformer.napari_plugin.layers import LayerData, check_access, image_layers


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """A reader for one service dataset URL; None for anything else (napari then asks other plugins)."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not isinstance(path, str):
        return None
    try:
        parse_dataset_url(path)
    except ValueError:
        return None
    return read


def read(path: str | list[str]) -> list:
    """The dataset's image layers; on a refusal or a server that is down, a notification saying so and no
    layer (napari's "read, nothing to add" answer), so the viewer stays as it was."""
    from napari.utils.notifications import show_error

    url = path[0] if isinstance(path, list) else path
    base, dataset_id, token = parse_dataset_url(url)
    try:
        ds = open_dataset(url)
        check_access(ds)
        return image_layers(ds)
    except FAILURES as exc:
        show_error(explain(exc, base, dataset_id, token=bool(token)))
        return [(None,)]
