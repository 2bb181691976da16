"""Regression tests for the core and command-line items of issue #13 (a new user's defects).

Items 1 and 3 need a model whose training alignment saw the whole bundled clip:
the flies sit still early in it, so a background sampled from the first frames
alone holds the flies and finds none. ``clip_model`` is trained for two steps on
30 labelled frames spread over the clip; its poses are rough, which does not
matter: what is compared is that a frame range, a short cut of the video and a
killed-then-resumed run give the whole-video run's points (same boxes, same model).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sleap_io as sio

import napari_leap
from conftest import CLIP, CLIP_LABELS, write_video
from napari_leap.errors import LeapError
from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    save_labels,
    skeleton_from_sleap,
)
from napari_leap.pose import predict as P
from test_align import circle_track, make_video

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
TINY = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "batch_size": 4,
    "arch_params": {"filters": 8, "max_filters": 32},
}


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "napari_leap.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def refused(done: subprocess.CompletedProcess, fragment: str) -> str:
    """The one error line of a command that exited 2 without a traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1 and fragment in lines[0], done.stderr
    return lines[0]


def assert_same_poses(got, want, frames) -> None:
    """Points of ``got`` equal the whole-video run's on ``frames`` within 0.5 px, none missing."""
    np.testing.assert_array_equal(got.frames, frames)
    assert np.isfinite(got.points).all()
    np.testing.assert_allclose(got.points, want.points[frames], atol=0.5)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clip_model(tmp_path_factory) -> Path:
    from napari_leap.pose.train import TrainConfig, train

    root = tmp_path_factory.mktemp("clip_model")
    poses = poses_from_labels(load_labels(CLIP_LABELS)).select(slice(0, 1500, 50))
    labels = save_labels(labels_from_poses(poses, [str(CLIP)], predicted=False), root / "l.slp")
    train(labels, root / "model", TrainConfig(box_size=128, **TINY))
    return root / "model"


@pytest.fixture(scope="session")
def whole_clip(clip_model):
    """The uninterrupted prediction of every frame of the clip."""
    return P.predict(clip_model, CLIP, batch_size=32).poses[0]


@pytest.fixture(scope="session")
def first300(tmp_path_factory) -> Path:
    """The clip's first 300 frames as their own file: lossless H.264 (crf 0), a keyframe
    every 16 frames so chunks are short."""
    from napari_leap.io.video import video_source

    src = video_source(CLIP)
    frames = np.stack([src.read(i) for i in range(300)])
    path = tmp_path_factory.mktemp("cut") / "first300.mp4"
    write_video(path, frames, options={"crf": "0", "g": "16", "bf": "0"})
    back = video_source(path)
    assert all(np.array_equal(back.read(i), frames[i]) for i in (0, 150, 299))
    return path


# -- item 1: frame ranges and short videos -----------------------------------------------------


def test_frame_range_predicts_the_whole_videos_points(clip_model, whole_clip, tmp_path):
    """`--frames 0:50` used to write a file with 0 labelled frames and report success."""
    out = tmp_path / "p.slp"
    result = P.predict(clip_model, CLIP, frames="0:50", out=out)
    assert_same_poses(result.poses[0], whole_clip, np.arange(50))
    assert result.frames_without_animals == 0
    assert len(sio.load_slp(str(out)).labeled_frames) == 50
    assert (clip_model / "alignment_background.png").is_file()


def test_model_without_saved_background_samples_the_whole_video(clip_model, whole_clip, tmp_path):
    """A model folder from before the background was saved: the range's alignment is set up
    on frames sampled over the whole video, not on the 50 frames asked for."""
    old = tmp_path / "old_model"
    shutil.copytree(clip_model, old)
    (old / "alignment_background.png").unlink(missing_ok=True)
    config = json.loads((old / "config.json").read_text())
    for key in ("background", "animal_length"):
        config["alignment"].pop(key, None)
    (old / "config.json").write_text(json.dumps(config))
    result = P.predict(old, CLIP, frames="0:50")
    assert_same_poses(result.poses[0], whole_clip, np.arange(50))


def test_first_300_frames_as_their_own_video(clip_model, whole_clip, first300):
    """Their own background holds the still flies; the model's saved one finds them."""
    result = P.predict(clip_model, first300)
    assert_same_poses(result.poses[0], whole_clip, np.arange(300))


def test_saved_background_is_used_only_for_the_same_scene():
    from napari_leap.align.detect import background_agrees

    saved = np.full((200, 200), 20, np.uint8)
    still = saved.copy()
    still[50:70, 50:60] = still[120:140, 100:110] = 120  # two animals that never moved
    assert background_agrees(saved, still, threshold=40, n_animals=2, animal_length=20)
    other = saved.copy()
    other[:60, :60] = 200  # something else in view: another arena or camera
    assert not background_agrees(saved, other, threshold=40, n_animals=2, animal_length=20)
    assert not background_agrees(saved, saved[:100], threshold=40, n_animals=2, animal_length=20)


