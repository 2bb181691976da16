"""Training data as arrays: images with body-part positions, from any labels source.

Sources: a labels file (anything ``load_labels`` reads, embedded-image
``.pkg.slp`` included), a ``sleap_io.Labels``, a project (folder), a LEAP /
DeepPoseKit box file (``.h5`` with ``images`` and ``annotations``), or a
:class:`TrainingData` itself. Labels on several animals per frame, or on
animals much smaller than the frame, are aligned into egocentric boxes first
(one image per animal), which is LEAP's recipe: by background alignment of
the whole video (:mod:`~napari_leap.pose.dataset.background`), or by learned
alignment (boxes cut from the labels and a first-stage network,
:mod:`napari_leap.pose.boxes`), which needs no video.
"""

from napari_leap.pose.dataset.data import (
    PARTS_KEY,
    DataOptions,
    TrainingData,
    TrainingDataError,
    load_box_h5,
    split_blocks,
)
from napari_leap.pose.dataset.labels import (
    ALIGN_METHODS,
    alignment_method,
    box_size_for,
    decide_alignment,
    from_labels,
    load_training_data,
)
from napari_leap.pose.dataset.strays import Strays, stray_points

__all__ = [
    "ALIGN_METHODS",
    "PARTS_KEY",
    "DataOptions",
    "Strays",
    "TrainingData",
    "TrainingDataError",
    "alignment_method",
    "box_size_for",
    "decide_alignment",
    "from_labels",
    "load_box_h5",
    "load_training_data",
    "split_blocks",
    "stray_points",
]
