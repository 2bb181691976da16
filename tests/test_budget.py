"""The time budget: scale and batch from the animal's size, the decay over the budget, --val.

The planning rule is checked on the fly32 crops' and the reaching mouse frames' sizes
with the step model of benchmarks/step_rate.py as the machine; the trainer's use of it
on the real fly32 crops with a real (small) network and a real clock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_leap
from napari_leap.pose import budget as B
from napari_leap.pose.budget import NetSpec
from napari_leap.pose.dataset import load_box_h5
from napari_leap.pose.train import EpochEnd, Message, TrainConfig, TrainStarted, iter_train

SAMPLE = Path(napari_leap.__file__).parent / "sample_data"
FLY32 = SAMPLE / "fly32" / "example_annotation_set.h5"
SMALL_NET = {"arch": "unet", "arch_params": {"filters": 4, "depth": 2, "max_filters": 16}}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def fly32():
    return load_box_h5(FLY32)


def modelled(arch: str, input_size, multiple: int = 16, speed: float = 1.0):
    """A machine ``speed`` times slower than the development CPU, by the fitted step model."""
    calls = []

    def measure(scale: float, batch: int) -> float:
        calls.append((scale, batch))
        pixels = B.input_pixels(input_size, scale, multiple)
        return speed * B.model_step_seconds(arch, batch, pixels)

    measure.calls = calls
    return measure


def plan(input_size, extent, seconds, speed=1.0, **kw):
    return B.plan_budget(
        B.Sizing("unet", input_size, 16, extent),
        seconds,
        modelled("unet", input_size, speed=speed),
        torch.device("cpu"),
        **kw,
    )


def test_animal_extent_is_the_median_long_side_of_labelled_points(fly32):
    assert B.animal_extent(fly32.points) == pytest.approx(135.04, abs=0.01)
    pts = np.array([[[0, 0], [10, 40], [np.nan, np.nan]], [[5, 5], [np.nan, np.nan], [0, 0]]])
    assert B.animal_extent(pts) == pytest.approx(22.5)  # (40 + 5) / 2; NaN points ignored
    assert np.isnan(B.animal_extent(np.full((2, 3, 2), np.nan)))


def test_a_long_budget_keeps_the_fly_at_64_px_and_buys_the_steps(fly32):
    """fly32 in 10 minutes: scale 0.5 (the benchmark's 1.86 px setting), batch 8.

    Speed 0.5: two threads of the quiet 2-core machine (96 px, batch 8: 126 ms a step,
    under half the one-thread fit's 353 ms; benchmarks/README.md).
    """
    p = plan((192, 192), B.animal_extent(fly32.points), 600.0, speed=0.5)
    assert (p.input_scale, p.batch_size) == (0.5, 8)
    assert p.steps >= B.TARGET_STEPS and p.steps * p.step_seconds <= 600.0
    assert "steps/s measured" in p.text and f"about {p.steps} steps" in p.text


def test_a_short_budget_shrinks_full_frames_but_never_below_the_floor():
    """Reaching's 832x747 frames, the hand and joystick 221 px: 7 minutes on a slow machine."""
    size, extent = (747, 832), 221.1
    accurate = B.scale_for(B.TARGET_ANIMAL_PX, extent, size, 16)
    floor = B.scale_for(B.MIN_ANIMAL_PX, extent, size, 16)
    for speed in (1.0, 3.0, 30.0):
        p = plan(size, extent, 420.0, speed=speed)
        assert floor <= p.input_scale <= accurate and p.batch_size >= B.MIN_BATCH
        assert p.steps * p.step_seconds <= 420.0  # the steps fit the budget
        at_floor = p.input_scale == floor and p.batch_size == B.MIN_BATCH
        assert p.steps >= B.TARGET_STEPS or at_floor
        assert (p.steps < B.TARGET_STEPS) == ("give more time" in p.text)
    # the faster the machine, the larger the input it can afford
    scales = [plan(size, extent, 420.0, speed=s).input_scale for s in (0.1, 1.0, 3.0)]
    assert scales == sorted(scales, reverse=True) and scales[0] == accurate


def test_fixed_settings_are_kept_and_no_limit_measures_nothing():
    p = plan((747, 832), 221.1, 60.0, input_scale=0.8, batch_size=8)
    assert (p.input_scale, p.batch_size) == (0.8, 8) and p.steps < B.TARGET_STEPS
    measure = modelled("unet", (192, 192))
    p = B.plan_budget(B.Sizing("unet", (192, 192), 16, 134.8), None, measure, torch.device("cpu"))
    assert measure.calls == [] and p.steps == B.DEFAULT_STEPS and p.input_scale == 0.5
    # a few seconds left (alignment took the rest): planned from the model, not timed
    p = B.plan_budget(B.Sizing("unet", (192, 192), 16, 134.8), 5.0, measure, torch.device("cpu"))
    assert measure.calls == [] and "steps/s expected" in p.text and p.input_scale == 0.25


def test_the_measured_step_is_the_trainers_step():
    """A real timing: positive, and a 4x larger input takes longer."""
    net = NetSpec("unet", SMALL_NET["arch_params"], 1, 32)
    small = B.time_training_steps(net, (32, 32), 4, "cpu")
    large = B.time_training_steps(net, (128, 128), 4, "cpu")
    assert 0 < small < large


def test_a_time_limit_is_a_budget_to_use_with_the_decay_over_it(fly32, tmp_path):
    """No epochs given: training runs until the budget is spent, the rate decaying to it.

    (The previous default stopped after 60 epochs, here 120 steps, well inside it.)
    """
    budget = 12.0
    events = list(
        iter_train(
            fly32.subset(np.arange(40)),
            tmp_path / "m",
            TrainConfig(
                time_limit=budget,
                steps_per_epoch=2,
                input_scale=0.25,
                batch_size=2,
                device="cpu",
                **SMALL_NET,
            ),
        )
    )
    plan_text = next(e.text for e in events if isinstance(e, Message) and "steps/s" in e.text)
    assert "input scale 0.25" in plan_text and "batch 2" in plan_text
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())["training"]
    assert cfg["stopped_reason"] == "time_limit" and cfg["schedule"] == "time"
    assert epochs[-1].elapsed > 0.6 * budget  # the budget was used, not only capped
    assert cfg["steps_done"] > 120 and cfg["seconds"] <= budget + 2
    base = cfg["lr"]
    assert epochs[0].lr > 0.9 * base  # the decay starts at the full rate ...
    assert epochs[-1].lr < 0.2 * base  # ... and has nearly run out at the budget's end
    lrs = [e.lr for e in epochs]
    assert all(a >= b - 1e-12 for a, b in zip(lrs, lrs[1:], strict=False))


def test_without_a_time_limit_the_default_is_2500_steps(fly32, tmp_path):
    gen = iter_train(
        fly32.subset(np.arange(40)),
        tmp_path / "m",
        TrainConfig(input_scale=0.25, batch_size=2, device="cpu", **SMALL_NET),
    )
    started = next(e for e in gen if isinstance(e, TrainStarted))
    gen.close()
    assert started.epochs * 25 == B.DEFAULT_STEPS  # 36 training crops, batch 2: 25 steps/epoch


def _box_file(path: Path, data) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f["images"] = data.images
        f["annotations"] = data.points
    shutil.copy(SAMPLE / "fly32" / "skeleton.csv", path.parent / "skeleton.csv")
    return path


def test_cli_val_labels_are_the_validation_set(fly32, tmp_path):
    """``train --val``: every labelled frame of LABELS trains, VAL's frames validate."""
    (tmp_path / "tr").mkdir()
    (tmp_path / "va").mkdir()
    train_file = _box_file(tmp_path / "tr" / "train.h5", fly32.subset(np.arange(60)))
    val_file = _box_file(tmp_path / "va" / "val.h5", fly32.subset(np.arange(60, 72)))
    out = tmp_path / "m"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "napari_leap.cli", "train", str(train_file), "--out", str(out)]
        + ["--val", str(val_file), "--epochs", "1", "--input-scale", "0.25"]
        + ["--batch-size", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "60 training / 12 validation images" in r.stderr
    cfg = json.loads((out / "config.json").read_text())["training"]
    assert (cfg["n_train"], cfg["n_val"]) == (60, 12)
    # the validation error is of the 12 held-out crops: a model's error on them, recomputed
    from napari_leap.pose.trained import TrainedModel

    model = TrainedModel.load(out, device="cpu")
    pts, _ = model.predict_images(fly32.images[60:72])
    err = np.linalg.norm(pts - fly32.points[60:72], axis=-1)
    assert cfg["best_val_error_px"] == pytest.approx(float(err.mean()), rel=1e-3)


def test_val_labels_of_another_skeleton_are_refused(fly32, tmp_path):
    import h5py

    from napari_leap.pose.dataset import TrainingDataError

    val = tmp_path / "other.h5"  # no skeleton.csv beside it: body parts node0..node31
    with h5py.File(val, "w") as f:
        f["images"], f["annotations"] = fly32.images[:4], fly32.points[:4]
    with pytest.raises(TrainingDataError, match="other body parts"):
        list(
            iter_train(
                fly32.subset(np.arange(20)), tmp_path / "m", TrainConfig(epochs=1), val_data=val
            )
        )


def test_a_second_look_keeps_the_pixels_one_timed_step_would_have_given_away():
    """The clip's 144 px boxes in 7 minutes, on a machine where batch 8 costs more than modelled.

    Timed at batch 8 the plan expected too few steps at batch 4 and shrank the fly from 64
    to 54 px (scale 0.556: 3.76 px median, against 3.04-3.15 px in five runs at 0.667); the
    step timed at the chosen input says what batch 4 really costs.
    """
    sizing = B.Sizing("unet", (144, 144), 16, 96.0)
    top = sizing.scale_for(B.TARGET_ANIMAL_PX)
    speed = 400.0 / 2300 / sizing.model_seconds(top, 4)  # (top, 4) buys 2,300 steps here
    calls = []

    def measure(scale, batch, slow_batch8=1.25, more=1.0):
        calls.append((scale, batch))
        extra = slow_batch8 if batch == 8 else more
        return speed * sizing.model_seconds(scale, batch) * extra

    p = B.plan_budget(sizing, 400.0, measure, torch.device("cpu"))
    assert (p.input_scale, p.batch_size) == (top, 4) and p.steps >= B.TARGET_STEPS
    assert calls[0] == (top, 8) and calls[-1] == (top, 4) and len(calls) == 3
    # where the larger input's own step does not buy the steps, the smaller one stays
    calls.clear()
    p = B.plan_budget(
        sizing,
        400.0,
        lambda s, b: measure(s, b, more=1.3 if s == top else 1.0),
        torch.device("cpu"),
    )
    assert p.input_scale < top and p.steps >= B.TARGET_STEPS and len(calls) == 3
