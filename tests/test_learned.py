"""Learned alignment: part choice, several animals' peaks, two stages trained from an
embedded-frame package with no video, the model folder, and prediction with the first stage.

The trained models here take a few steps only (their poses are rough); what is tested
does not depend on how well they were trained: the files, the geometry, that a reloaded
or moved folder predicts the same, and that no video is needed. The clip figures are
benchmarks/align_learned.py.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import CLIP, CLIP_LABELS, some_frames
from napari_leap.align.identity import wrap
from napari_leap.io.labels import skeleton_to_sleap
from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.confmaps import find_local_peaks, make_confmaps
from napari_leap.pose.first_stage import (
    FIRST_STAGE_DIR,
    LearnedAlignmentError,
    box_geometry,
    choose_parts,
    pair_parts,
)
from napari_leap.pose.first_stage.geometry import PART_PX

FRAMES = (0, 120, 240, 360, 480, 600, 720, 840)
STAGE2 = {"arch_params": {"filters": 4, "depth": 2, "max_filters": 16}, "batch_size": 4}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- which parts ----------------------------------------------------------------------------
def _instances(n=40, seed=0):
    """Synthetic animals: a rigid pair (p0, p1, 30 px apart, any heading) and a loose part."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(100, 400, (n, 2))
    turn = rng.uniform(-np.pi, np.pi, n)
    u = np.stack([np.cos(turn), np.sin(turn)], -1)
    p0 = centre + 5 * u  # near the middle
    p1 = centre + 35 * u  # 30 px further along the body
    loose = centre + rng.uniform(-40, 40, (n, 2))  # a limb anywhere
    return np.stack([loose, p0, p1], 1)


def test_parts_from_names():
    pts = np.zeros((1, 3, 2))
    fly = Skeleton(["head", "thorax", "abdomen", "wingL"])
    fly_pts = np.array([[[0, -38], [0, 0], [0, 33], [10, 20]]], float)
    p = choose_parts(fly, fly_pts)
    # the body-core part farthest from the head: twice the distance of the thorax
    assert (p.anchor, p.heading) == (2, 0) and "from their names" in p.reason
    mouse = Skeleton(["Snout", "earL", "earR", "Spine1", "TailBase"])
    mouse_pts = np.array([[[0, -40], [-8, -25], [8, -25], [0, -5], [0, 30]]], float)
    assert (choose_parts(mouse, mouse_pts).anchor, choose_parts(mouse, mouse_pts).heading) == (4, 0)
    # chosen by hand (Skeleton dock or --anchor/--heading-part) wins over the names
    p = choose_parts(fly, fly_pts, anchor="thorax", heading_part="head")
    assert (p.anchor, p.heading) == (1, 0) and "as chosen" in p.reason
    fly.anchor, fly.heading_part = "thorax", "wingL"
    assert (choose_parts(fly, fly_pts).anchor, choose_parts(fly, fly_pts).heading) == (1, 3)
    with pytest.raises(LearnedAlignmentError, match="not in the skeleton"):
        choose_parts(Skeleton(["a", "b"]), pts[:, :2], anchor="thorax")
    with pytest.raises(LearnedAlignmentError, match="both"):
        choose_parts(Skeleton(["a", "b"]), pts[:, :2], anchor="a", heading_part="a")


def test_parts_fall_back_to_the_most_rigid_pair():
    sk = Skeleton(["paw", "blob1", "blob2"])  # no telling names
    pts = _instances()
    p = choose_parts(sk, pts)
    # the rigid pair, anchored on the part nearer the animal's middle
    assert (p.anchor, p.heading) == (1, 2) and "steadiest" in p.reason
    # a pair labelled on few instances loses to one labelled on all
    pts[5:, 2] = np.nan
    assert {choose_parts(sk, pts).anchor, choose_parts(sk, pts).heading} != {1, 2}


def test_box_is_centred_on_the_animal_not_on_its_anchor():
    """A tail-base anchor and a snout heading part: the box centre sits mid-body."""
    sk = Skeleton(["snout", "tailbase", "paw"])
    rng = np.random.default_rng(1)
    n = 30
    c = rng.uniform(200, 300, (n, 2))
    turn = rng.uniform(-np.pi, np.pi, n)
    u = np.stack([np.cos(turn), np.sin(turn)], -1)
    pts = np.stack([c + 50 * u, c - 50 * u, c + 10 * u[:, ::-1]], 1)
    parts = choose_parts(sk, pts)
    offset, size = box_geometry(pts, parts)
    # in the head-up frame the snout is 100 px "up" from the tail base: the centre halfway
    np.testing.assert_allclose(offset, [0, -50], atol=3)
    assert 100 <= size <= 160 and size % 16 == 0


