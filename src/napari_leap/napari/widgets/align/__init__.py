"""The Align dock: :class:`AlignWidget` (:mod:`.dock`) with its controls, preview and review."""

from napari_leap.napari.widgets.align.dock import AlignWidget
from napari_leap.napari.widgets.align.preview import HEADING_NAME, PREVIEW_NAME

__all__ = ["HEADING_NAME", "PREVIEW_NAME", "AlignWidget"]
