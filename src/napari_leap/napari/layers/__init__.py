"""The one place that turns core data into napari layer data and back.

Conventions (every widget, the reader and the writer rely on them):

* pose points live in a Points layer in **video coordinates**, data ``(frame, y, x)``,
  one point per placed body part per animal;
* the layer's features are ``node`` (categorical over the skeleton's body parts),
  ``animal`` (track name), ``status`` (``user``, ``predicted``, ``corrected``) and
  ``confidence`` (NaN for a person's points);
* ``layer.metadata`` holds ``skeleton`` (:meth:`Skeleton.to_dict`), ``tracks`` (animal
  names in order), ``tracked`` (whether the file had tracks) and ``video`` (path or None);
* colour is by body part from one fixed palette, symbol and border by status.

Modules: style, points (pose points and labels), edges, tracks, video (videos and
alignment boxes), live (pose layers and skeleton edits on them).
"""

from napari_leap.napari.layers.edges import edge_vectors, edges_layer_data
from napari_leap.napari.layers.live import (
    apply_skeleton,
    is_editable_pose_layer,
    is_pose_layer,
    points_of_nodes,
    pose_layer_skeleton,
)
from napari_leap.napari.layers.points import (
    align_tracks,
    category_codes,
    frame_counts,
    labels_to_layer_data,
    layer_to_labels,
    merged_tracks,
    points_layer_data,
    points_to_poses,
    pose_metadata,
    poses_to_points,
    prediction_points_layer_data,
)
from napari_leap.napari.layers.style import (
    PALETTE,
    STATUS_BORDER,
    STATUS_SYMBOL,
    STATUSES,
    LayerData,
    empty_features,
    node_colormap,
    node_colors,
    points_style,
)
from napari_leap.napari.layers.tracks import (
    prediction_tracks,
    prediction_tracks_layer_data,
    tracks_layer_data,
)
from napari_leap.napari.layers.video import (
    alignment_boxes_layer_data,
    box_affine,
    layer_video_path,
    oriented_boxes,
    video_layer_data,
)

__all__ = [
    "PALETTE",
    "STATUSES",
    "STATUS_BORDER",
    "STATUS_SYMBOL",
    "LayerData",
    "align_tracks",
    "alignment_boxes_layer_data",
    "apply_skeleton",
    "box_affine",
    "category_codes",
    "edge_vectors",
    "edges_layer_data",
    "empty_features",
    "frame_counts",
    "is_editable_pose_layer",
    "is_pose_layer",
    "labels_to_layer_data",
    "layer_to_labels",
    "layer_video_path",
    "merged_tracks",
    "node_colormap",
    "node_colors",
    "oriented_boxes",
    "points_layer_data",
    "points_of_nodes",
    "points_style",
    "points_to_poses",
    "pose_layer_skeleton",
    "pose_metadata",
    "poses_to_points",
    "prediction_points_layer_data",
    "prediction_tracks",
    "prediction_tracks_layer_data",
    "tracks_layer_data",
    "video_layer_data",
]