# -- several animals' peaks -------------------------------------------------------------------
def _detect(anchors, heads, n_animals, hw=(96, 128), stride=2, sigma=2.5):
    pts = np.stack([anchors, heads], 1)[None]  # (1, A, 2, 2)
    cm = make_confmaps(pts, hw[0] // stride, hw[1] // stride, stride, sigma)
    peaks, scores = find_local_peaks(cm, stride, 2 * n_animals + 2, radius=1)
    p, s = peaks[0].numpy(), scores[0].numpy()
    return pair_parts(p[0], s[0], p[1], s[1], 8.0, n_animals)


def test_peaks_of_several_animals_are_paired_by_their_distance():
    # three animals; animal 0's head lies nearer animal 1's anchor than animal 1's own head
    anchors = np.array([[20.0, 20.0], [33.0, 22.0], [90.0, 60.0]])
    heads = np.array([[28.0, 20.0], [33.0, 30.0], [84.0, 54.4]])
    centres, angles, scores = _detect(anchors, heads, 3)
    assert len(centres) == 3 and np.all(scores > 0.9)
    order = [int(np.argmin(np.linalg.norm(anchors - c, axis=1))) for c in centres]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(centres, anchors[order], atol=0.3)
    true = np.arctan2(*(heads - anchors)[order][:, ::-1].T)
    assert np.all(np.abs(np.degrees(wrap(angles - true))) < 3)


def test_pairing_finds_fewer_animals_and_lone_anchors():
    anchors = np.array([[20.0, 20.0], [80.0, 60.0]])
    heads = np.array([[28.0, 20.0], [80.0, 68.0]])
    centres, angles, _ = _detect(anchors, heads, 3)  # room for 3, 2 there
    assert len(centres) == 2 and np.isfinite(angles).all()
    # a heading part too far from every anchor is nobody's: the heading stays unknown
    centres, angles, _ = _detect(anchors[:1], np.array([[60.0, 60.0]]), 1)
    assert len(centres) == 1 and np.isnan(angles[0])


def test_a_first_stage_finds_the_animals_its_low_peaks_place():
    """A first stage trained a few minutes peaks low; its own held-out peaks set the bar."""
    from napari_leap.pose.first_stage.aligner import PEAK_THRESHOLD, calibrated_threshold

    assert calibrated_threshold([]) == PEAK_THRESHOLD
    assert calibrated_threshold([0.9] * 10) == PEAK_THRESHOLD  # never stricter than before
    threshold = calibrated_threshold([0.13] * 9 + [0.5])
    assert threshold == pytest.approx(0.065)
    anchors, heads = np.array([[20.0, 20.0]]), np.array([[28.0, 20.0]])
    low, head = np.array([0.13]), np.array([0.3])
    assert len(pair_parts(anchors, low, heads, head, 8.0, 1)[0]) == 0  # 0.2 refuses it
    centres, angles, _ = pair_parts(anchors, low, heads, head, 8.0, 1, threshold)
    assert len(centres) == 1 and np.isfinite(angles).all()


def test_an_anchor_without_a_heading_part_gives_way_to_an_animal():
    # a bright speck the first stage scores as an anchor (0.9), with no head beside it, and
    # a real animal whose anchor is weaker (0.5): one animal asked for, the animal found
    anchors, scores = np.array([[20.0, 20.0], [60.0, 60.0]]), np.array([0.9, 0.5])
    heads, head_scores = np.array([[60.0, 68.0]]), np.array([0.8])
    centres, angles, found = pair_parts(anchors, scores, heads, head_scores, 8.0, 1)
    np.testing.assert_allclose(centres, [[60.0, 60.0]])
    assert np.degrees(angles[0]) == pytest.approx(90.0) and found[0] == 0.5
    # both with a heading part: the stronger anchor, as before
    heads, head_scores = np.array([[60.0, 68.0], [28.0, 20.0]]), np.array([0.8, 0.8])
    centres, angles, _ = pair_parts(anchors, scores, heads, head_scores, 8.0, 1)
    np.testing.assert_allclose(centres, [[20.0, 20.0]])
    assert np.degrees(angles[0]) == pytest.approx(0.0)


def _walk(n=30):
    """Two animals walking towards each other along x and past (y 2 px apart), both facing
    their way; the detector lists the stronger first, which changes every frame."""
    t = np.arange(n)
    a = np.stack([10 + 2.0 * t, np.full(n, 50.0)], -1)
    b = np.stack([70 - 2.0 * t, np.full(n, 52.0)], -1)
    for i in range(n):
        centres, angles = np.stack([a[i], b[i]]), np.array([0.0, np.pi])
        order = [0, 1] if i % 2 else [1, 0]
        yield centres[order], angles[order], np.array([0.9, 0.8])


def test_tracker_keeps_identities_and_headings_through_a_crossing():
    from napari_leap.pose.first_stage import FLIP_AFTER, Tracker

    tracker = Tracker(2, length=16.0)
    out = [tracker.update(*frame) for frame in _walk()]
    xs = np.array([o[0][:, 0] for o in out])  # (frames, tracks)
    steps = np.diff(xs, axis=0)
    # each track keeps moving its own way through the crossing (never jumps to the other)
    assert np.all(np.sign(steps[:, 0]) == np.sign(steps[0, 0])) and np.all(np.abs(steps) < 3)
    # a head/tail confusion on one frame is turned back; the network insisting turns it
    c, ang, sc = next(_walk())
    flipped = np.array([a + np.pi for a in ang])
    tracker = Tracker(2, length=16.0)
    _, first, _, _ = tracker.update(c, ang, sc)
    _, once, _, _ = tracker.update(c, flipped, sc)
    np.testing.assert_allclose(np.abs(wrap(once - first)), 0, atol=1e-9)
    for _ in range(int(np.ceil(FLIP_AFTER / 0.8))):
        _, last, _, _ = tracker.update(c, flipped, sc)
    np.testing.assert_allclose(np.abs(wrap(last - first)), np.pi, atol=1e-9)
    # unrelated frames (a package's): every heading as found
    loose = Tracker(2, length=16.0, keep_heading=False)
    loose.update(c, ang, sc)
    np.testing.assert_allclose(np.abs(wrap(loose.update(c, flipped, sc)[1] - first)), np.pi)


def test_tracker_state_carries_the_tracks_to_another_tracker():
    """What a resumed one-pass prediction relies on: a tracker set to another's saved state
    goes on exactly as the other does, where a fresh one would not."""
    from napari_leap.pose.first_stage import Tracker

    frames = list(_walk())
    whole = Tracker(2, length=16.0)
    expected = [whole.update(*f)[0] for f in frames]
    first = Tracker(2, length=16.0)
    for f in frames[:12]:
        first.update(*f)
    second, fresh = Tracker(2, length=16.0), Tracker(2, length=16.0)
    second.set_state(first.state())
    got = [second.update(*f)[0] for f in frames[12:]]
    np.testing.assert_allclose(got, expected[12:])
    assert not np.allclose([fresh.update(*f)[0] for f in frames[13:]], expected[13:])


# -- two stages from a package with no video ------------------------------------------------
def _package(path: Path) -> Path:
    """A .pkg.slp of a few clip frames with both flies, frames embedded, no video reachable."""

    some_frames(CLIP_LABELS, FRAMES).save(str(path), embed="user", verbose=False)
    return path


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return _package(tmp_path_factory.mktemp("pkg") / "flies.pkg.slp")


def _run(gen):
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as done:
            return events, done.value


@pytest.fixture(scope="module")
def two_stage(package, tmp_path_factory):
    """The first stage trained long enough to find flies (40 epochs of crops: 8 found
    none on another machine's arithmetic), then
    ``train`` resumed on the folder: it keeps that stage and trains the pose stage."""
    from napari_leap.pose.dataset import load_training_data
    from napari_leap.pose.train import (
        Message,
        TrainConfig,
        TrainStarted,
        iter_train,
        iter_train_first_stage,
    )

    out = tmp_path_factory.mktemp("model") / "m"
    first, _ = _run(
        iter_train_first_stage(load_training_data(package), out, TrainConfig(epochs=40))
    )
    events, model = _run(
        iter_train(
            package,
            out,
            TrainConfig(resume=True, epochs=1, steps_per_epoch=2, device="cpu", **STAGE2),
        )
    )
    said = [e.text for e in events if isinstance(e, Message)]
    stages = [e.stage for e in first + events if isinstance(e, TrainStarted)]
    return out, model, said, stages


def test_package_without_video_trains_both_stages(two_stage):
    out, model, said, stages = two_stage
    # the images exist only in the package: the choice says so, and no video is scanned
    assert said[0].startswith("learned alignment (chosen, no video)")
    assert any("anchor abdomen, heading part head (from their names)" in t for t in said)
    assert any(t.startswith(("alignment stage on", "alignment stage found none")) for t in said)
    assert stages == ["alignment", "pose"]
    for name in ("config.json", "best.pt", "last.pt", "history.json"):
        assert (out / name).is_file() and (out / FIRST_STAGE_DIR / name).is_file()
    spec = json.loads((out / "config.json").read_text())["alignment"]
    assert spec["method"] == "learned" and spec["first_stage"] == FIRST_STAGE_DIR
    assert spec["n_animals"] == 2 and spec["frame_hw"] == [1024, 1024]
    assert spec["box_size"] % 16 == 0 and spec["anchor"] == "abdomen"
    assert 0 < spec["peak_threshold"] <= 0.2  # its own, from its held-out frames
    first = json.loads((out / FIRST_STAGE_DIR / "config.json").read_text())
    # it learns every body part (the whole fly's shape) and is read for two of them
    assert first["skeleton"]["nodes"] == spec["nodes"] == model.skeleton.nodes
    # trained on crops of the downscaled frames, it runs on whole ones
    assert first["input_size"][0] < spec["scaled_hw"][0]
    # anchor and heading part PART_PX apart, the side rounded to a multiple of 16
    assert spec["part_px"] == PART_PX and spec["scaled_hw"][0] % 16 == 0
    # the second stage was trained with the shift the first stage makes (none found: none)
    aug = json.loads((out / "config.json").read_text())["training"]["augment"]
    shift = spec["first_stage_errors"]["centre_p95_px"]
    assert aug["rotation"] >= 15 and aug["translate"] == (shift if np.isfinite(shift) else 0.0)
    assert model.alignment["method"] == "learned"


def test_predict_package_frames_with_the_first_stage(two_stage, package, tmp_path):
    from napari_leap.pose.predict import predict

    out, _, _, _ = two_stage
    result = predict(out, package, out=tmp_path / "p.slp", batch_size=4)
    poses = result.poses[0]
    assert poses.frames.tolist() == list(FRAMES)
    assert poses.points.shape == (len(FRAMES), 2, 13, 2)
    assert np.isfinite(poses.points).all()  # both flies found on every frame, every part
    import sleap_io as sio

    back = sio.load_slp(str(tmp_path / "p.slp"))
    assert sorted(lf.frame_idx for lf in back.labeled_frames) == list(FRAMES)


def test_predict_an_image_folder_with_the_first_stage(two_stage, tmp_path):
    """Frames as PNG files (how labelled-frame tools keep them): both stages, every frame."""
    import cv2

    from napari_leap.io.video import video_source
    from napari_leap.pose.predict import predict

    out, _, _, _ = two_stage
    src = video_source(CLIP)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"img{1200 + i}.png"), src.read(1200 + i)[..., 0])
    result = predict(out, folder, out=tmp_path / "f.slp")
    poses = result.poses[0]
    assert poses.frames.tolist() == list(range(6)) and np.isfinite(poses.points).all()
    # the table names each frame's image: frame 0 of the folder is img1200.png
    from napari_leap.pose.predict import read_csv, write_predictions

    table = write_predictions(result, tmp_path / "f.csv")
    rows = table.read_text().splitlines()
    assert rows[0] == "frame,image,animal,node,x,y,confidence"
    assert rows[1].startswith("0,img1200.png,") and rows[-1].startswith("5,img1205.png,")
    frames, _, _, pts, _ = read_csv(table)
    assert frames.tolist() == list(range(6)) and np.allclose(pts, poses.points, equal_nan=True)


