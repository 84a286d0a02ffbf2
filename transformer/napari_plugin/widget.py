"""The "Brain archive" dock widget: a service's catalog in napari (search with facets, thumbnails, open).

Every request runs in a worker thread (napari's ``create_worker``), never on Qt's event loop; what a request
answers is put in the widget by the worker's signals, in the main thread. Failures become one notification
naming the server (``errors.explain``), and the viewer stays as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from transformer.client import RemoteCatalog, RemoteDataset
from transformer.napari_plugin.errors import FAILURES, explain
from transformer.napari_plugin.layers import LayerData, check_access, image_layers, overlay_layers

if TYPE_CHECKING:
    import napari

#: the catalog's facets, in the order the widget shows them
FACETS = ("species", "technique", "format", "access")
THUMBNAIL = 64  # px, the icon size of a result


class ArchiveWidget:
    """Search a brain-transformer service and open a dataset (with its neurons and cells) in the viewer.
    ``native`` is the Qt widget napari docks (Qt and napari are imported when the widget is made: the package
    imports them nowhere else, and only with the ``napari`` extra installed)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        from qtpy.QtCore import QSize, Qt
        from qtpy.QtWidgets import (
            QComboBox,
            QFormLayout,
            QHBoxLayout,
            QLabel,
            QLineEdit,
            QListWidget,
            QPushButton,
            QVBoxLayout,
            QWidget,
        )

        self.native = QWidget()
        self.role = Qt.UserRole  # where a result keeps its dataset id
        self.viewer = napari_viewer
        self.workers: set = set()  # running workers (tests wait until it is empty)
        self.server = QLineEdit(os.environ.get("TRANSFORMER_URL", "http://127.0.0.1:8000"))
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.Password)
        self.token.setPlaceholderText("for embargoed or private datasets")
        self.words = QLineEdit()
        self.words.setPlaceholderText("words: title, species, neuron names…")
        self.words.returnPressed.connect(self.search)
        self.facets = {name: QComboBox() for name in FACETS}
        for combo in self.facets.values():
            combo.addItem("any", "")
            combo.activated.connect(lambda *_: self.search())  # a facet chosen: search again
        search = QPushButton("Search")
        search.clicked.connect(lambda *_: self.search())
        self.results = QListWidget()
        self.results.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.results.itemDoubleClicked.connect(lambda _: self.open())
        self.open_button = QPushButton("Open")
        self.open_button.clicked.connect(lambda: self.open())
        self.open_all_button = QPushButton("Open with neurons and cells")
        self.open_all_button.clicked.connect(lambda: self.open(overlays=True))
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Token", self.token)
        row = QHBoxLayout()
        row.addWidget(self.words)
        row.addWidget(search)
        form.addRow("Search", row)
        for name, combo in self.facets.items():
            form.addRow(name.capitalize(), combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.open_all_button)
        layout = QVBoxLayout(self.native)
        layout.addLayout(form)
        layout.addWidget(self.results)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    # -- the service -------------------------------------------------------------------------------------------
    def catalog(self) -> RemoteCatalog:
        return RemoteCatalog(self.server.text().strip(), self.token.text().strip() or None, retries=1, timeout=60)

    def search(self) -> None:
        """Search with the words and the chosen facets; results and facet counts fill in when they arrive."""
        catalog = self.catalog()
        filters = {name: combo.currentData() or "" for name, combo in self.facets.items()}
        self.status.setText(f"searching {catalog.base_url}…")
        self._run(catalog.search, self.words.text().strip(), **filters, server=catalog.base_url,
                  returned=self._show_results, desc="Searching")

    def _show_results(self, found: dict) -> None:
        from qtpy.QtWidgets import QListWidgetItem

        self.results.clear()
        for record in found["datasets"]:
            shape = "×".join(str(n) for n in record["shape"][2:])
            item = QListWidgetItem(f"{record['title']}\n{record['id']} · {record['format']} · {shape} · "
                                   f"{record['access']}")
            item.setData(self.role, record["id"])
            item.setToolTip(record.get("description") or record["title"])
            self.results.addItem(item)
        for name, combo in self.facets.items():  # keep the choice, refresh the values and counts
            chosen = combo.currentData() or ""
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("any", "")
            for value, count in found["facets"].get(name, []):
                combo.addItem(f"{value} ({count})", value)
            if chosen:
                at = combo.findData(chosen)
                if at < 0:
                    combo.addItem(chosen, chosen)
                    at = combo.count() - 1
                combo.setCurrentIndex(at)
            combo.blockSignals(False)
        self.status.setText(f"{found['total']} datasets")
        if found["datasets"]:
            self.results.setCurrentRow(0)
            catalog = self.catalog()
            ids = [r["id"] for r in found["datasets"]]
            self._run(_thumbnails, catalog, ids, server=catalog.base_url, yielded=self._set_thumbnail)

    def _set_thumbnail(self, pair: tuple[str, bytes]) -> None:
        from qtpy.QtGui import QIcon, QPixmap

        dataset_id, png = pair
        pixmap = QPixmap()
        if not pixmap.loadFromData(png, "PNG"):
            return
        for row in range(self.results.count()):
            item = self.results.item(row)
            if item.data(self.role) == dataset_id:
                item.setIcon(QIcon(pixmap))

    def selected(self) -> str | None:
        item = self.results.currentItem()
        return item.data(self.role) if item else None

    def open(self, dataset_id: str | None = None, overlays: bool = False) -> None:
        """Open the selected dataset (or ``dataset_id``): its channels, and with ``overlays`` its neurons and
        cells, each added as soon as it arrives."""
        from napari.utils.notifications import show_info

        dataset_id = dataset_id or self.selected()
        if not dataset_id:
            show_info("Brain archive: search, then choose a dataset")
            return
        catalog = self.catalog()
        self.status.setText(f"opening {dataset_id}…")
        def done(overlay_count: int | None) -> None:
            if overlay_count == 0:
                show_info(f"dataset {dataset_id!r} has no neurons or cells")

        self._run(_layers, catalog, dataset_id, overlays, server=catalog.base_url, yielded=self._add_layer,
                  returned=done, dataset_id=dataset_id, desc=f"Opening {dataset_id}")

    def _add_layer(self, layer: LayerData) -> None:
        from napari.layers import Layer

        self.viewer.add_layer(Layer.create(*layer))
        self.status.setText(f"opened {layer[1]['name']}")

    # -- workers -----------------------------------------------------------------------------------------------
    def _run(self, function: Callable, *args: Any, server: str, returned: Callable | None = None,
             yielded: Callable | None = None, dataset_id: str | None = None, desc: str | None = None,
             **kwargs: Any) -> None:
        """``function(*args, **kwargs)`` in a worker thread (shown in napari's activity with ``desc``)."""
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        worker = create_worker(function, *args, _progress={"desc": desc} if desc else False, **kwargs)
        if returned:
            worker.returned.connect(returned)
        if yielded:
            worker.yielded.connect(yielded)

        def failed(exc: Exception) -> None:
            message = (explain(exc, server, dataset_id, token=bool(self.token.text().strip()))
                       if isinstance(exc, FAILURES) else f"{server}: {exc!r}")
            self.status.setText(message)
            show_error(message)

        worker.errored.connect(failed)
        worker.finished.connect(lambda: self.workers.discard(worker))
        self.workers.add(worker)
        worker.start()


def _thumbnails(catalog: RemoteCatalog, ids: list[str]) -> Iterator[tuple[str, bytes]]:
    """Each dataset's thumbnail; one that cannot be had (an embargoed one without a token) is left out."""
    for dataset_id in ids:
        try:
            yield dataset_id, catalog.thumbnail(dataset_id)
        except FAILURES:
            continue


def _layers(catalog: RemoteCatalog, dataset_id: str, overlays: bool) -> Generator[LayerData, None, int | None]:
    """The dataset's image layers, then (``overlays``) its neurons and cells; returns how many overlay layers there
    were (None: not asked for). Runs in the worker thread, so it shows progress only through the worker's own bar
    (``_run``'s ``desc``): a napari ``progress`` made here updates Qt widgets from this thread, and the napari child
    of the overlay test aborted (Qt: "Cannot make QOpenGLContext current in a different thread") 1 run in 3."""
    ds: RemoteDataset = catalog.open(dataset_id)
    check_access(ds)
    yield from image_layers(ds)
    if not overlays:
        return None
    count = 0
    for layer in overlay_layers(ds):
        count += 1
        yield layer
    return count
