"""Coarse-to-fine full frames: when a refinement stage is chosen, its windows, its geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_leap.model.skeleton import Skeleton
from napari_leap.pose import refine as R
from napari_leap.pose.dataset import TrainingData
from napari_leap.pose.train import Message, TrainConfig, TrainStarted, iter_train
from napari_leap.pose.trained import TrainedModel

SMALL_NET = {"arch": "unet", "arch_params": {"filters": 4, "depth": 2, "max_filters": 16}}


def frames(n=12, side=400, seed=0):
    """Grey frames with two bright spots (the two parts) at random places."""
    rng = np.random.default_rng(seed)
    images = np.full((n, side, side, 1), 40, np.uint8)
    points = rng.uniform(30, side - 30, size=(n, 2, 2))
    yy, xx = np.mgrid[:side, :side]
    for i in range(n):
        for k, (x, y) in enumerate(points[i]):
            spot = (xx - x) ** 2 + (yy - y) ** 2 < (6 + 4 * k) ** 2
            images[i, spot, 0] = 220
    return TrainingData(images, points, Skeleton(["a", "b"]))


def test_refinement_is_chosen_for_large_full_frames_only():
    big, small = frames(side=400), frames(side=192)
    assert R.refinement_wanted(big, TrainConfig())
    assert R.refinement_wanted(small, TrainConfig()) is None
    assert R.refinement_wanted(small, TrainConfig(refine=True))  # asked for
    assert R.refinement_wanted(big, TrainConfig(refine=False)) is None
    assert R.refinement_wanted(big, TrainConfig(input_scale=0.5)) is None  # already fine
    big.alignment = {"method": "background", "box_size": 192}
    assert R.refinement_wanted(big, TrainConfig(refine=True)) is None  # boxes: not needed


def test_window_plan_holds_the_coarse_errors():
    errors = np.array([[3.0, 40.0], [5.0, 60.0], [4.0, np.nan], [2.0, 50.0]] * 5)
    plan = R.window_plan(errors)
    assert R.WINDOW_MIN <= plan["window"] <= R.WINDOW_MAX and plan["window"] % 16 == 0
    assert plan["window"] >= 4 * plan["coarse_p90_px"] - 16
    assert plan["jitter_px"][0] == pytest.approx(3.5)  # part a's median error
    assert plan["jitter_px"][1] == pytest.approx(min(plan["window"] / 8, 50.0))
    assert R.window_plan(np.full((3, 2), np.nan))["window"] == R.WINDOW_MIN


def test_crop_windows_keep_pixels_where_they_were_and_black_outside():
    images = np.arange(2 * 50 * 60, dtype=np.int64).reshape(2, 50, 60, 1) % 251
    windows, origins = R.crop_windows(images, np.array([[1, 30.2, 20.7], [0, 2.0, 3.0]]), 16)
    assert origins.tolist() == [[22, 13], [-6, -5]]
    assert (windows[0, :, :, 0] == images[1, 13:29, 22:38, 0]).all()
    assert (windows[1, :5].max() == 0) and (windows[1, :, :6].max() == 0)  # outside: black
    assert (windows[1, 5:, 6:, 0] == images[0, :11, :10, 0]).all()


def test_window_data_put_every_labelled_part_near_the_centre():
    data = frames(n=6)
    data.points[0, 1] = np.nan  # one unlabelled part gets no window
    plan = {"window": 96, "jitter_px": [2.0, 8.0]}
    w = R.window_data(data, plan, seed=1)
    assert len(w) == (6 * 2 - 1) * R.WINDOWS_PER_PART
    assert w.input_size == (96, 96)
    centre = np.array([47.5, 47.5])
    # each window's own part lies near the centre, shifted by about its jitter
    own = np.array(
        [
            p[np.argmin(np.nan_to_num(np.linalg.norm(p - centre, axis=-1), nan=1e9))]
            for p in w.points
        ]
    )
    off = np.linalg.norm(own - 48, axis=-1)
    assert np.median(off) < 12 and off.max() < 48
    inside = np.isfinite(w.points).all(-1)
    assert ((w.points[inside] >= 0) & (w.points[inside] <= 95)).all()


class BrightestPixel:
    """A stand-in network: every channel's peak is the window's brightest pixel."""

    def predict_images(self, windows):
        b = len(windows)
        flat = windows[..., 0].reshape(b, -1).argmax(1)
        y, x = np.unravel_index(flat, windows.shape[1:3])
        pts = np.stack([x, y], -1).astype(float)[:, None].repeat(2, 1)
        scores = np.where(windows.reshape(b, -1).max(1) > 0, 0.9, 0.0)[:, None].repeat(2, 1)
        return pts, scores


def test_refiner_moves_coarse_points_onto_the_fine_peaks_in_frame_pixels():
    images = np.zeros((2, 300, 400, 1), np.uint8)
    truth = np.array([[[50.0, 60.0], [350.0, 250.0]], [[200.0, 10.0], [5.0, 290.0]]])
    for i in range(2):
        for x, y in truth[i]:
            images[i, int(y), int(x)] = 255
    coarse = truth + np.array([[[9.0, -7.0], [-12.0, 5.0]], [[4.0, 11.0], [np.nan, np.nan]]])
    refined = R.Refiner(BrightestPixel(), window=48)(images, coarse)
    np.testing.assert_allclose(refined[:, :1], truth[:, :1])
    np.testing.assert_allclose(refined[0, 1], truth[0, 1])
    assert np.isnan(refined[1, 1]).all()  # not found stays not found
    far = truth + 100.0  # nothing bright in the window: the coarse point stays
    far[np.isnan(coarse)] = np.nan
    np.testing.assert_allclose(R.Refiner(BrightestPixel(), window=48)(images, far)[0, 0], far[0, 0])


def test_training_full_frames_makes_a_refinement_stage_that_loading_applies(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    data = frames(n=12)
    config = TrainConfig(**SMALL_NET, epochs=1, steps_per_epoch=3, batch_size=4, input_scale=0.25)
    events = []
    gen = iter_train(data, tmp_path / "m", config)
    while True:
        try:
            events.append(next(gen))
        except StopIteration as done:
            model = done.value
            break
    stages = [e.stage for e in events if isinstance(e, TrainStarted)]
    assert stages == ["pose", "refine"]
    texts = " ".join(e.text for e in events if isinstance(e, Message))
    assert "refines each body part" in texts and "refinement done" in texts
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["refine"]["dir"] == "refine" and cfg["refine"]["window"] >= R.WINDOW_MIN
    assert (tmp_path / "m" / "refine" / "best.pt").exists()
    loaded = TrainedModel.load(tmp_path / "m")
    assert loaded.refiner is not None and model.refiner is not None
    pts, scores = loaded.predict_images(data.images[:3])
    assert pts.shape == (3, 2, 2) and scores.shape == (3, 2)
    coarse = TrainedModel.load(tmp_path / "m")
    coarse.refiner = None
    monkeypatch.setattr(R, "MIN_SCORE", -1.0)  # three steps give no confident peaks yet
    moved = loaded.predict_images(data.images[:3])[0]
    assert not np.allclose(moved, coarse.predict_images(data.images[:3])[0])
