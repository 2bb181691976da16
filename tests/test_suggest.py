"""Frame suggestions on the real two-fly clip: cluster sampling finds the varied part of the
video without crowding neighbours; uniform and confidence picks; the CLI command."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS
from napari_leap.errors import LeapError
from napari_leap.io.labels import load_labels, poses_from_labels
from napari_leap.pose import suggest


@pytest.fixture(scope="module")
def thumbs():
    # every 3rd frame keeps the test quick; the benchmark runs all 1500 frames
    return suggest.thumbnails(CLIP, range(0, 1500, 3), size=32, workers=2)


def test_thumbnails_stream_the_right_frames(thumbs):
    from napari_leap.io.video import video_source

    feats, ids = thumbs
    assert feats.shape == (500, 32 * 32) and feats.dtype == np.float32
    assert ids.tolist() == list(range(0, 1500, 3))
    import cv2

    frame = video_source(CLIP).read(300)[..., 0].astype(np.float32)
    np.testing.assert_allclose(
        feats[100], cv2.resize(frame, (32, 32), interpolation=cv2.INTER_AREA).ravel(), atol=1e-3
    )


def test_kmeans_spreads_over_postures(thumbs):
    feats, ids = thumbs
    picks = suggest.cluster_frames(feats, ids, 20, min_gap=20, seed=0)
    assert len(picks) == 20 and len(set(picks)) == 20
    assert np.diff(picks).min() >= 20  # never neighbouring, nearly identical frames
    # the flies sit still for the first ~1000 frames and walk after: both parts are sampled,
    # and the walking part (where postures and places vary) gets most picks
    assert (picks < 1000).any() and (picks >= 1000).sum() >= 10
    # the picked frames cover the range of places the male visits
    truth = poses_from_labels(load_labels(CLIP_LABELS))
    x = truth.points[:, 1, 1, 0]
    covered = (x[picks].max() - x[picks].min()) / (np.nanmax(x) - np.nanmin(x))
    assert covered > 0.8
    uniform = suggest.suggest_uniform(1500, 20)
    assert (uniform >= 1000).sum() < (picks >= 1000).sum()  # uniform wastes picks on still frames


def test_kmeans_respects_exclusions_and_seed(thumbs):
    feats, ids = thumbs
    first = suggest.cluster_frames(feats, ids, 10, seed=1)
    again = suggest.cluster_frames(feats, ids, 10, seed=1)
    assert first.tolist() == again.tolist()
    other = suggest.cluster_frames(feats, ids, 10, seed=1, exclude=first)
    assert not set(other) & set(first)


def test_uniform_and_confidence():
    assert suggest.suggest_uniform(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert 0 not in suggest.suggest_uniform(100, 5, exclude=[0])
    frames = np.arange(10, 60, 10)
    scores = np.ones((5, 2, 3))
    scores[3, 1, :] = 0.1  # one fly badly found on frame 40
    scores[1, 0, 0] = np.nan  # a missing part counts as zero confidence
    assert suggest.suggest_low_confidence(frames, scores, 2).tolist() == [20, 40]
    assert suggest.suggest_low_confidence(frames, scores, 1, exclude=[40]).tolist() == [20]


def test_bad_requests():
    with pytest.raises(LeapError, match="unknown suggestion method"):
        suggest.suggest_frames(CLIP, 5, "random")
    with pytest.raises(LeapError, match="positive"):
        suggest.suggest_frames(CLIP, 0)
    with pytest.raises(LeapError, match="needs predictions"):
        suggest.suggest_frames(CLIP, 5, "confidence")
    with pytest.raises(LeapError, match="within"):
        suggest.thumbnails(CLIP, [1500])


def test_command(tmp_path, capsys):
    from napari_leap.commands import suggest as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser)
    out = tmp_path / "frames.txt"
    args = parser.parse_args(
        [
            str(CLIP),
            "--method",
            "uniform",
            "--n",
            "4",
            "--out",
            str(out),
            "--exclude",
            str(CLIP_LABELS),
        ]
    )
    assert command.run(args) == 0
    # every frame of the clip is labelled already, so nothing is left to suggest
    assert out.read_text() == "" and capsys.readouterr().out == ""
    args = parser.parse_args([str(CLIP), "--method", "uniform", "--n", "4", "--out", str(out)])
    command.run(args)
    assert out.read_text().split() == ["0", "500", "999", "1499"]


def test_command_with_a_model(tmp_path, capsys):
    """`suggest VIDEO --model M`: a real (two-step) model ranks frames, spread, with reasons;
    labelled frames are skipped; asking for nothing possible is refused with one sentence."""
    from napari_leap.commands import suggest as command
    from test_predict import train_small_model

    model_dir, video, labels_path = train_small_model(tmp_path)
    parser = argparse.ArgumentParser()
    command.add_parser(parser)
    out = tmp_path / "frames.txt"
    args = parser.parse_args(
        [str(video), "--model", str(model_dir), "--n", "3", "--frames", "0:30", "--why"]
        + ["--out", str(out)]
    )
    assert command.run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    frames = [int(line.split("\t")[0]) for line in lines]
    assert len(frames) == 3 and all(0 <= f <= 29 for f in frames)
    assert np.diff(frames).min() >= 5  # spread: never neighbouring frames
    assert all(any(w in line for w in ("lowest part", "flip", "jumps")) for line in lines)
    assert out.read_text().split() == [str(f) for f in frames]
    with pytest.raises(LeapError, match="--model"):
        command.run(parser.parse_args([str(video), "--method", "model"]))
    with pytest.raises(LeapError, match="labelled already"):
        command.run(
            parser.parse_args(
                [str(video), "--model", str(model_dir), "--frames", "0:10"]
                + ["--exclude", str(labels_path)]
            )
        )
