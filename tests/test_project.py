"""The project folder: save/reopen round trip, atomic saves, read-only folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    skeleton_from_sleap,
)
from napari_leap.io.project import MANIFEST, Project, ProjectError
from napari_leap.model.skeleton import Skeleton


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def project(tmp_path) -> Project:
    labels = load_labels(CLIP_LABELS)
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    skeleton.symmetries = [(skeleton.index("wingL"), skeleton.index("wingR"))]
    project = Project.create(tmp_path / "flies", skeleton, videos=[CLIP], settings={"sigma": 5})
    poses = poses_from_labels(labels).select(slice(0, 40))
    project.labels = labels_from_poses(poses, project.sleap_video(0), predicted=False)
    project.save()
    return project


def test_round_trip_restores_everything(project):
    again = Project.open(project.root)
    assert again.skeleton == project.skeleton
    assert again.skeleton.symmetry_names == [("wingL", "wingR")]
    assert again.videos == project.videos
    assert again.video_path(0) == CLIP.resolve()
    assert again.settings == {"sigma": 5}
    before = poses_from_labels(project.labels)
    after = poses_from_labels(again.labels)
    np.testing.assert_array_equal(after.frames, before.frames)
    np.testing.assert_allclose(after.points, before.points, atol=1e-6)
    assert after.tracks == ["female", "male"]
    manifest = (project.root / MANIFEST).read_text()
    assert "wingL" in manifest and "clip.mp4" in manifest  # human-readable


def test_interrupted_save_leaves_the_old_project_intact(project, monkeypatch):
    before = tree_hash(project.root)
    project.settings["sigma"] = 3
    project.labels.labeled_frames.pop()

    import sleap_io

    def crash(labels, filename, *args, **kwargs):
        Path(filename).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sleap_io, "save_file", crash)
    with pytest.raises(OSError, match="No space"):
        project.save()
    assert tree_hash(project.root) == before
    assert not [p for p in project.root.iterdir() if p.name.endswith(".tmp")]
    assert Project.open(project.root).settings == {"sigma": 5}


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_is_reported(project):
    os.chmod(project.root, 0o555)
    try:
        with pytest.raises(PermissionError, match="read-only"):
            project.save()
    finally:
        os.chmod(project.root, 0o755)


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Project.open(tmp_path / "nope")
    with pytest.raises(ProjectError, match="not a napari-leap project"):
        Project.open(tmp_path)
    (tmp_path / MANIFEST).write_text("skeleton: [unclosed")
    with pytest.raises(ProjectError, match="damaged"):
        Project.open(tmp_path)


def test_moved_project_finds_videos_inside_it(tmp_path):
    import shutil

    root = tmp_path / "p"
    root.mkdir()
    shutil.copy(CLIP, root / "clip.mp4")
    project = Project.create(root, Skeleton(["a", "b"], [("a", "b")]), videos=[root / "clip.mp4"])
    assert project.videos == ["clip.mp4"]
    moved = shutil.move(str(root), str(tmp_path / "moved"))
    assert Project.open(moved).video_path(0) == (Path(moved) / "clip.mp4").resolve()


def test_a_model_recorded_elsewhere_survives_a_save_and_is_the_newest(project):
    """The Label dock keeps its Project open while the Train dock records a model: the dock's
    next save must not drop it, and the newest finished model is the one to predict with."""
    import time

    def finished_model(name: str) -> Path:
        folder = project.models_dir / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        return folder

    old = finished_model("old")
    project.add_model(old)
    project.save()
    assert project.newest_model() == old.resolve()
    time.sleep(0.05)  # a later mtime
    other = Project.open(project.root)  # e.g. the Train dock, when its run finishes
    new = finished_model("new")
    other.add_model(new)
    other.save()
    unfinished = project.models_dir / "running"  # no config.json yet: not a model to use
    unfinished.mkdir()
    other.add_model(unfinished)
    other.save()
    assert project.newest_model() == new.resolve()
    project.save()  # the first holder saves with its stale list
    assert Project.open(project.root).models == ["models/old", "models/new", "models/running"]
