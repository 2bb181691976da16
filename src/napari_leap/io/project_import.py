"""Labels from another file or tool brought into a project, matched by body-part name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    skeleton_to_sleap,
    video_index,
)
from napari_leap.io.project import Project, ProjectError
from napari_leap.model.poses import Poses


def import_into_project(project: Project, path: str | Path, *, save: bool = True) -> int:
    """Add the labels of any readable file to ``project`` (videos added as needed).

    Body parts are matched by name, so a file with fewer parts, or parts in
    another order, fits; a file with parts the project lacks is refused before
    anything changes. Frames already labelled in the project are replaced.
    Returns the number of labelled frames imported.
    """
    labels = load_labels(path)
    path = Path(path)
    names = list(labels.skeletons[0].node_names)
    extra = [n for n in names if n not in project.skeleton.nodes]
    if extra:
        raise ProjectError(
            f"{path.name} has body parts the project lacks ({', '.join(extra)}); add them in "
            "the Skeleton widget or rename them, then import again."
        )
    new = None
    count = 0
    for vi, video in enumerate(labels.videos):
        poses = poses_from_labels(labels, vi, user=True, predicted=False)
        if not len(poses.frames):
            continue
        index = project.add_video(_found_video(video, path))
        poses = poses.on_skeleton(project.skeleton)
        if new is None:
            new = _labels_without(project, project.labels, {})
        new = _labels_without(project, new, {index: set(poses.frames.tolist())})
        _add_user_poses(project, new, poses, index)
        count += len(poses.frames)
    if new is not None:
        project.labels = new
        if save:
            project.save()
    return count


def _found_video(video, labels_path: Path) -> Path:
    """An imported file's video: where it says, or beside the labels file."""
    filename = video.filename if isinstance(video.filename, str) else str(labels_path.parent)
    found = Path(filename) if Path(filename).exists() else labels_path.parent / Path(filename).name
    if not found.exists():
        raise ProjectError(
            f"the video of {labels_path.name} ({filename}) cannot be found; put it "
            "beside the labels file or add it to the project first."
        )
    return found


def _labels_without(project: Project, labels, drop: dict[int, set[int]]):
    """A copy of a person's labels on the project's skeleton, minus some frames per video."""
    import sleap_io as sio

    out = sio.Labels(skeletons=[skeleton_to_sleap(project.skeleton)])
    for vi, video in enumerate(labels.videos):
        poses = poses_from_labels(labels, vi, user=True, predicted=False)
        if not len(poses.frames):
            continue
        index = project.video_index(video)
        keep = ~np.isin(poses.frames, list(drop.get(index, ())))
        _add_user_poses(project, out, poses.select(keep).on_skeleton(project.skeleton), index)
    return out


def _add_user_poses(project: Project, labels, poses: Poses, index: int) -> None:
    """Add a person's poses of project video ``index`` (one ``sleap_io.Video`` per file)."""
    found = video_index(labels, project.video_path(index))
    video = project.sleap_video(index) if found is None else labels.videos[found]
    labels_from_poses(poses, [video], predicted=False, labels=labels)
