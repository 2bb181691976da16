"""A labelled point far from its animal's other parts (a slip) is left out of training and named."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import sleap_io as sio

import napari_leap
from conftest import some_frames
from napari_leap.io.labels import load_labels
from napari_leap.pose.dataset import from_labels, stray_points

SAMPLE = Path(napari_leap.__file__).parent / "sample_data"
CLIP_LABELS = SAMPLE / "flies13" / "clip.slp"
FLY32 = SAMPLE / "fly32" / "example_annotation_set.h5"
LEAP_MAT = SAMPLE / "leap_mat" / "labels.mat"


def _clip_training_frames():
    """The benchmark's 50 training frames of the clip (as ``napari-leap demo`` picks them)."""
    return some_frames(load_labels(CLIP_LABELS), np.linspace(0, 999, 50).round().astype(int))


def _slip(labels):
    """Frame 510's female head clicked on the male's thorax; returns ``labels``."""
    names = labels.skeletons[0].node_names
    lf = next(f for f in labels.labeled_frames if f.frame_idx == 510)
    female, male = sorted(lf.instances, key=lambda i: i.track.name)
    female.points["xy"][names.index("head")] = male.numpy()[names.index("thorax")]
    return labels


def _points(labels) -> np.ndarray:
    """(frames, 2 flies, K, 2), female first."""
    return np.array(
        [[i.numpy() for i in sorted(lf.instances, key=lambda i: i.track.name)] for lf in labels]
    )


def test_a_head_clicked_on_the_other_fly_is_left_out_and_the_boxes_keep_their_size():
    from napari_leap.align.alignment import align

    labels = _clip_training_frames()
    # one scan of the video for both (the boxes' size is the labels' choice, not the scan's)
    scanned = {0: align(SAMPLE / "flies13" / "clip.mp4", 2, 96)}
    clean = from_labels(labels, alignments=scanned)
    data = from_labels(_slip(labels), alignments=scanned)

    assert clean.warnings == [] and clean.alignment["box_size"] == 144

    assert len(data.warnings) == 1
    assert "left out 1 labelled point" in data.warnings[0]
    assert "head of female on frame 510" in data.warnings[0]
    # one slip no longer sizes every box (it made them 224 px)
    assert data.alignment["box_size"] == 144
    k = data.skeleton.index("head")
    heads = data.points[:, k]
    missing = ~np.isfinite(heads).all(-1)
    assert missing.sum() == 1 and data.groups[missing][0] % 10**9 == 510


def test_clean_labels_lose_nothing_and_most_wrong_animal_clicks_are_found():
    clip = _points(load_labels(CLIP_LABELS))  # 1500 frames, both flies
    fly32 = h5py.File(FLY32, "r")["annotations"][:].astype(float)
    cat = np.array([i.numpy() for lf in sio.load_leap(str(LEAP_MAT)) for i in lf.instances])
    for points in (clip, fly32, cat):
        assert not stray_points(points).mask.any()

    train = _points(_clip_training_frames())
    rng = np.random.default_rng(0)
    found, false = 0, 0
    for _ in range(40):
        slipped = train.copy()
        f, a, k, j = rng.integers(len(train)), rng.integers(2), rng.integers(13), rng.integers(13)
        slipped[f, a, k] = train[f, 1 - a, j]  # a part clicked on the other fly
        mask = stray_points(slipped).mask
        found += int(mask[f, a, k])
        false += int(mask.sum() - mask[f, a, k])
    assert false == 0 and found >= 24, (found, false)  # 29 of 40 when written


def test_few_animals_or_parts_judge_nothing():
    fly32 = h5py.File(FLY32, "r")["annotations"][:].astype(float)
    few = fly32[:9].copy()
    few[0, 0] = [0.0, 0.0]
    assert not stray_points(few).mask.any()  # too few animals to know what is usual
    two_parts = fly32[:, :2].copy()
    two_parts[0, 0] += 150
    assert not stray_points(two_parts).mask.any()  # which of two parts slipped is unknowable
    many = fly32.copy()
    many[3, 5] = many[3, 5] + [150.0, 0.0]
    strays = stray_points(many)
    assert np.argwhere(strays.mask).tolist() == [[3, 5]] and strays.offset_px[3, 5] > 50


def _slipped_boxes(folder: Path) -> Path:
    """fly32's box file with box 7's head clicked far off the fly."""
    with h5py.File(FLY32, "r") as f:
        images, points = f["images"][:], f["annotations"][:]
    points[7, 0] += [120.0, 0.0]
    with h5py.File(folder / "boxes.h5", "w") as f:
        f["images"], f["annotations"] = images, points
    (folder / "skeleton.csv").write_bytes((FLY32.parent / "skeleton.csv").read_bytes())
    return folder / "boxes.h5"


def test_a_box_file_slip_is_left_out_too(tmp_path):
    from napari_leap.pose.dataset import load_training_data

    data = load_training_data(_slipped_boxes(tmp_path))
    assert data.warnings and "head on box 7" in data.warnings[0]
    assert np.isnan(data.points[7, 0]).all() and np.isfinite(data.points[7, 1:]).all()
    assert load_training_data(FLY32).warnings == []
