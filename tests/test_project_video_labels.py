"""Saving one video's labels into a project without Qt: a person's instances go to the
labels, the rest to the predictions, and the other videos keep theirs."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import sleap_io as sio

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import labels_from_poses, load_labels, poses_from_labels
from napari_leap.io.project import Project
from napari_leap.model.skeleton import Skeleton


@pytest.fixture
def two_videos(tmp_path):
    """A project of two videos: labels and predictions on both."""
    second = tmp_path / "second.mp4"
    shutil.copy(CLIP, second)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    skeleton = reference.skeleton
    project = Project.create(tmp_path / "flies", skeleton, videos=[CLIP, second])
    videos = [project.sleap_video(0), project.sleap_video(1)]
    person = [reference.select(slice(0, 5)), reference.select(slice(10, 13))]
    guesses = [reference.select(slice(20, 24)), reference.select(slice(30, 32))]
    project.labels = labels_from_poses(person, videos, predicted=False)
    project.predictions = labels_from_poses(guesses, videos, predicted=True)
    project.save()
    return Project.open(project.root), reference


def shown_labels(project: Project, person, guessed):
    """What the Label dock hands over for video 0: a person's and predicted instances together."""
    video = project.sleap_video(0)
    labels = labels_from_poses(person, video, predicted=False)
    labels_from_poses(guessed, video, predicted=True, labels=labels)
    return labels


def test_one_video_saved_the_other_kept(two_videos):
    project, reference = two_videos
    other_person = project.video_poses(1)
    other_guesses = project.video_poses(1, predicted=True)
    person, guessed = reference.select(slice(40, 42)), reference.select(slice(50, 53))
    skeleton = Skeleton.from_dict(project.skeleton.to_dict())
    skeleton.symmetries = [(skeleton.index("wingL"), skeleton.index("wingR"))]
    project.set_video_labels(0, shown_labels(project, person, guessed), skeleton)
    project.save()

    again = Project.open(project.root)
    assert again.skeleton.symmetries == skeleton.symmetries
    assert again.video_poses(0).frames.tolist() == person.frames.tolist()
    assert again.video_poses(0, predicted=True).frames.tolist() == guessed.frames.tolist()
    np.testing.assert_allclose(again.video_poses(0).points, person.points, atol=1e-4)
    for predicted, before in ((False, other_person), (True, other_guesses)):
        kept = again.video_poses(1, predicted=predicted)
        assert kept.frames.tolist() == before.frames.tolist()
        np.testing.assert_allclose(kept.points, before.points, atol=1e-4)
    assert all(type(i) is sio.Instance for lf in again.labels.labeled_frames for i in lf.instances)
    assert not any(
        type(i) is sio.Instance for lf in again.predictions.labeled_frames for i in lf.instances
    )


def test_a_video_with_nothing_has_no_poses(two_videos):
    project, reference = two_videos
    project.set_video_labels(
        0,
        shown_labels(project, reference.select(slice(0, 0)), reference.select(slice(60, 61))),
        project.skeleton,
    )
    assert project.video_poses(0) is None
    assert project.video_poses(0, predicted=True).frames.tolist() == [int(reference.frames[60])]
    assert len(project.video_poses(1).frames) == 3


def test_other_videos_on_other_body_parts_are_left_out(two_videos):
    """A body part renamed in the dock: the other videos' labels no longer fit the skeleton."""
    import dataclasses

    project, reference = two_videos
    renamed = Skeleton.from_dict(project.skeleton.to_dict())
    renamed.nodes = ["nose", *renamed.nodes[1:]]
    person = dataclasses.replace(reference.select(slice(40, 42)), skeleton=renamed)
    guessed = dataclasses.replace(reference.select(slice(0, 0)), skeleton=renamed)
    project.set_video_labels(0, shown_labels(project, person, guessed), renamed)
    project.save()
    again = Project.open(project.root)
    assert again.skeleton.nodes[0] == "nose"
    assert again.video_poses(0).frames.tolist() == person.frames.tolist()
    assert again.video_poses(1) is None and again.video_poses(1, predicted=True) is None
