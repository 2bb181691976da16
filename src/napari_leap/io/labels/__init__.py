"""Labels files in every format (one module each) and the bridge to arrays for compute."""

from napari_leap.io.labels.dlc import is_dlc_file
from napari_leap.io.labels.files import SAVE_FORMATS, labels_format, load_labels, save_labels
from napari_leap.io.labels.sleap import (
    LabelsError,
    labels_from_poses,
    poses_from_labels,
    skeleton_from_sleap,
    skeleton_to_sleap,
    video_index,
)

__all__ = [
    "SAVE_FORMATS",
    "LabelsError",
    "is_dlc_file",
    "labels_format",
    "labels_from_poses",
    "load_labels",
    "poses_from_labels",
    "save_labels",
    "skeleton_from_sleap",
    "skeleton_to_sleap",
    "video_index",
]
