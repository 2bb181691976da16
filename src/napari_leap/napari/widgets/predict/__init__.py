"""The Predict dock: :class:`PredictWidget` (:mod:`.dock`) with its controls and display."""

from napari_leap.napari.widgets.predict.dock import PROJECT_ITEM, PredictWidget

__all__ = ["PROJECT_ITEM", "PredictWidget"]