def test_reloaded_and_moved_folder_predicts_the_same(two_stage, tmp_path):
    from napari_leap.pose import predict as P
    from napari_leap.pose.trained import TrainedModel

    out, model, _, _ = two_stage
    first = P.predict(model, CLIP, frames="1000:1006", out=tmp_path / "a.slp").poses[0]
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    again = P.predict(
        TrainedModel.load(moved, device="cpu"), CLIP, frames="1000:1006", out=tmp_path / "b.slp"
    ).poses[0]
    assert first.frames.tolist() == list(range(1000, 1006))
    assert np.isfinite(first.points).all()
    np.testing.assert_allclose(again.points, first.points, atol=1e-4)


def test_one_pass_equals_an_alignment_pass_then_the_pose_stage(two_stage, tmp_path):
    """A frame range predicted in one pass (each frame decoded once for both stages) gives
    what the learned Alignment of those frames, cut and posed afterwards, gives (the way a
    distributed prediction goes); a run stopped after its first chunk resumes with the
    same tracks."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.pose import predict as P
    from napari_leap.pose.predict.align import iter_alignments
    from test_predict import short_clip

    out, model, _, _ = two_stage
    video = short_clip(tmp_path / "clip.mkv", 30)  # every frame a keyframe: 8-frame chunks
    frames, kw = "4:28", {"chunk_size": 8, "batch_size": 8}
    events = list(P.iter_predict(out, video, frames=frames, out=tmp_path / "a.slp", **kw))
    assert {e.phase for e in events} == {"predict", "write"}  # no alignment pass first
    first = P.predict(out, video, frames=frames, out=tmp_path / "c.slp", **kw).poses[0]
    assert first.frames.tolist() == list(range(4, 28)) and np.isfinite(first.points).all()
    jobs, _ = P.jobs_from_inputs(str(video), frames)
    list(iter_alignments(jobs, model, None, 24, local=False))  # the pass, on its own
    al = jobs[0].alignment
    assert isinstance(al, Alignment) and al.options["method"] == "learned"
    assert al.n_frames == 24 and al.n_animals == 2 and np.isfinite(al.centers).all()
    two_pass = P.predict(out, jobs, out=tmp_path / "b.slp", **kw).poses[0]
    np.testing.assert_allclose(two_pass.points, first.points, atol=1e-3)
    # stop after the first chunk, then resume: the tracks go on where they were
    stop = threading.Event()
    for ev in P.iter_predict(out, video, frames=frames, out=tmp_path / "d.slp", stop=stop, **kw):
        if ev.phase == "predict":
            stop.set()
    assert len(list(P.partial_dir(tmp_path / "d.slp").glob("track_v0000_c*.npz"))) == 1
    resumed = P.predict(out, video, frames=frames, out=tmp_path / "d.slp", **kw)
    assert (resumed.reused_chunks, resumed.computed_chunks) == (1, 2)
    np.testing.assert_allclose(resumed.poses[0].points, first.points, atol=1e-3)


def test_merging_window_peaks_keeps_each_peak_once():
    from napari_leap.pose.first_stage.windows import merge_peaks

    # two overlapping windows both see the peaks at (20, 20) and (40, 20), a little apart;
    # one of them sees a third, and one a missing peak
    pts = np.array(
        [[[20.0, 20.0], [40.0, 20.0], [np.nan, np.nan], [20.2, 19.9], [40.1, 20.0], [70.0, 20.0]]]
    )
    sc = np.array([[0.9, 0.8, 0.0, 0.91, 0.7, 0.5]])
    merged, scores = merge_peaks(pts, sc, 3.0)
    assert np.isfinite(merged).all(-1)[0].tolist() == [False, True, False, True, False, True]
    assert scores[0].tolist() == [0.0, 0.8, 0.0, 0.91, 0.0, 0.5]


def test_windows_lie_inside_the_frame_and_are_used_where_they_pay():
    from napari_leap.pose.first_stage.windows import window_origins, window_side, windows_pay

    origins = window_origins(np.array([[5.0, 170.0], [88.0, 88.0]]), 64, (176, 176))
    assert origins.tolist() == [[0, 112], [56, 56]]
    assert window_side(22.0, 16) == 64  # the clip: a 22-px box in the 176-px frame
    assert windows_pay(64, (176, 176), 2)  # two windows, a quarter of the frame
    assert not windows_pay(64, (112, 112), 2) and not windows_pay(192, (176, 176), 1)


def test_windows_find_the_animals_whole_frames_find(two_stage):
    """On consecutive frames the first stage runs on windows round the tracks (a whole
    frame first, every WHOLE_EVERY frames and where windows miss an animal), finds the
    animals whole frames find, and the tracks do not depend on how frames are batched."""
    from napari_leap.io.video import video_source
    from napari_leap.pose.first_stage import LearnedAligner, Tracker, animal_length
    from napari_leap.pose.first_stage.windows import WHOLE_EVERY

    out, model, _, _ = two_stage
    spec = model.alignment
    aligner = LearnedAligner(spec, out, device="cpu")
    assert aligner.side > 0
    src = video_source(CLIP)
    frames = np.arange(1000, 1040)
    small = np.stack([aligner.prepare(src.read(int(i))) for i in frames])
    whole_frames = []
    detect = aligner.detect
    aligner.detect = lambda x: whole_frames.append(len(x)) or detect(x)

    def run(batch):
        tracker = Tracker(2, animal_length(spec))
        parts = [
            aligner.track(small[s : s + batch], frames[s : s + batch], tracker)
            for s in range(0, len(frames), batch)
        ]
        return [np.concatenate(p) for p in zip(*parts, strict=True)]

    windowed = run(32)
    # the first group of frames (no tracks before it) and frame 1024 whole, most on windows
    assert 9 <= sum(whole_frames) < len(frames) // 2, whole_frames
    np.testing.assert_allclose(run(5)[0], windowed[0])
    aligner.side = 0
    reference = run(40)
    assert windowed[2].all() and reference[2].all()  # both animals on every frame
    # as near the labelled anchors as whole frames (this model took a few steps only)
    err_windows, err_whole = (
        _anchor_error(a, frames, spec["anchor"]) for a in (windowed, reference)
    )
    near = 0.5 * spec["part_distance"]
    # a track this model put on a false peak waits for the windows to find the fly, or
    # for the next whole frame: on a Zen 3 CPU's arithmetic windows found the second fly 7
    # frames after whole frames did (65 against 70 of 80 animal-frames) ...
    assert np.mean(err_windows < near) >= np.mean(err_whole < near) - 0.1
    # ... and from the whole frame at the next multiple of WHOLE_EVERY on, they find every
    # animal whole frames find
    refreshed = frames >= WHOLE_EVERY * math.ceil(frames[0] / WHOLE_EVERY)
    assert ((err_windows < near) | (err_whole >= near))[refreshed].all()
    # where whole frames find a fly (a model of a few steps may put a track elsewhere:
    # on another machine's arithmetic one fly's track sat 480 px off in both)
    found = err_whole < near
    assert found.mean() >= 0.4
    assert np.median(err_windows[found]) <= np.median(err_whole[found]) + 2.0


def _anchor_error(tracked, frames, anchor: str) -> np.ndarray:
    """Per frame and track, the distance of the tracked anchor to the nearest labelled one."""
    import sleap_io as sio

    labels = sio.load_slp(str(CLIP_LABELS))
    k = labels.skeleton.node_names.index(anchor)
    by_frame = {lf.frame_idx: lf for lf in labels.labeled_frames}
    out = []
    for i, f in enumerate(frames):
        truth = np.array([inst.numpy()[k] for inst in by_frame[int(f)].instances])
        d = np.linalg.norm(tracked[0][i][:, None] - truth[None], axis=-1)
        out.append(np.nanmin(d, axis=1))
    return np.array(out)


def test_cli_learned_with_chosen_parts(package, tmp_path):
    out = tmp_path / "m"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "napari_leap.cli",
            "train",
            str(package),
            "--out",
            str(out),
            "--align",
            "learned",
            "--anchor",
            "thorax",
            "--heading-part",
            "head",
            "--epochs",
            "1",
            "--time-limit",
            "0.4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "learned alignment (as asked)" in r.stderr
    assert "anchor thorax, heading part head (as chosen)" in r.stderr
    assert "alignment stage," in r.stderr and "pose stage," in r.stderr
    assert json.loads((out / "config.json").read_text())["alignment"]["anchor"] == "thorax"


def test_cli_align_flags():
    from napari_leap.cli import build_parser

    def align(*flags):
        return build_parser().parse_args(["train", "x.slp", "--out", "m", *flags]).align

    assert align() is None
    assert align("--align") == "background"  # what a bare --align always meant
    assert align("--align", "learned") == "learned"
    assert align("--no-align") == "none"
    with pytest.raises(SystemExit):
        align("--align", "sideways")


def test_first_stage_pads_smaller_frames_and_refuses_larger(two_stage):
    from napari_leap.pose.first_stage import LearnedAligner

    out, model, _, _ = two_stage
    aligner = LearnedAligner(model.alignment, out, device="cpu")
    hw = tuple(model.alignment["scaled_hw"])
    assert aligner.prepare(np.zeros((1024, 1024, 1), np.uint8)).shape[:2] == hw
    assert aligner.prepare(np.zeros((384, 384, 1), np.uint8)).shape[:2] == hw  # padded
    with pytest.raises(LearnedAlignmentError, match="at most 1024x1024 px"):
        aligner.prepare(np.zeros((1100, 1024, 1), np.uint8))


def test_background_alignment_needs_the_video(package, tmp_path):
    from napari_leap.pose.dataset import DataOptions, TrainingDataError, load_training_data

    with pytest.raises(TrainingDataError, match="--align learned"):
        load_training_data(package, DataOptions(align="background"))


def _image_labels(tmp_path: Path, sizes, points) -> object:
    """Labels on PNG frames (no video, as DeepLabCut keeps them), one video per size."""
    import cv2
    import sleap_io as sio

    sk = skeleton_to_sleap(Skeleton(["head", "thorax", "tail"]))
    frames, videos = [], []
    for v, (w, h) in enumerate(sizes):
        files = []
        for i in range(len(points)):
            f = tmp_path / f"v{v}_img{i}.png"
            cv2.imwrite(str(f), np.full((h, w), 40 + 20 * i, np.uint8))
            files.append(str(f))
        video = sio.Video.from_filename(files)
        videos.append(video)
        frames += [
            sio.LabeledFrame(video, i, [sio.Instance.from_numpy(np.asarray(p, float), sk)])
            for i, p in enumerate(points)
        ]
    return sio.Labels(labeled_frames=frames, videos=videos, skeletons=[sk])


def test_learned_alignment_refuses_labels_that_span_the_frame(tmp_path):
    from napari_leap.pose.dataset import DataOptions, from_labels

    span = [[[10, 10], [40, 40], [90, 70]], [[90, 10], [50, 40], [10, 70]]]  # 100x80 frames
    with pytest.raises(LearnedAlignmentError, match="would gain nothing; train with --align none"):
        from_labels(_image_labels(tmp_path, [(100, 80)], span), DataOptions(align="learned"))
    said = []  # left to itself, train takes full frames for these
    data = from_labels(_image_labels(tmp_path, [(100, 80)], span), say=said.append)
    assert data.alignment is None and said[0].startswith("full frames")


def test_one_animal_well_inside_its_frames_gets_learned_boxes(tmp_path):
    """Left to itself, train cuts learned boxes for one animal whose box is well inside the
    frame (fly32's flies pasted into 400x360 frames: 2.34 px against 6.84 on full frames)."""
    from napari_leap.pose.dataset import from_labels

    # 60 px animals (head, thorax, tail) facing two ways in 200x160 frames: an 80 px box
    line = [[[70, 80], [100, 80], [130, 80]], [[100, 50], [100, 80], [100, 110]]]
    said = []
    data = from_labels(_image_labels(tmp_path, [(200, 160)], line), say=said.append)
    assert data.alignment["method"] == "learned" and data.alignment["n_animals"] == 1
    assert said[0].startswith("learned alignment (chosen, the animal's box is well inside")


def test_learned_alignment_pads_frames_of_several_sizes(tmp_path):
    from napari_leap.pose.dataset import DataOptions, from_labels

    small = [[[30, 30], [36, 30], [42, 30]], [[60, 60], [60, 66], [60, 72]]]
    labels = _image_labels(tmp_path, [(320, 240), (400, 300)], small)
    said = []
    data = from_labels(labels, DataOptions(align="learned"), say=said.append)
    assert data.alignment["frame_hw"] == [300, 400]  # the largest
    assert len({im.shape for im in data.first_stage.images}) == 1
    assert any("2 sizes (320x240, 400x300)" in m for m in said)


MIXED = [(64, 48), (100, 80)] * 2  # the first image the smaller


def _image_list_labels(tmp_path, sizes, points_of):
    """Labels of one animal on a list of images of these (w, h), frame i's points ``points_of(i)``."""
    import cv2
    import sleap_io as sio

    sk = skeleton_to_sleap(Skeleton(["hand", "finger", "tongue"]))
    files = []
    for i, (w, h) in enumerate(sizes):
        f = tmp_path / f"img{i:03d}.png"
        cv2.imwrite(str(f), np.full((h, w), 50 + 30 * i, np.uint8))
        files.append(str(f))
    video = sio.Video.from_filename(files)
    frames = [
        sio.LabeledFrame(video, i, [sio.Instance.from_numpy(points_of(i), sk)])
        for i in range(len(files))
    ]
    return sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk])


