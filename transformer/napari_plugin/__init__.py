"""napari plugin "Brain archive" (npe2, manifest napari.yaml): a reader for the service's dataset URLs and a
widget that searches a service's catalog and opens a dataset with its neurons and cells.

A thin user interface over :mod:`transformer.client`: every request is the client's. ``layers`` builds napari
layer data from client objects without importing napari; ``reader`` and ``widget`` are what napari calls.
Installed with the ``napari`` extra (``pip install "brain-transformer[napari]"``).
"""
