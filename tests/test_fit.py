"""Model and data must fit: predict says so when the input differs from the training data.

One fly32 model (the default U-Net at input scale 0.25, 100 steps: rough, but its
confidence on the fly crops is well above its confidence on frames without a fly) is
trained once; it is run on what matches it (the held-out fly crops) and on what does
not (a grey mouse-sized frame, colour frames, frames without a fly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_leap
from conftest import write_video
from napari_leap.pose import fit as F
from napari_leap.pose import predict as P
from napari_leap.pose.dataset import load_box_h5
from napari_leap.pose.trained import TrainedModel

FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"


@pytest.fixture(scope="module")
def fly32():
    return load_box_h5(FLY32)


@pytest.fixture(scope="module")
def model_dir(fly32, tmp_path_factory):
    from napari_leap.pose.train import TrainConfig, train

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("fit") / "m"
    try:
        train(
            fly32.subset(np.arange(80)),
            out,
            TrainConfig(epochs=4, steps_per_epoch=25, input_scale=0.25, batch_size=4, device="cpu"),
        )
    finally:
        torch.set_num_threads(before)
    return out


def _predict_cli(model_dir: Path, video: Path, out: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "napari_leap.cli", "predict", str(model_dir), str(video)]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _warnings(stderr: str) -> list[str]:
    return [ln for ln in stderr.replace("\r", "\n").splitlines() if "warning:" in ln]


def test_training_data_are_stored_and_reloaded(model_dir, fly32):
    ref = TrainedModel.load(model_dir, device="cpu").fit_reference
    assert ref["channels"] == 1 and ref["input_size"] == (192, 192)
    assert ref["input_scale"] == 0.25 and ref["frame_sizes"] == [(192, 192)]
    assert ref["animal_extent_px"] == pytest.approx(135.0, abs=3.0)  # the fly32 fly
    conf = ref["val_confidence"]
    cfg = json.loads((model_dir / "config.json").read_text())
    assert conf["n"] == cfg["training"]["n_val"] == 8
    q = [conf["quantiles"][k] for k in ("5", "25", "50", "75", "95")]
    assert q == sorted(q) and 0 < q[0] < q[-1] < 1.5


def test_matching_frames_give_no_warning(model_dir, fly32, tmp_path):
    video = write_video(tmp_path / "flies.mkv", fly32.images[80:100], codec="ffv1")
    r = _predict_cli(model_dir, video, tmp_path / "p.slp")
    assert r.returncode == 0, r.stderr
    assert _warnings(r.stderr) == []


def test_a_grey_mouse_sized_frame_is_refused_in_one_line(model_dir, tmp_path):
    """A full-frame fly model cannot take 832x747 frames: said at once, nothing written."""
    grey = np.full((3, 747, 832, 1), 128, np.uint8)
    video = write_video(tmp_path / "mouse.mkv", grey, codec="ffv1")
    r = _predict_cli(model_dir, video, tmp_path / "p.slp")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "832x747 px" in lines[0] and "192x192 px" in lines[0], r.stderr
    assert not (tmp_path / "p.slp").exists()


def test_colour_frames_are_predicted_with_a_warning(model_dir, fly32, tmp_path):
    grey = fly32.images[80:84].astype(np.float64)
    rgb = np.concatenate([grey, 0.8 * grey, 0.6 * grey], axis=-1).astype(np.uint8)  # tinted
    video = write_video(tmp_path / "rgb.mkv", rgb, codec="ffv1")
    r = _predict_cli(model_dir, video, tmp_path / "p.slp")
    assert r.returncode == 0, r.stderr
    (line,) = _warnings(r.stderr)
    assert "3 channel(s) (colour)" in line and "trained on 1 (grey)" in line


def test_frames_without_a_fly_warn_of_low_confidence(model_dir, fly32, tmp_path):
    """Noise of the crops' size: predictions come back, with the warning on the result."""
    rng = np.random.default_rng(0)
    noise = _h5(tmp_path / "noise.h5", rng.integers(0, 256, (12, 192, 192, 1), dtype=np.uint8))
    told = []
    result = P.predict(model_dir, noise, warn=told.append)
    assert len(result.warnings) == 1 and told == result.warnings
    assert "far below its validation confidence on 12 of 12" in result.warnings[0]
    assert np.isfinite(result.poses[0].points).all()  # predicted, and the user is told
    flies = _h5(tmp_path / "flies.h5", fly32.images[80:100])
    assert P.predict(model_dir, flies).warnings == []


def _h5(path: Path, images: np.ndarray) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f["frames"] = images
    return path


def test_an_aligned_model_on_frames_of_another_size_is_warned_not_refused():
    config = {
        "channels": 1,
        "input_size": [144, 144],
        "alignment": {"n_animals": 2, "box_size": 144},
        "fit": {"frame_sizes": [[1024, 1024]]},
    }
    (text,) = F.input_warnings(config, [(747, 832, 1)])
    assert "832x747 px" in text and "1024x1024 px" in text
    assert F.input_warnings(config, [(1024, 1024, 1)]) == []
    with pytest.raises(F.FitError, match="832x747 px"):
        F.input_warnings({**config, "alignment": None, "input_size": [192, 192]}, [(747, 832, 1)])


def test_confidence_warning_needs_most_animals_far_below_validation():
    config = {"fit": {"val_confidence": {"n": 8, "quantiles": {"5": 0.6, "50": 0.9}}}}
    k = 5
    good = np.full((10, 2, k), 0.8)
    assert F.confidence_warnings(config, [good]) == []
    low = good.copy()
    low[:6] = 0.1  # 12 of 20 animal-frames at 0.1 < 0.75 x 0.6
    (text,) = F.confidence_warnings(config, [low])
    assert "12 of 20" in text
    low[:6, 1] = np.nan  # those frames' second animal not found: 6 of 14 low, not most
    assert F.confidence_warnings(config, [low]) == []
    assert "no animal was found" in F.confidence_warnings(config, [np.full((4, 2, k), np.nan)])[0]
    assert F.confidence_warnings({}, [low]) == []  # a model folder from before the check