def _project_with_alignment(root: Path, lost: slice) -> Path:
    """A project on the clip whose alignment (from the labels' thorax and head) has no
    animal on the frames ``lost``."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.io.project import Project

    labels = load_labels(CLIP_LABELS)
    poses = poses_from_labels(labels)
    assert len(poses.frames) == 1500
    nodes = list(poses.skeleton.nodes)
    head, thorax = (poses.points[:, :, nodes.index(n)] for n in ("head", "thorax"))
    centers = thorax.copy()
    centers[lost] = np.nan
    angles = np.arctan2(head[..., 1] - thorax[..., 1], head[..., 0] - thorax[..., 0])
    project = Project.create(root, skeleton_from_sleap(labels.skeletons[0]), videos=[CLIP])
    Alignment(centers, angles, 128, video=CLIP).save(project.alignment_path(0))
    project.save()
    return root


def test_frames_without_animals_are_counted_and_an_empty_result_refused(clip_model, tmp_path):
    part = _project_with_alignment(tmp_path / "part", slice(0, 10))
    out = tmp_path / "part.slp"
    done = cli("predict", clip_model, part, "--frames", "0:50", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "no animal was found on 10 of the 50 frames" in done.stderr
    assert len(sio.load_slp(str(out)).labeled_frames) == 40

    none = _project_with_alignment(tmp_path / "none", slice(None))
    out = tmp_path / "none.slp"
    done = cli("predict", clip_model, none, "--frames", "0:50", "--out", out)
    refused(done, "no animal was found on any of the 50 predicted frames")
    assert not out.exists() and not P.partial_dir(out).exists()


# -- item 3: two runs on one output, and a killed run -----------------------------------------


def test_second_run_on_the_same_output_is_refused_while_the_first_writes(clip_model, tmp_path):
    out = tmp_path / "same.slp"
    first = P.iter_predict(clip_model, CLIP, frames="0:50", out=out)
    next(first)  # running: aligning the range, the output locked
    done = cli("predict", clip_model, CLIP, "--frames", "0:50", "--out", out)
    refused(done, f"another prediction is writing {out} now")
    with pytest.raises(StopIteration) as fin:
        while True:
            next(first)
    assert fin.value.value.path == out and len(sio.load_slp(str(out)).labeled_frames) == 50
    assert not P.partial_dir(out).exists()
    assert not out.with_name(out.name + ".partial.lock").exists()


def test_killed_run_resumes_to_the_uninterrupted_result(clip_model, whole_clip, first300, tmp_path):
    out = tmp_path / "k.slp"
    args = [sys.executable, "-m", "napari_leap.cli", "predict", clip_model, first300]
    args += ["--out", out, "--chunk-size", "16", "--batch-size", "8"]
    proc = subprocess.Popen(list(map(str, args)), env=ENV, stdout=subprocess.DEVNULL)
    partial = P.partial_dir(out)
    deadline = time.monotonic() + 240
    while len(list(partial.glob("v*.npz"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = len(list(partial.glob("v*.npz")))
    assert out.with_name(out.name + ".partial.lock").exists()  # the killed run's, unlocked
    done = cli(*args[3:])
    assert done.returncode == 0, done.stderr
    assert f"{kept} resumed" in done.stdout
    got = poses_from_labels(load_labels(out))
    assert_same_poses(got, whole_clip, np.arange(300))


# -- item 5: more animals asked for than there are ---------------------------------------------


def test_align_refuses_when_far_fewer_animals_are_found(tmp_path):
    tracks = [circle_track(60, 80, 30, 0.08), circle_track(140, 80, 30, 0.06, phase=2.0)]
    frames, _, _ = make_video(tracks, 40)
    video = write_video(tmp_path / "two.mp4", frames)
    done = cli("align", video, "--animals", "5", "--out", tmp_path / "al", "-q")
    refused(done, "only 2 of the 5 animals asked for were found on any frame")
    assert not (tmp_path / "al").exists()
    assert cli("align", video, "--animals", "2", "--out", tmp_path / "ok", "-q").returncode == 0


# -- items 6, 7, 8: train checks its inputs first, in one sentence ----------------------------


def clip_cut(path: Path, start: int = 700, n: int = 60) -> Path:
    """Frames ``start`` to ``start + n`` of the clip, losslessly (FFV1): the flies walk there,
    so the cut's own background and size measurements work."""
    import av

    from napari_leap.io.video import video_source

    src = video_source(CLIP)
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = src.shape[2], src.shape[1], "gray"
        for i in range(start, start + n):
            for pkt in s.encode(av.VideoFrame.from_ndarray(src.read(i)[..., 0], format="gray")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _cut_labels(root: Path, frames, *, video=None, nodes=None, names=None, start: int = 700):
    """The clip's labels of cut frames ``frames`` on :func:`clip_cut` (or ``video``), with the
    body parts ``nodes`` only and, optionally, renamed to ``names``."""
    video = video or clip_cut(root / "cut.mkv", start)
    labels = sio.load_slp(str(CLIP_LABELS))
    all_names = [n.name for n in labels.skeletons[0].nodes]
    keep = list(range(len(all_names))) if nodes is None else list(nodes)
    skeleton = sio.Skeleton(names or [all_names[i] for i in keep])
    v = sio.Video.from_filename(str(video))
    wanted = {start + int(f) for f in frames}
    frames_out = [
        sio.LabeledFrame(
            video=v,
            frame_idx=lf.frame_idx - start,
            instances=[
                sio.Instance.from_numpy(inst.numpy()[keep], skeleton=skeleton)
                for inst in lf.instances
            ],
        )
        for lf in labels.labeled_frames
        if lf.frame_idx in wanted
    ]
    return sio.Labels(labeled_frames=frames_out, videos=[v], skeletons=[skeleton])


@pytest.fixture
def no_alignment(monkeypatch):
    """Fail the test if the video is aligned: the inputs must be refused before that pass."""
    import napari_leap.align.alignment as alignment

    def fail(*args, **kwargs):
        raise AssertionError("the alignment pass ran before the inputs were checked")

    monkeypatch.setattr(alignment, "iter_align", fail)


def test_one_labelled_frame_trains(tmp_path):
    """Used to say "there are no labelled frames" after the alignment pass."""
    from napari_leap.pose.train import TrainConfig, train

    _cut_labels(tmp_path, [5]).save(str(tmp_path / "one.slp"))
    model = train(tmp_path / "one.slp", tmp_path / "m", TrainConfig(**TINY))
    assert model.config["training"]["n_train"] == 2  # the two flies of the one frame


def test_one_body_part_trains_in_boxes_sized_from_the_animal(tmp_path):
    """Used to stop with "box size 0 px": one body part gives the labels no size."""
    from napari_leap.pose.train import TrainConfig, train

    _cut_labels(tmp_path, range(0, 40, 4), nodes=[1]).save(str(tmp_path / "thorax.slp"))
    model = train(tmp_path / "thorax.slp", tmp_path / "m", TrainConfig(**TINY))
    box = model.config["alignment"]["box_size"]
    assert box >= 16 and model.config["input_size"] == [box, box]


def test_labels_whose_video_moved_name_it_before_aligning(tmp_path, no_alignment):
    from napari_leap.pose.dataset import TrainingDataError, load_training_data

    video = clip_cut(tmp_path / "moved.mkv")
    _cut_labels(tmp_path, range(0, 40, 4), video=video).save(str(tmp_path / "l.slp"))
    video.rename(tmp_path / "elsewhere.mkv")
    with pytest.raises(
        TrainingDataError, match=r"the labels refer to .*moved\.mkv, which does not"
    ):
        load_training_data(tmp_path / "l.slp")


def test_repeated_body_part_names_are_one_line_and_exit_2(tmp_path):
    labels = _cut_labels(tmp_path, range(0, 40, 4), nodes=[0, 1, 2], names=["head", "head", "x"])
    labels.save(str(tmp_path / "dup.slp"))
    done = cli("train", tmp_path / "dup.slp", "--out", tmp_path / "m")
    refused(done, "body part names must be unique, but head appears more than once")
    assert not (tmp_path / "m").exists()


def test_two_skeletons_are_refused_before_aligning(tmp_path, no_alignment):
    from napari_leap.pose.dataset import TrainingDataError, load_training_data

    labels = _cut_labels(tmp_path, range(0, 40, 4))
    other = sio.Skeleton(labels.skeletons[0].node_names, name="other")
    for lf in labels.labeled_frames:  # the second fly of every frame on the other skeleton
        lf.instances[1] = sio.Instance.from_numpy(lf.instances[1].numpy(), skeleton=other)
    labels.skeletons.append(other)
    labels.save(str(tmp_path / "two.slp"))
    with pytest.raises(
        TrainingDataError, match=r"instances of 2 skeletons: .*other \(10 instances"
    ):
        load_training_data(tmp_path / "two.slp")


# -- item 9: blank and float frames, --out a file ---------------------------------------------


def test_align_on_blank_frames_is_a_clear_error():
    with pytest.raises(LeapError, match="the sampled frames are blank"):
        napari_leap.align(np.zeros((20, 64, 64), np.uint8), 1)


def test_align_on_float_frames_finds_what_uint8_frames_do():
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 30)
    want = napari_leap.align(frames, 1, box_size=64)
    got = napari_leap.align(frames.astype(np.float32) / 255, 1, box_size=64)
    np.testing.assert_allclose(got.centers, want.centers)
    np.testing.assert_array_equal(np.asarray(got.boxes[5]), np.asarray(want.boxes[5]))
    with pytest.raises(LeapError, match="convert them to 8-bit"):
        napari_leap.align(frames.astype(np.float32) * 4, 1)


def test_train_out_pointing_at_a_file_is_one_sentence(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    done = cli("train", CLIP_LABELS, "--out", tmp_path / "notes.txt")
    refused(done, "notes.txt is a file, not a folder; choose a folder.")
