"""The Train dock: :class:`TrainWidget` (:mod:`.dock`) with its controls and loss plot."""

from napari_leap.napari.widgets.train.controls import FILE_ITEM
from napari_leap.napari.widgets.train.dock import TrainWidget

__all__ = ["FILE_ITEM", "TrainWidget"]
