"""Prediction: streamed outputs, labels inputs, resume after a kill, dask equals local, CLI.

One small model is trained for two steps with the real trainer on a 48-frame
lossless cut of the bundled clip (the trainer aligns the whole video, so a
short one keeps this file fast); its poses are rough, but every property
tested here (geometry, identities, files, resume, distribution) does not
depend on how well it was trained. The full-clip check is benchmarks/predict.py.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import napari_leap
from conftest import some_frames
from napari_leap.io.labels import labels_from_poses, load_labels, poses_from_labels, save_labels
from napari_leap.pose import predict as P
from napari_leap.pose.predict.align import job_affines
from napari_leap.pose.predict.inputs import Geometry, prepare, to_video

SAMPLE = Path(napari_leap.__file__).parent / "sample_data" / "flies13"
N_FRAMES = 48


def short_clip(path: Path, n: int = N_FRAMES) -> Path:
    """The first ``n`` frames of the bundled clip, losslessly (FFV1), so pixels are the clip's."""
    import av

    from napari_leap.io.video import video_source

    src = video_source(SAMPLE / "clip.mp4")
    with av.open(str(path), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = src.shape[2], src.shape[1], "gray"
        s.codec_context.gop_size = 1  # every frame a keyframe: chunks are exactly chunk_size
        for i in range(n):
            for pkt in s.encode(av.VideoFrame.from_ndarray(src.read(i)[..., 0], format="gray")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def train_small_model(root: Path) -> tuple[Path, Path, Path]:
    """(model folder, short video, its labels): a real model trained for two steps."""
    from napari_leap.pose.train import TrainConfig, train

    video = short_clip(root / "clip48.mkv")
    poses = poses_from_labels(load_labels(SAMPLE / "clip.slp"))
    poses = poses.select(poses.frames < N_FRAMES)
    labels_path = save_labels(
        labels_from_poses(poses, [str(video)], predicted=False), root / "clip48.slp"
    )
    model_dir = root / "model"
    train(
        labels_path,
        model_dir,
        TrainConfig(
            epochs=1,
            steps_per_epoch=2,
            box_size=128,
            batch_size=4,
            arch_params={"filters": 8, "max_filters": 32},
        ),
    )
    return model_dir, video, labels_path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return train_small_model(tmp_path_factory.mktemp("predict"))


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """An uninterrupted single-process run over frames 0:24 (chunks of 8)."""
    model_dir, video, _ = small
    out = tmp_path_factory.mktemp("ref") / "ref.slp"
    result = P.predict(model_dir, video, frames="0:24", out=out, batch_size=6, chunk_size=8)
    return result, out


def test_every_frame_has_both_animals_and_reopens(reference):
    import sleap_io as sio

    result, out = reference
    poses = result.poses[0]
    assert poses.points.shape == (24, 2, 13, 2)
    assert np.array_equal(poses.frames, np.arange(24))
    assert np.isfinite(poses.points).all() and np.isfinite(poses.scores).all()
    labels = sio.load_slp(str(out))
    assert len(labels.labeled_frames) == 24
    assert [t.name for t in labels.tracks] == ["animal0", "animal1"]
    assert all(len(lf.predicted_instances) == 2 for lf in labels.labeled_frames)
    back = poses_from_labels(labels)
    np.testing.assert_array_equal(back.points, poses.points)
    np.testing.assert_allclose(back.scores, poses.scores)
    assert not P.partial_dir(out).exists()  # chunks removed once the output is written
    # identities from the alignment: each animal stays near its own thorax track
    thorax = poses.skeleton.index("thorax")
    steps = np.linalg.norm(np.diff(poses.points[:, :, thorax], axis=0), axis=-1)
    gap = np.linalg.norm(poses.points[:, 0, thorax] - poses.points[:, 1, thorax], axis=-1)
    assert np.median(steps) < 0.25 * np.median(gap)


def test_streamed_slp_matches_sleap_io_writer(reference, tmp_path):
    """The chunk-streamed frame tables read back exactly like sleap-io's own writer's."""
    import sleap_io as sio

    result, out = reference
    theirs = tmp_path / "theirs.slp"
    save_labels(result.to_labels(), theirs)
    a, b = sio.load_slp(str(out)), sio.load_slp(str(theirs))
    assert len(a.labeled_frames) == len(b.labeled_frames)
    for la, lb in zip(a.labeled_frames, b.labeled_frames, strict=True):
        assert la.frame_idx == lb.frame_idx
        for ia, ib in zip(la.predicted_instances, lb.predicted_instances, strict=True):
            assert ia.track.name == ib.track.name
            assert ia.score == pytest.approx(ib.score, rel=1e-6)
            np.testing.assert_array_equal(ia.numpy(scores=True), ib.numpy(scores=True))


def test_box_affines_are_the_alignments_affine():
    """The one vectorised transform (alignment pass and one-pass boxes) is Alignment.affine
    for every frame and animal, and all NaN where an animal was not found."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.pose.predict.inputs import box_affines

    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 500, (6, 3, 2))
    angles = rng.uniform(-np.pi, np.pi, (6, 3))
    centres[2, 1] = np.nan
    al = Alignment(centers=centres, angles=angles, box_size=96)
    mats = box_affines(centres, angles, 96)
    assert mats.shape == (6, 3, 2, 3)
    for f in range(6):
        for a in range(3):
            if (f, a) == (2, 1):
                assert np.isnan(mats[f, a]).all()
            else:
                np.testing.assert_allclose(mats[f, a], al.affine(f, a), rtol=0, atol=1e-9)


def test_boxes_and_mapping_are_the_alignments(small):
    """Boxes equal Alignment.warp and points go back through Alignment.box_to_video."""
    from napari_leap.align.alignment import align
    from napari_leap.io.video import video_source

    model_dir, video, _ = small
    model = P.load_model(model_dir)
    spec = model.config["alignment"]
    src = video_source(video)
    al = align(src, spec["n_animals"], spec["box_size"], **spec["options"])
    job = P.VideoJob(src, np.arange(5, 9), alignment=al)
    geo = Geometry.of(model)
    affines = job_affines(job, geo)
    frames = np.stack([src.read(i) for i in job.frames])
    images, mats = prepare(frames, len(frames), affines, geo, 1)
    for i, f in enumerate(job.frames):
        np.testing.assert_array_equal(images[2 * i : 2 * i + 2], al.warp(frames[i], int(f)))
    pts = np.random.default_rng(0).uniform(0, 127, (4, 2, 13, 2))
    fr = np.repeat(job.frames[:, None, None], 2, 1)
    an = np.repeat(np.arange(2)[None, :, None], 4, 0)
    np.testing.assert_allclose(to_video(pts, mats), al.box_to_video(pts, fr, an), atol=1e-9)


def test_alignment_of_another_box_size_is_recut_at_the_models(small):
    """A project aligned with its own box size still predicts with the model's crop."""
    from napari_leap.align.alignment import align
    from napari_leap.io.video import video_source

    model_dir, video, _ = small
    spec = P.load_model(model_dir).config["alignment"]
    src = video_source(video)
    al = align(src, spec["n_animals"], spec["box_size"], **spec["options"])
    other = al.with_box_size(spec["box_size"] + 32)
    frames = np.arange(0, 6)
    same = P.predict(model_dir, [P.VideoJob(src, frames, alignment=al)]).poses[0]
    recut = P.predict(model_dir, [P.VideoJob(src, frames, alignment=other)]).poses[0]
    np.testing.assert_allclose(recut.points, same.points, atol=1e-9)


def test_csv_is_exact_and_h5_opens(reference, tmp_path):
    import h5py

    result, _ = reference
    csv = P.write_predictions(result, tmp_path / "p.csv")
    frames, animals, nodes, pts, sc = P.read_csv(csv)
    poses = result.poses[0]
    assert animals == poses.tracks and nodes == poses.skeleton.nodes
    np.testing.assert_array_equal(frames, poses.frames)
    np.testing.assert_array_equal(pts, poses.points)  # repr floats: bit-exact
    np.testing.assert_array_equal(sc, poses.scores)
    first = csv.read_text().splitlines()[:2]
    assert first[0] == "frame,animal,node,x,y,confidence"
    assert first[1].startswith("0,animal0,head,")
    h5 = P.write_predictions(result, tmp_path / "p.h5")
    with h5py.File(h5) as f:
        tracks = f["tracks"][:]  # (animals, 2, nodes, frames)
        assert tracks.shape[:3] == (2, 2, 13)
        np.testing.assert_allclose(tracks[0, :, 0, :24].T, poses.points[:, 0, 0])
    if importlib.util.find_spec("ndx_pose") is None:
        with pytest.raises(P.PredictError, match="ndx-pose"):
            P.write_predictions(result, tmp_path / "p.nwb")
    else:
        assert P.write_predictions(result, tmp_path / "p.nwb").stat().st_size > 0


def test_labels_input_keeps_videos_and_frames(small, tmp_path):
    """A package's labelled frames are read from its embedded images; output lines up with it."""
    import sleap_io as sio

    model_dir, _, labels_path = small
    pkg = tmp_path / "four.pkg.slp"
    some_frames(labels_path, (3, 17, 30, 41)).save(str(pkg), embed="user", verbose=False)
    out = tmp_path / "pred.slp"
    result = P.predict(model_dir, pkg, out=out, batch_size=4, chunk_size=3)
    assert result.poses[0].frames.tolist() == [3, 17, 30, 41]
    back = sio.load_slp(str(out))
    src = sio.load_slp(str(pkg))
    assert len(back.videos) == len(src.videos) == 1
    assert sorted(lf.frame_idx for lf in back.labeled_frames) == [3, 17, 30, 41]
    # the output's video is the package's embedded one: same images at the same indices
    np.testing.assert_array_equal(back.videos[0][17], src.videos[0][17])


def test_stop_then_resume_reuses_finished_chunks(small, reference, tmp_path):
    model_dir, video, _ = small
    out = tmp_path / "r.slp"
    stop = threading.Event()
    seen = []

    def on_event(ev):
        if ev.phase == "predict" and ev.frames is not None:
            seen.append(ev.frames[0])
            if len(seen) == 2:
                stop.set()

    assert (
        P.predict(
            model_dir,
            video,
            frames="0:24",
            out=out,
            batch_size=6,
            chunk_size=8,
            progress=on_event,
            stop=stop,
        )
        is None
    )
    kept = sorted(P.partial_dir(out).glob("*.npz"))
    assert len(kept) == 2 and not out.exists()
    result = P.predict(model_dir, video, frames="0:24", out=out, batch_size=6, chunk_size=8)
    assert (result.reused_chunks, result.computed_chunks) == (2, 1)
    np.testing.assert_array_equal(result.poses[0].points, reference[0].poses[0].points)
    # another frame range is another request: nothing is reused
    other = P.predict(model_dir, video, frames="0:16", out=tmp_path / "o.slp", chunk_size=8)
    assert other.reused_chunks == 0


def test_chunks_start_on_keyframes():
    """No frame is decoded twice: chunks begin where the clip's GOPs begin (every 250 frames)."""
    from napari_leap.io.video import keyframe_indices, video_source

    keys = keyframe_indices(video_source(SAMPLE / "clip.mp4"))
    np.testing.assert_array_equal(keys, np.arange(0, 1500, 250))
    spans = P.chunk_spans(np.arange(1500), 128, keys)
    assert spans == [(s, s + 250) for s in range(0, 1500, 250)]
    spans = P.chunk_spans(np.arange(100, 1000), 128, keys)  # starts mid-GOP, ends mid-GOP
    assert spans == [(0, 150), (150, 400), (400, 650), (650, 900)]
    assert P.chunk_spans(np.arange(100), 10, np.array([0])) == [(0, 40), (40, 80), (80, 100)]
    assert P.chunk_spans(np.arange(20), 8, None) == [(0, 8), (8, 16), (16, 20)]


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "napari_leap.cli", "predict", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


@pytest.mark.slow
def test_killed_prediction_resumes_without_redoing_chunks(small, reference, tmp_path):
    """SIGKILL mid-video, run the same command again: finished chunks are kept and reused."""
    model_dir, video, _ = small
    out = tmp_path / "k.slp"
    args = (
        model_dir,
        video,
        "--out",
        out,
        "--frames",
        "0:24",
        "--batch-size",
        "2",
        "--chunk-size",
        "4",
    )
    proc = _cli(*args)
    partial = P.partial_dir(out)
    deadline = time.monotonic() + 120
    while len(list(partial.glob("*.npz"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.npz")}
    assert 2 <= len(kept) < 6 and not out.exists()
    proc = _cli(*args)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"{6 - len(kept)} chunks computed, {len(kept)} resumed" in stdout
    got = poses_from_labels(load_labels(out))
    np.testing.assert_array_equal(got.points, reference[0].poses[0].points)
    np.testing.assert_allclose(got.scores, reference[0].poses[0].scores)


@pytest.mark.slow
def test_distributed_run_equals_local_run(small, reference, tmp_path):
    """Two dask worker processes compute the chunks; the points are the local run's, bit for bit."""
    from distributed import Client, LocalCluster

    model_dir, video, _ = small
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        result = P.predict(
            model_dir,
            video,
            frames="0:24",
            out=tmp_path / "d.slp",
            batch_size=6,
            chunk_size=8,
            client=client,
        )
        workers = set(client.run(os.getpid).values())
    assert len(workers) == 2 and os.getpid() not in workers
    assert result.computed_chunks == 3
    ref = reference[0].poses[0]
    np.testing.assert_array_equal(result.poses[0].frames, ref.frames)
    np.testing.assert_array_equal(result.poses[0].points, ref.points)
    np.testing.assert_array_equal(result.poses[0].scores, ref.scores)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{model}/nope", "{video}"], "does not exist"),
        (["{video}", "{video}"], "is a file; give the trained model's folder"),
        (["{model}", "{video}", "--frames", "40:90"], "out of range"),
        (["{model}", "{video}", "--frames", "x"], "frame range"),
        (["{model}", "{video}", "--batch-size", "0"], "at least 1"),
    ],
)
def test_cli_user_errors_are_one_line(small, tmp_path, args, message):
    model_dir, video, _ = small
    args = [a.format(model=model_dir, video=video) for a in args]
    proc = _cli(*args, "--out", tmp_path / "x.slp")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr


def test_project_input_saves_predictions_in_the_project(small, tmp_path):
    from napari_leap.io.project import Project
    from napari_leap.io.skeleton_files import load_skeleton

    model_dir, video, _ = small
    project = Project.create(tmp_path / "proj", load_skeleton(SAMPLE / "clip.slp"), videos=[video])
    result = P.predict(model_dir, project, frames="0:8", batch_size=8)
    assert len(result.poses[0].frames) == 8
    saved = Project.open(tmp_path / "proj").predictions
    assert len(saved.labeled_frames) == 8 and len(saved.tracks) == 2
    assert not (tmp_path / "proj" / ".predictions.partial").exists()


def test_flip_average_makes_the_model_exactly_flip_symmetric(small):
    """Averaged maps of a flipped input are the averaged maps flipped back, parts swapped."""
    import torch

    from napari_leap.pose.trained import TrainedModel

    model = TrainedModel.load(small[0], "cpu")
    perm = model.flip_average_permutation()
    assert sorted(perm) == list(range(13)) and perm != list(range(13))  # the clip's pairs
    x = torch.rand(3, 1, *model.preprocessor.padded, generator=torch.Generator().manual_seed(0))
    plain = model.forward_confmaps(x)
    both = model.forward_confmaps(x, flip_average=True)
    mirrored = model.forward_confmaps(x.flip(-1), flip_average=True)
    torch.testing.assert_close(mirrored, both.flip(-1)[:, perm], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(plain, both)  # a real second pass, not the same maps


def test_flip_average_predicts_every_animal_and_is_not_reused_as_plain(small, reference, tmp_path):
    model_dir, video, _ = small
    out = tmp_path / "flip.slp"
    flipped = P.predict(
        model_dir,
        video,
        frames="0:24",
        out=out,
        batch_size=6,
        chunk_size=8,
        flip_average=True,
        keep_partial=True,
    )
    plain = reference[0].poses[0]
    assert flipped.poses[0].points.shape == plain.points.shape
    assert np.isfinite(flipped.poses[0].points).all()
    assert not np.allclose(flipped.poses[0].points, plain.points)
    # the same output without flips recomputes its chunks instead of reusing these
    again = P.predict(model_dir, video, frames="0:24", out=out, batch_size=6, chunk_size=8)
    np.testing.assert_allclose(again.poses[0].points, plain.points)


def test_flip_average_refused_for_a_model_trained_without_flips(small):
    from napari_leap.pose.trained import ModelError, TrainedModel

    model = TrainedModel.load(small[0], "cpu")
    model = TrainedModel(
        {**model.config, "training": {**model.config["training"], "augment": {"flip": False}}},
        model.net,
        "cpu",
    )
    with pytest.raises(ModelError, match="without left/right flips"):
        P.predict(model, small[1], frames="0:8", flip_average=True)


def test_the_files_written_for_several_videos_are_named():
    """A CSV or analysis .h5 holds one video: predicting two wrote p.0.csv and p.1.csv while
    the CLI said "wrote p.csv", a file that does not exist."""
    from napari_leap.pose.predict.writers import written_text

    assert written_text("out/p.csv", 2) == "out/p.0.csv, out/p.1.csv (one file per video)"
    assert written_text("p.h5", 3).startswith("p.0.h5, p.1.h5, p.2.h5")
    assert written_text("p.csv", 1) == "p.csv" and written_text("p.slp", 2) == "p.slp"


def test_a_prediction_table_reads_back_as_predictions(tmp_path):
    """``evaluate truth P.csv`` on predict's own table said "Missing required columns:
    ['frame_idx']", then that it was predict's table and to save .slp; it now reads as the
    predictions it holds, frames by their numbers (a folder's: the images' places)."""
    from napari_leap.io.labels import load_labels
    from napari_leap.model.poses import Poses
    from napari_leap.model.skeleton import Skeleton
    from napari_leap.pose.predict.writers import write_csv

    points = np.arange(8, dtype=float).reshape(2, 1, 2, 2)
    points[1, 0, 1] = np.nan  # a part not found
    poses = Poses(
        np.array([0, 3]),
        points,
        np.array([[[0.9, 0.8]], [[0.7, np.nan]]]),
        ["animal0"],
        Skeleton(["head", "tail"]),
    )
    for images in (None, ["img005.png", "img020.png"]):
        table = write_csv(poses, tmp_path / "p.csv", images=images)
        back = poses_from_labels(load_labels(table), predicted=True)
        assert back.skeleton.nodes == ["head", "tail"] and back.frames.tolist() == [0, 3]
        np.testing.assert_array_equal(back.points, points)
        np.testing.assert_allclose(back.scores[:, 0, 0], [0.9, 0.7])


def test_an_output_without_extension_is_sleap_labels_every_command_reads(tmp_path):
    """``predict M LABELS --out P`` then ``evaluate LABELS P``, as the flow is written: P was
    refused ("cannot write predictions as a file without extension"); it is now SLEAP labels
    under the name given, and reading it back (evaluate, train's readers) takes it as such."""
    from napari_leap.io.labels import load_labels, poses_from_labels
    from napari_leap.model.poses import Poses
    from napari_leap.model.skeleton import Skeleton
    from napari_leap.pose.predict.writers import output_format, write_slp, written_text

    assert output_format(Path("out/P"), None) == "slp" and "SLEAP labels" in written_text("P", 1)
    poses = Poses(
        np.array([3, 7]),
        np.arange(8, dtype=float).reshape(2, 1, 2, 2),
        np.full((2, 1, 2), 0.5),
        ["animal0"],
        Skeleton(["head", "tail"]),
    )
    import sleap_io as sio

    video = sio.Video(filename=str(tmp_path / "v.mp4"), open_backend=False)
    out = write_slp([poses], [video], tmp_path / "P")
    assert out == tmp_path / "P" and not (tmp_path / "P.slp").exists()
    back = poses_from_labels(load_labels(out))
    assert back.frames.tolist() == [3, 7]
    np.testing.assert_allclose(back.points, poses.points)


def test_deeplabcut_table_reads_as_deeplabcut_reads_it(reference, tmp_path):
    """``--format dlc``: DeepLabCut's analysis table (scorer / individuals / bodyparts /
    coords header rows, a row per frame); pandas reads it as DLC does, and evaluate's reader
    gives back the same frames, points and likelihoods."""
    import pandas as pd

    result, _ = reference
    poses = result.poses[0]
    table = P.write_predictions(result, tmp_path / "p.csv", "dlc")
    df = pd.read_csv(table, header=[0, 1, 2, 3], index_col=0)
    assert list(df.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert df.index.tolist() == poses.frames.tolist()
    x = df.xs(("animal1", "thorax", "x"), axis=1, level=[1, 2, 3]).to_numpy()[:, 0]
    np.testing.assert_allclose(x, poses.points[:, 1, poses.skeleton.index("thorax"), 0])
    back = poses_from_labels(load_labels(table), predicted=True)
    np.testing.assert_array_equal(back.frames, poses.frames)
    np.testing.assert_allclose(back.points, poses.points)
    np.testing.assert_allclose(back.scores, poses.scores)
    with pytest.raises(P.PredictError, match=r"name it p\.csv"):
        P.write_predictions(result, tmp_path / "p.h5", "dlc")


def test_deeplabcut_table_of_images_names_them_and_reads_back_on_them(tmp_path):
    """Frames read from a folder of images (DeepLabCut's labelled frames): each row names
    its image from the table's folder, so a table written elsewhere still reads back on
    the images' places in their folder, as the person's labels there do."""
    from napari_leap.model.poses import Poses
    from napari_leap.model.skeleton import Skeleton

    folder = tmp_path / "labeled-data" / "mouse"
    folder.mkdir(parents=True)
    for name in ("img005.png", "img020.png", "img023.png"):
        (folder / name).write_bytes(b"")  # only the names are read
    poses = Poses(
        np.array([0, 2]),
        np.arange(8, dtype=float).reshape(2, 1, 2, 2),
        np.array([[[0.9, 0.8]], [[0.7, 0.6]]]),
        ["animal0"],
        Skeleton(["Hand", "Finger1"]),
    )
    result = P.PredictResult([poses], [str(folder)])
    out = tmp_path / "results" / "p.csv"
    out.parent.mkdir()
    P.write_predictions(result, out, "dlc")
    rows = out.read_text().splitlines()
    assert rows[:3] == [
        "scorer,napari-leap,napari-leap,napari-leap,napari-leap,napari-leap,napari-leap",
        "bodyparts,Hand,Hand,Hand,Finger1,Finger1,Finger1",
        "coords,x,y,likelihood,x,y,likelihood",
    ]
    assert rows[3].startswith("../labeled-data/mouse/img005.png,0.0,1.0,0.9,")
    back = poses_from_labels(load_labels(out), predicted=True)
    assert back.frames.tolist() == [0, 2]  # img005.png and img023.png in their folder
    np.testing.assert_allclose(back.points, poses.points)


def test_a_folder_of_extracted_frames_is_not_tracked_as_a_recording(tmp_path):
    """A folder of frames extracted for labelling (img005, img020...: minutes apart) had
    its animals' identities and headings carried from one image to the next, as in a
    video; a recording's consecutive frames (frame1200, frame1201...) still are."""
    import cv2

    image = np.zeros((32, 48), np.uint8)
    for folder, names in {
        "extracted": ("img005.png", "img020.png", "img023.png"),
        "recording": ("frame1200.png", "frame1201.png", "frame1202.png"),
    }.items():
        (tmp_path / folder).mkdir()
        for name in names:
            cv2.imwrite(str(tmp_path / folder / name), image)
    (extracted,), _ = P.jobs_from_inputs(str(tmp_path / "extracted"), None)
    (recording,), _ = P.jobs_from_inputs(str(tmp_path / "recording"), None)
    assert extracted.align_subset and not recording.align_subset
    assert extracted.frames.tolist() == recording.frames.tolist() == [0, 1, 2]
    from napari_leap.io.video.folder import in_sequence

    camera = [Path(f"frame{i:04d}_cam2.png") for i in (7, 8, 9)]  # the frame counts, not the cam
    assert in_sequence(camera) and not in_sequence([Path("a.png"), Path("b.png")])
