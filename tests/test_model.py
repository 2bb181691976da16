"""The plain-data model and the io helpers shared across the package (no Qt, no napari)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import (
    LabelsError,
    labels_format,
    labels_from_poses,
    load_labels,
    poses_from_labels,
    save_labels,
    video_index,
)
from napari_leap.io.video import ArrayReader, PyAVSource, frame_reader, open_video, same_video
from napari_leap.model.poses import Poses, default_tracks
from napari_leap.model.skeleton import Skeleton, retarget


def test_default_track_names_are_spelled_once():
    assert default_tracks(3) == ["animal0", "animal1", "animal2"]
    assert default_tracks(2, start=1) == ["animal1", "animal2"]
    assert default_tracks(0) == []


def test_poses_move_to_another_skeleton_by_part_name():
    source = Skeleton(["head", "thorax", "tail"])
    target = Skeleton(["tail", "wing", "head"])
    points = np.arange(2 * 1 * 3 * 2, dtype=float).reshape(2, 1, 3, 2)
    scores = np.arange(2 * 1 * 3, dtype=float).reshape(2, 1, 3)
    poses = Poses(np.array([4, 9]), points, scores, ["a"], source)
    moved = poses.on_skeleton(target)
    assert moved.skeleton is target and moved.tracks == ["a"]
    np.testing.assert_array_equal(moved.frames, [4, 9])
    np.testing.assert_array_equal(moved.points[:, :, 0], points[:, :, 2])  # tail
    np.testing.assert_array_equal(moved.points[:, :, 2], points[:, :, 0])  # head
    assert np.isnan(moved.points[:, :, 1]).all() and np.isnan(moved.scores[:, :, 1]).all()
    np.testing.assert_array_equal(moved.scores[:, :, 0], scores[:, :, 2])
    np.testing.assert_array_equal(retarget(points, source, source), points)


def test_same_video_and_video_index_see_through_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(CLIP.parent)
    assert same_video(CLIP.name, CLIP)
    assert not same_video(CLIP_LABELS, CLIP)
    labels = load_labels(CLIP_LABELS)
    stored = labels.videos[0].filename
    assert video_index(labels, os.path.relpath(stored)) == 0
    assert video_index(labels, tmp_path / "other.mp4") is None


def test_one_reader_picks_the_format_by_content_or_argument(tmp_path):
    poses = poses_from_labels(load_labels(CLIP_LABELS)).select(slice(0, 5))
    labels = labels_from_poses(poses, [str(CLIP)], predicted=False)
    folder = save_labels(labels, tmp_path / "dlc", format="dlc", images=False)
    csv = next(folder.glob("labeled-data/*/CollectedData_*.csv"))
    assert labels_format(csv) == "dlc" and labels_format(CLIP_LABELS) is None
    back = poses_from_labels(load_labels(csv))
    np.testing.assert_allclose(back.points, poses.points)
    np.testing.assert_array_equal(back.frames, poses.frames)
    with pytest.raises(LabelsError):
        load_labels(CLIP_LABELS, format="dlc")  # an .slp read as DLC is refused in one sentence
    with pytest.raises(LabelsError, match="format='dlc'"):
        save_labels(labels, tmp_path / "labels.txt")


def test_one_frame_reader_for_paths_sources_and_arrays():
    reader, path = frame_reader(CLIP)
    assert isinstance(reader, PyAVSource) and path == CLIP
    assert frame_reader(reader) == (reader, CLIP)
    video = open_video(CLIP)
    assert frame_reader(video)[0] is not None and frame_reader(video)[1] == CLIP
    if video.shape[-1] == 1:  # a grey layer drops the channel axis: same source, same frames
        assert frame_reader(video[..., 0])[1] == CLIP
    floats = np.linspace(0, 1, 3 * 4 * 5).reshape(3, 4, 5).astype(np.float32)
    array_reader, none = frame_reader(floats)
    assert isinstance(array_reader, ArrayReader) and none is None
    assert array_reader.shape == (3, 4, 5, 1)
    frame = array_reader.read(2)
    assert frame.dtype == np.uint8 and frame.shape == (4, 5, 1) and frame.max() == 255
