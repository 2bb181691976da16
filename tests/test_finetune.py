"""Fine-tuning (``TrainConfig.init_from``, ``train --init-from``): the run starts from the given
model's weights and settings; data or settings the weights do not fit are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import napari_leap
from napari_leap.errors import LeapError
from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.dataset import TrainingData, load_box_h5
from napari_leap.pose.train import EpochEnd, Message, TrainConfig, iter_train, train

FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"
TINY = {"arch_params": {"filters": 4, "depth": 2, "max_filters": 16}, "batch_size": 4}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(data, model folder): a tiny model trained for 3 epochs of 8 steps on 24 crops."""
    data = load_box_h5(FLY32).subset(np.arange(24))
    out = tmp_path_factory.mktemp("ft") / "base"
    train(
        data,
        out,
        TrainConfig(epochs=3, steps_per_epoch=8, input_scale=0.25, sigma=5.0, device="cpu", **TINY),
    )
    return data, out


def _params(model):
    """The learned weights in the model's folder (a loaded model's net has its BatchNorm
    folded into the convolutions, with the running statistics that a step of training moves)."""
    state = torch.load(model.model_dir / "best.pt", map_location="cpu", weights_only=True)
    state = state.get("model", state)
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    return {k: v for k, v in state.items() if not k.endswith(buffers)}


def _first_loss(events):
    return next(e for e in events if isinstance(e, EpochEnd)).train_loss


def test_fine_tune_starts_from_the_weights(base, tmp_path):
    from napari_leap.pose.trained import TrainedModel

    data, base_dir = base
    old = _params(TrainedModel.load(base_dir, device="cpu"))
    events: list = []
    # no settings given: scale, sigma, network come from the model (a from-scratch run with
    # these settings would plan another input scale and could not load the weights)
    tuned = train(
        data,
        tmp_path / "tuned",
        TrainConfig(epochs=1, steps_per_epoch=1, lr=1e-12, device="cpu", init_from=str(base_dir)),
        progress=events.append,
    )
    new = _params(tuned)
    assert all(torch.allclose(old[k], new[k], atol=1e-6) for k in old)
    assert any(isinstance(e, Message) and "fine-tuning from base" in e.text for e in events)
    cfg = json.loads((tmp_path / "tuned" / "config.json").read_text())
    base_cfg = json.loads((base_dir / "config.json").read_text())
    assert cfg["input_scale"] == base_cfg["input_scale"] == 0.25 and cfg["sigma"] == 5.0
    assert cfg["arch_params"] == base_cfg["arch_params"]
    assert cfg["training"]["init_from"] == str(base_dir)
    # the first loss of a fine-tune is far below that of the same run from scratch
    ft_events = list(
        iter_train(
            data,
            tmp_path / "ft2",
            TrainConfig(epochs=1, steps_per_epoch=2, device="cpu", init_from=str(base_dir)),
        )
    )
    scratch = list(
        iter_train(
            data,
            tmp_path / "scratch",
            TrainConfig(
                epochs=1, steps_per_epoch=2, input_scale=0.25, sigma=5.0, device="cpu", **TINY
            ),
        )
    )
    assert _first_loss(ft_events) < 0.5 * _first_loss(scratch)


def test_mismatches_are_refused(base, tmp_path):
    data, base_dir = base
    fewer = TrainingData(data.images, data.points[:, :-1], Skeleton(list(data.skeleton.nodes[:-1])))
    with pytest.raises(LeapError, match="32 body parts and the labels 31"):
        train(fewer, tmp_path / "a", TrainConfig(epochs=1, init_from=str(base_dir)))
    small = TrainingData(data.images[:, :96, :96], data.points, data.skeleton)
    with pytest.raises(LeapError, match="192x192 px images"):
        train(small, tmp_path / "b", TrainConfig(epochs=1, init_from=str(base_dir)))
    with pytest.raises(LeapError, match="keeps its network"):
        train(data, tmp_path / "c", TrainConfig(epochs=1, arch="leap_cnn", init_from=str(base_dir)))
    with pytest.raises(LeapError, match="aligns with 'none'"):
        train(data, tmp_path / "d", TrainConfig(epochs=1, align="learned", init_from=str(base_dir)))
    with pytest.raises(LeapError, match="not a finished model folder"):
        train(data, tmp_path / "e", TrainConfig(epochs=1, init_from=str(tmp_path)))


def test_cli_init_from(base, tmp_path, capsys):
    from napari_leap.cli import main

    _, base_dir = base
    out = tmp_path / "cli"
    assert (
        main(
            ["train", str(FLY32), "--out", str(out), "--epochs", "1", "--init-from", str(base_dir)]
        )
        == 0
    )
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["training"]["init_from"] == str(base_dir) and cfg["input_scale"] == 0.25
    code = main(["train", str(FLY32), "--out", str(tmp_path / "x"), "--init-from", str(tmp_path)])
    assert code == 2 and "not a finished model folder" in capsys.readouterr().err


def test_two_stage_models_fine_tune_their_first_stage_too(tmp_path):
    from napari_leap.pose.train.finetune import first_stage_init

    stage = TrainConfig(arch="unet", seed=3)
    old = tmp_path / "old"
    (old / "align").mkdir(parents=True)
    assert first_stage_init(TrainConfig(init_from=str(old)), stage, "align") is stage  # no weights
    (old / "align" / "best.pt").write_bytes(b"")
    tuned = first_stage_init(TrainConfig(init_from=str(old)), stage, "align")
    assert tuned.init_from == str(old / "align") and tuned.seed == 3
    assert first_stage_init(TrainConfig(), stage, "align") is stage
