"""The Label dock (``LabelingWidget``): one module per concern, the state in ``model.labeling``."""

from napari_leap.napari.widgets.labeling.keys import SHORTCUTS
from napari_leap.napari.widgets.labeling.widget import LabelingWidget

__all__ = ["SHORTCUTS", "LabelingWidget"]
