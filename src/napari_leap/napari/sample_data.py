"""Sample data: the real two-fly clip with its labels and LEAP's 32-node fly crops."""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
CLIP = SAMPLE_DIR / "flies13" / "clip.mp4"
CLIP_LABELS = SAMPLE_DIR / "flies13" / "clip.slp"
FLY32 = SAMPLE_DIR / "fly32" / "example_annotation_set.h5"
FLY32_SKELETON = SAMPLE_DIR / "fly32" / "skeleton.csv"
LEAP_MAT = SAMPLE_DIR / "leap_mat" / "labels.mat"


def _as_reference(layer_data: list) -> list:
    """Mark published, proofread labels as a reference to compare with, not labels to edit.

    The Label and Skeleton docks leave them alone and napari opens them read-only.
    """
    from napari_leap.napari.reader import settle_when_added

    for _, kwargs, kind in layer_data:
        if kind == "points":
            kwargs["metadata"]["reference"] = True
    return settle_when_added(layer_data)


def two_flies():
    """The 1500-frame clip of two flies (lazy video) and its proofread labels (read-only)."""
    from napari_leap.napari.labels_io import read_labels

    return _as_reference(read_labels(CLIP_LABELS))


def fly32_poses():
    """The crops' annotations as :class:`~napari_leap.model.poses.Poses` (one animal per crop)."""
    import h5py
    import numpy as np

    from napari_leap.io.skeleton_files import load_skeleton
    from napari_leap.model.poses import Poses

    with h5py.File(FLY32, "r") as f:
        points = np.asarray(f["annotations"], dtype=np.float64)[:, None]
    n = len(points)
    return Poses(
        frames=np.arange(n),
        points=points,
        scores=np.full(points.shape[:3], np.nan),
        tracks=["fly"],
        skeleton=load_skeleton(FLY32_SKELETON),
    )


def fly32():
    """100 egocentric fly crops with 32 labelled body parts (LEAP's fly skeleton)."""
    from napari_leap.io.video import open_video
    from napari_leap.napari.layers import edges_layer_data, points_layer_data, video_layer_data

    points = points_layer_data(fly32_poses(), name="fly32 labels")
    edges = edges_layer_data(
        points[0], points[1]["features"], points[1]["metadata"], name="fly32 labels edges"
    )
    return _as_reference(
        [video_layer_data(open_video(FLY32), name="fly32 boxes", path=FLY32), edges, points]
    )
