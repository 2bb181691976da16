"""The Skeleton dock: :class:`SkeletonWidget` (:mod:`.dock`) with its controls."""

from napari_leap.napari.widgets.skeleton.controls import swatch
from napari_leap.napari.widgets.skeleton.dock import SkeletonWidget

# the Label dock (napari/widgets/labeling.py) still imports the old private name; the
# integrator renames its import at merge, then this line goes
_swatch = swatch

__all__ = ["SkeletonWidget", "swatch"]
