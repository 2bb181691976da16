"""Every bad input through the command line: a non-zero exit, one line on stderr, no traceback.

Each case runs ``napari-leap`` in a subprocess (the console script's entry point,
``python -m napari_leap.cli``) and checks the exit code, that stderr's message is
one line naming the problem, that no Python traceback escaped and, where a
project is involved, that the project folder is byte-identical afterwards.
Full disks and read-only folders are real (a tiny tmpfs, remounted read-only)
where this machine lets us mount one, and injected into the writer otherwise.
The list of inputs and what each gets is docs/troubleshooting.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS, FLY32, synthetic_frames, write_video
from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    save_labels,
    skeleton_from_sleap,
)
from napari_leap.model.skeleton import Skeleton

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}


# -- helpers ---------------------------------------------------------------------------------


def tree_hash(root: Path) -> str:
    """sha256 over every file (path and bytes) and every folder name under ``root``."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(p.relative_to(root).as_posix().encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def cli(*args, prelude: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``napari-leap ARGS`` in a fresh interpreter; ``prelude`` runs first (fault injection)."""
    code = f"{prelude}\nimport sys\nfrom napari_leap.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def message_of(done: subprocess.CompletedProcess) -> str:
    """The error line; fails when stderr holds a traceback or more than one error line."""
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, done.stderr
    return errors[0]


def assert_refused(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    line = message_of(done)
    log = os.environ.get("NAPARI_LEAP_RELIABILITY_LOG")
    if log:  # collects the messages for docs/troubleshooting.md
        with open(log, "a") as f:
            f.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '').split(' ')[0]}\t{line}\n")
    for fragment in fragments:
        assert fragment.lower() in line.lower(), line
    return line


def _png(path: Path, h: int, w: int) -> None:
    import cv2

    cv2.imwrite(str(path), np.full((h, w), 128, np.uint8))


def make_bad_inputs(root: Path) -> dict[str, Path]:
    """Every kind of broken file a lab sends us, made fresh (small, a second to build)."""
    import av

    root.mkdir(parents=True, exist_ok=True)
    paths = {"missing": root / "missing.mp4", "folder": root / "folder"}
    paths["folder"].mkdir()
    paths["empty"] = root / "empty.mp4"
    paths["empty"].write_bytes(b"")
    paths["empty_slp"] = root / "empty.slp"
    paths["empty_slp"].write_bytes(b"")
    paths["text_mp4"] = root / "notes.mp4"
    paths["text_mp4"].write_text("these are my notes, not a video\n" * 40)
    paths["text_slp"] = root / "notes.slp"
    paths["text_slp"].write_text("these are my notes, not labels\n" * 40)
    good = write_video(root / "good.mp4", synthetic_frames(60))
    paths["good"] = good
    # recording cut mid-stream: Matroska keeps no index at the end, so the start still plays
    mkv = write_video(root / "full.mkv", synthetic_frames(60))
    paths["truncated_mkv"] = root / "cut.mkv"
    paths["truncated_mkv"].write_bytes(mkv.read_bytes()[: int(mkv.stat().st_size * 0.6)])
    mkv.unlink()
    # an MP4 cut before its index (the moov atom is written last)
    paths["truncated_mp4"] = root / "cut.mp4"
    paths["truncated_mp4"].write_bytes(good.read_bytes()[:3000])
    # FFmpeg demuxes the stream but has no decoder for it (codec tag patched)
    paths["codec"] = root / "unknown_codec.mp4"
    paths["codec"].write_bytes(good.read_bytes().replace(b"avc1", b"zzz1"))
    # audio only
    paths["audio"] = root / "audio_only.mp4"
    with av.open(str(paths["audio"]), "w") as c:
        s = c.add_stream("aac", rate=8000)
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, i * 1024
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    paths["mixed"] = root / "mixed_sizes"
    paths["mixed"].mkdir()
    for i, (h, w) in enumerate([(40, 60), (40, 60), (48, 64)]):
        _png(paths["mixed"] / f"frame{i}.png", h, w)
    return paths


