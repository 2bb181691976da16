"""The Label dock (``LabelingWidget``)."""

from napari_leap.napari.widgets.labeling.widget import SHORTCUTS, LabelingWidget

__all__ = ["SHORTCUTS", "LabelingWidget"]