def test_full_frames_of_several_sizes_in_one_image_list_are_padded(tmp_path):
    """DeepLabCut's labeled-data folders mix image sizes in one 'video' (reaching: 832x747 and
    640x470); full-frame training pads them (bottom, right) and points stay where they were."""
    from napari_leap.pose.dataset import DataOptions, from_labels
    from napari_leap.pose.fit import input_warnings

    pts = np.array([[10, 10], [40, 30], [60, 40]], float)
    labels = _image_list_labels(tmp_path, [(100, 80), (64, 48)] * 2, lambda i: pts / (1 + i % 2))
    data = from_labels(labels, DataOptions(align="none"))
    assert data.images.shape[1:3] == (80, 100)
    assert data.frame_sizes == [(48, 64), (80, 100)]
    assert (data.images[1, 48:] == 0).all() and (data.images[1, :48, :64] == 80).all()
    np.testing.assert_allclose(data.points[1], pts / 2)
    config = {"channels": 1, "input_size": [80, 100], "fit": {"frame_sizes": data.frame_sizes}}
    assert input_warnings(config, [(48, 64, 1), (80, 100, 1)]) == []


def test_points_are_checked_against_their_own_frame_whichever_image_comes_first(tmp_path):
    """A video of images reports its first image's size: reaching's frames exported with a
    640x470 image first were refused ("40 points outside the 640x470 frame") though every
    label lay on its own 832x747 image. Each label is checked against its own image, an
    embedded-frame .pkg.slp the same, and the choice of alignment sees the largest frame."""
    import sleap_io as sio

    from napari_leap.pose.dataset import TrainingDataError, from_labels

    big = np.array([[10, 10], [90, 70], [60, 40]], float)  # beyond the 64x48 images
    labels = _image_list_labels(tmp_path, MIXED, lambda i: big if i % 2 else big / 2)
    package = tmp_path / "mixed.pkg.slp"
    labels.save(str(package), embed="user")
    for source in (labels, sio.load_slp(str(package))):
        said = []
        data = from_labels(source, say=said.append)
        assert data.images.shape[1:3] == (80, 100)
        assert said[0].startswith("full frames") and "in 100x80 frames" in said[0]
        np.testing.assert_allclose(data.points[1], big)

    def slip(i):  # the finger clicked past the right edge of a 64x48 image
        return np.array([[10, 10], [70, 20], [30, 20]], float) if i == 2 else big / 2

    with pytest.raises(TrainingDataError, match=r"finger of .* on image img002\.png \(64x48 px\)"):
        from_labels(_image_list_labels(tmp_path, MIXED, slip))


