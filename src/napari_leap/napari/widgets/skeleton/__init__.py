"""The Skeleton dock: :class:`SkeletonWidget` (:mod:`.dock`) with its controls."""

from napari_leap.napari.widgets.skeleton.controls import swatch
from napari_leap.napari.widgets.skeleton.dock import SkeletonWidget

__all__ = ["SkeletonWidget", "swatch"]