def clip_labels(n: int = 30) -> tuple[object, Skeleton]:
    labels = load_labels(CLIP_LABELS)
    poses = poses_from_labels(labels)
    return poses.select(slice(0, n)), skeleton_from_sleap(labels.skeletons[0])


def make_label_files(root: Path, video: Path) -> dict[str, Path]:
    """Labels that are well-formed files but wrong for the job."""
    poses, skeleton = clip_labels()
    out = {}
    # zero labelled frames: a skeleton and a video, nothing placed
    out["zero"] = save_labels(
        labels_from_poses(poses.select(slice(0, 0)), [str(video)], predicted=False),
        root / "zero_frames.slp",
    )
    # NaN everywhere but one point, and points far outside the 1024x1024 frame
    odd = poses.select(slice(0, 6))
    odd.points = odd.points.copy()
    odd.points[:3, :, 1:] = np.nan
    odd.points[3:, 0] = odd.points[3:, 0] + 5000.0
    odd.points[4, 1, 0] = -300.0
    out["odd"] = save_labels(
        labels_from_poses(odd, [str(video)], predicted=False), root / "odd.slp"
    )
    # a different skeleton (the 32-node fly) on the same frames
    from napari_leap.io.skeleton_files import load_skeleton

    other = load_skeleton(FLY32.parent / "skeleton.csv")
    pts = np.full((len(poses.frames), poses.n_animals, len(other), 2), np.nan)
    pts[..., :2, :] = poses.points[..., :2, :]
    from napari_leap.model.poses import Poses

    foreign = Poses(poses.frames, pts, np.full(pts.shape[:3], np.nan), poses.tracks, other)
    out["other_skeleton"] = save_labels(
        labels_from_poses(foreign, [str(video)], predicted=False), root / "other_skeleton.slp"
    )
    # labels whose video has moved away
    out["lost_video"] = save_labels(
        labels_from_poses(poses, [str(root / "gone.mp4")], predicted=False), root / "lost_video.slp"
    )
    return out


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    paths = make_bad_inputs(root)
    paths.update(make_label_files(root, CLIP))
    return paths