def test_predict_skips_the_frames_a_package_does_not_embed(tmp_path):
    """A package embeds only frames with a person's instances: a frame labelled empty (a
    negative example) has no image, and predict stopped with "Frame index 1 out of range"."""
    import sleap_io as sio

    from napari_leap.pose.predict.jobs import jobs_from_inputs

    labels = _image_list_labels(
        tmp_path, MIXED, lambda i: np.array([[10, 10], [20, 20], [30, 20]], float)
    )
    labels.labeled_frames[1].instances = []
    package = tmp_path / "with_empty.pkg.slp"
    labels.save(str(package), embed="user")
    assert len(sio.load_slp(str(package)).labeled_frames) == 4
    (job,) = jobs_from_inputs(package)[0]
    assert job.frames.tolist() == [0, 2, 3]
    assert job.source.read(3).shape[:2] == (80, 100)


def test_16_bit_images_are_what_predict_sees(tmp_path):
    """16-bit frames (a scientific camera's) read through sleap-io trained almost white (clipped
    at 255) while predict took their top byte, and a package's frames wrapped round at 256:
    train and predict now see the same 8-bit frames, whatever holds them."""
    import cv2
    import sleap_io as sio

    from napari_leap.pose.dataset import DataOptions, from_labels
    from napari_leap.pose.predict.jobs import jobs_from_inputs

    rng = np.random.default_rng(0)
    sk = sio.Skeleton(["snout", "tailbase"])
    files = []
    for i in range(3):
        image = rng.integers(0, 4000, (60, 80), dtype=np.uint16)
        image[25:35, 20:50] = 60000  # a bright animal on a dim 12-bit background
        files.append(str(tmp_path / f"img{i}.png"))
        cv2.imwrite(files[-1], image)
    video = sio.Video.from_filename(files)
    instance = sio.Instance.from_numpy(np.array([[48.0, 30], [22, 30]]), sk)
    labels = sio.Labels([sio.LabeledFrame(video, i, [instance]) for i in range(3)])
    labels.save(str(tmp_path / "u16.slp"))
    labels.save(str(tmp_path / "u16.pkg.slp"), embed="user")
    for path in (tmp_path / "u16.slp", tmp_path / "u16.pkg.slp"):
        data = from_labels(sio.load_slp(str(path)), DataOptions(align="none"))
        (job,) = jobs_from_inputs(path)[0]
        for i in range(3):
            np.testing.assert_array_equal(data.images[i], job.source.read(i))
        assert data.images[0, 30, 30, 0] == 234 and data.images[0, :20].mean() < 16