def build_models(root: Path) -> dict[str, Path]:
    """A real (two-step) clip model, a fly32 model (other skeleton) and broken copies."""
    from napari_leap.pose.train import TrainConfig, train
    from test_predict import train_small_model

    model, video, labels = train_small_model(root)
    fly32 = root / "fly32_model"
    train(
        FLY32,
        fly32,
        TrainConfig(
            epochs=1,
            steps_per_epoch=1,
            arch="unet",
            batch_size=4,
            device="cpu",
            arch_params={"filters": 4, "depth": 2, "max_filters": 16},
            input_scale=0.25,
        ),
    )
    corrupt = root / "corrupt_model"
    shutil.copytree(model, corrupt)
    weights = corrupt / "best.pt"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    no_config = root / "no_config_model"
    shutil.copytree(model, no_config)
    (no_config / "config.json").write_text("{ this is not json")
    return {
        "model": model,
        "video": video,
        "labels": labels,
        "fly32": fly32,
        "corrupt": corrupt,
        "no_config": no_config,
        "empty_dir": root / "folder_not_model",
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    return build_models(tmp_path_factory.mktemp("models"))


@pytest.fixture
def project(tmp_path):
    """A real project on the clip with 30 labelled frames; returns (project root, hash)."""
    from napari_leap.io.project import Project

    poses, skeleton = clip_labels()
    project = Project.create(tmp_path / "flies", skeleton, videos=[CLIP])
    project.labels = labels_from_poses(poses, project.sleap_video(0), predicted=False)
    project.save()
    return project.root, tree_hash(project.root)


# -- video inputs: align, suggest, predict ---------------------------------------------------

VIDEO_CASES = {
    "missing": "does not exist",
    "folder": "holds no images",
    "empty": "empty",
    "text_mp4": "not a video",
    "truncated_mp4": "truncated",
    "codec": "codec",
    "audio": "no video stream",
    "mixed": "different sizes",
}


@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_align_refuses_bad_videos(bad, tmp_path, case):
    done = cli("align", bad[case], "--out", tmp_path / "aligned", "-q")
    assert_refused(done, VIDEO_CASES[case])
    assert not (tmp_path / "aligned").exists()


@pytest.mark.parametrize("case", ["missing", "text_mp4", "codec"])
def test_suggest_refuses_bad_videos(bad, tmp_path, case):
    done = cli("suggest", bad[case], "--n", "3", "--out", tmp_path / "s.txt")
    assert_refused(done, VIDEO_CASES[case])
    assert not (tmp_path / "s.txt").exists()


@pytest.mark.parametrize("case", ["missing", "empty", "text_mp4", "codec", "audio"])
def test_predict_refuses_bad_videos(bad, models, tmp_path, case):
    done = cli("predict", models["model"], bad[case], "--out", tmp_path / "p.slp")
    assert_refused(done, VIDEO_CASES[case])
    assert not list(tmp_path.iterdir())


def test_images_of_several_sizes_are_padded_but_not_background_aligned(bad, tmp_path):
    """A folder mixing a rig's crops: suggestions come (frames padded), alignment is refused."""
    done = cli("suggest", bad["mixed"], "--n", "2", "--method", "uniform")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 2


def test_truncated_recording_serves_what_decodes(bad, tmp_path):
    """A recording cut mid-stream opens with the frames that decode; a bad tail is one line."""
    from napari_leap.io.video import video_source

    n = len(video_source(bad["truncated_mkv"]))
    assert 0 < n < 60
    done = cli("suggest", bad["truncated_mkv"], "--n", "4", "--method", "uniform")
    if done.returncode == 0:
        frames = [int(x) for x in done.stdout.split()]
        assert len(frames) == 4 and max(frames) < n
    else:
        assert_refused(done, "truncated")


def test_box_larger_than_the_frame(bad, tmp_path):
    done = cli("align", bad["good"], "--box-size", "5000", "--out", tmp_path / "a", "-q")
    assert_refused(done, "5000")
    assert not (tmp_path / "a").exists()


def test_out_of_range_frames_for_predict(models, tmp_path, project):
    root, before = project
    for frames in ("5000:6000", "40:10", "ten:twenty"):
        done = cli(
            "predict", models["model"], CLIP, "--frames", frames, "--out", root / "predictions.slp"
        )
        assert_refused(done, "frame")
    assert tree_hash(root) == before


# -- labels inputs: train, evaluate ----------------------------------------------------------

LABEL_CASES = {
    "missing": "does not exist",
    "folder": "folder",
    "empty_slp": "empty",
    "text_slp": "cannot be read",
    "zero": "no labelled frames",
    "lost_video": "gone.mp4",
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_train_refuses_bad_labels(bad, tmp_path, case):
    done = cli("train", bad[case], "--out", tmp_path / "model", "--epochs", "1")
    assert_refused(done, LABEL_CASES[case])
    assert not (tmp_path / "model").exists() or not list((tmp_path / "model").iterdir())


@pytest.mark.parametrize("case", ["missing", "folder", "empty_slp", "text_slp"])
def test_evaluate_refuses_bad_labels(bad, case):
    assert_refused(cli("evaluate", CLIP_LABELS, bad[case]), LABEL_CASES[case])


def test_evaluate_with_a_different_skeleton(bad):
    done = cli("evaluate", CLIP_LABELS, bad["other_skeleton"])
    if done.returncode != 0:
        assert_refused(done, "body part")
    else:  # compared on the body parts both have
        assert "Traceback" not in done.stderr


# -- models ----------------------------------------------------------------------------------

MODEL_CASES = {
    "missing": "does not exist",
    "corrupt": "corrupt",
    "no_config": "damaged",
    "labels": "folder",  # a labels file where the model folder goes
    "empty_dir": "not a finished model folder",
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_predict_refuses_bad_models(models, tmp_path, case):
    if case == "missing":
        model = tmp_path / "no_such_model"
    elif case == "empty_dir":
        model = models["empty_dir"]
        model.mkdir(exist_ok=True)
    else:
        model = models[case]
    done = cli("predict", model, models["video"], "--frames", "0:4", "--out", tmp_path / "p.slp")
    assert_refused(done, MODEL_CASES[case])
    assert not (tmp_path / "p.slp").exists()


def test_model_from_a_different_skeleton(models, bad, tmp_path):
    """The 32-node fly model on the two-fly clip's 13-node labels: refused, or at least clear."""
    done = cli("predict", models["fly32"], models["labels"], "--out", tmp_path / "p.slp")
    assert_refused(done)
    assert not (tmp_path / "p.slp").exists()


# -- projects: failures leave the folder byte-identical --------------------------------------


def test_training_a_project_with_no_labels_leaves_it_unchanged(tmp_path):
    from napari_leap.io.project import Project

    _, skeleton = clip_labels()
    root = Project.create(tmp_path / "empty_project", skeleton, videos=[CLIP]).root
    before = tree_hash(root)
    done = cli("train", root, "--out", root / "models" / "m", "--epochs", "1")
    assert_refused(done, "no labelled frames")
    assert tree_hash(root) == before


def test_box_larger_than_the_frame_in_training_leaves_the_project(project):
    root, before = project
    done = cli(
        "train",
        root,
        "--align",
        "--box-size",
        "5000",
        "--out",
        root / "models" / "m",
        "--epochs",
        "1",
    )
    assert_refused(done, "box")
    assert tree_hash(root) == before


def test_project_labels_with_another_skeleton(project, bad):
    root, _ = project
    shutil.copy(bad["other_skeleton"], root / "labels.slp")
    before = tree_hash(root)
    done = cli("train", root, "--out", root / "models" / "m", "--epochs", "1")
    assert_refused(done, "body parts", "project's skeleton")
    assert tree_hash(root) == before


def test_model_with_another_skeleton_never_writes_into_the_project(project, models):
    """The core refuses before any chunk is stored (the predict widget takes this path)."""
    from napari_leap.errors import LeapError
    from napari_leap.io.project import Project
    from napari_leap.pose.predict import predict

    root, before = project
    with pytest.raises(LeapError, match="another skeleton") as info:
        predict(models["fly32"], Project.open(root), frames="0:4")
    assert "\n" not in str(info.value)
    assert tree_hash(root) == before


def test_damaged_manifest_is_one_line(project):
    root, _ = project
    (root / "napari-leap.yaml").write_text("skeleton: [unclosed")
    before = tree_hash(root)
    assert_refused(cli("train", root, "--out", root / "models" / "m", "--epochs", "1"), "damaged")
    assert tree_hash(root) == before


# -- full disk and read-only folders ---------------------------------------------------------

FSYNC_FAILS = """
import errno, os
def _fail(fd, _code=errno.{code}):
    raise OSError(_code, os.strerror(_code))
os.fsync = _fail
"""


def _mount(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
        ).returncode
        == 0
    )


@pytest.fixture(params=["disk_full", "read_only"])
def hostile_project(request, tmp_path):
    """A project on a file system that refuses writes: (root, hash, prelude, message words).

    Real when a tmpfs can be mounted (filled up, or remounted read-only);
    otherwise the writer's fsync fails with ENOSPC/EROFS, as a full or
    read-only disk reports it.
    """
    from napari_leap.io.project import Project

    kind = request.param
    fs = tmp_path / "fs"
    real = _mount(fs, "4m")
    try:
        models = request.getfixturevalue("models")  # its 48-frame clip keeps training short
        labels = load_labels(models["labels"])
        project = Project.create(
            fs / "flies", skeleton_from_sleap(labels.skeletons[0]), videos=[models["video"]]
        )
        project.labels = labels_from_poses(
            poses_from_labels(labels), project.sleap_video(0), predicted=False
        )
        project.save()
        prelude = ""
        if real and kind == "disk_full":
            with open(fs / "filler", "wb") as f, contextlib_suppress_enospc():
                while True:
                    f.write(b"\0" * 65536)
        elif real:
            subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        else:
            prelude = FSYNC_FAILS.format(code="ENOSPC" if kind == "disk_full" else "EROFS")
        words = ("space",) if kind == "disk_full" else ("read-only",)
        yield project.root, tree_hash(project.root), prelude, words
    finally:
        if real:
            subprocess.run(["umount", "-l", str(fs)], capture_output=True)


class contextlib_suppress_enospc:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return isinstance(value, OSError) and value.errno == 28


def test_suggest_out_on_a_hostile_disk(hostile_project):
    root, before, prelude, words = hostile_project
    done = cli(
        "suggest",
        CLIP,
        "--n",
        "3",
        "--method",
        "uniform",
        "--out",
        root / "suggested.txt",
        prelude=prelude,
    )
    assert_refused(done, *words)
    assert tree_hash(root) == before


def test_align_into_a_hostile_project(hostile_project, bad):
    root, before, prelude, words = hostile_project
    done = cli("align", bad["good"], "--out", root / "alignments" / "0", "-q", prelude=prelude)
    assert_refused(done, *words)
    assert tree_hash(root) == before


def test_predict_into_a_hostile_project(hostile_project, models):
    root, before, prelude, words = hostile_project
    done = cli(
        "predict",
        models["model"],
        models["video"],
        "--frames",
        "0:4",
        "--out",
        root / "predictions.slp",
        prelude=prelude,
    )
    assert_refused(done, *words)
    assert not (root / "predictions.slp").exists()


def test_train_into_a_hostile_project(hostile_project):
    root, before, prelude, words = hostile_project
    done = cli(
        "train",
        root,
        "--out",
        root / "models" / "m",
        "--epochs",
        "1",
        "--time-limit",
        "0.3",
        prelude=prelude,
    )
    assert_refused(done, *words)
    assert tree_hash(root) == before


# -- long videos stream --------------------------------------------------------------------------


def test_prediction_memory_does_not_grow_with_video_length(models):
    """A 4x longer video must not cost 4x the memory: frames stream through in chunks."""
    import tracemalloc

    from napari_leap.io.video import FrameSource, video_source
    from napari_leap.pose.predict import predict

    clip = video_source(models["video"])

    class Looping(FrameSource):
        """The short clip played over and over (cropped around the flies to keep it quick)."""

        def __init__(self, n: int):
            self.path = clip.path
            self.shape = (n, 256, 320, clip.shape[3])

        def read(self, index: int):
            return clip.read(int(index) % len(clip))[320:576, 200:520]

    predict(models["model"], Looping(8), chunk_size=8, batch_size=8)  # model and imports loaded
    peaks = {}
    for n in (48, 192):
        tracemalloc.start()
        result = predict(models["model"], Looping(n), chunk_size=8, batch_size=8)
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result.poses[0].points.shape[0] == n
    frame_bytes = 256 * 320 * clip.shape[3]
    # holding the extra 144 frames would cost 144 frames; streaming costs a few numbers per frame
    # (both runs have enough chunks to fill the decoding pipeline)
    assert peaks[192] - peaks[48] < 0.1 * 144 * frame_bytes, peaks


def test_labels_with_missing_and_outside_points(models, tmp_path):
    """NaN points are missing; a point off the frame (a slip) is either dropped or named clearly."""
    poses = poses_from_labels(load_labels(models["labels"]))
    poses.points = poses.points.copy()
    poses.points[:10, :, 1:] = np.nan  # only one body part placed on the first frames
    poses.points[20, 0, 3] = [1030.0, -12.0]  # a click just outside the 1024x1024 frame
    labels = save_labels(
        labels_from_poses(poses, [str(models["video"])], predicted=False), tmp_path / "odd.slp"
    )
    done = cli(
        "train",
        labels,
        "--out",
        tmp_path / "m",
        "--epochs",
        "1",
        "--input-scale",
        "0.25",
        "--batch-size",
        "4",
        "--time-limit",
        "0.5",
    )
    assert_refused(done)
    assert "outside their frame" in done.stderr and "frame 20 (1024x1024 px)" in done.stderr
