"""A run being trained: the network, its data on the device, the plan and where it stands.

:func:`start_run` builds it once the training data are ready (the split, the
budget's plan, the optimiser, a resumed checkpoint's state) and writes the
model's ``config.json``; the epochs (:mod:`napari_leap.pose.train.loop`) read and change it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.model.skeleton import flip_permutation
from napari_leap.pose.augment import oversampling, rotation_range
from napari_leap.pose.budget import DEFAULT_STEPS, Plan, Sizing, animal_extent, plan_budget
from napari_leap.pose.dataset import TrainingData
from napari_leap.pose.train.checkpoints import Progress, restore, seed_everything, write_json
from napari_leap.pose.train.config import TrainConfig
from napari_leap.pose.train.events import Message
from napari_leap.pose.train.step import Learner, MapSpec, prepare_arrays
from napari_leap.pose.trained import CONFIG, alignment_config

#: most validation samples scored per epoch
MAX_VAL = 256
#: a validation image costs about this fraction of a training step's image (forward only)
VAL_COST = 0.4
#: seconds a time-limited run keeps for its last validation, saving and reloading the model
RESERVE_S = 3.0


@dataclass
class Clock:
    """When the run started and when its time limit ends it (None: no limit)."""

    start: float
    deadline: float | None

    @classmethod
    def starting(cls, time_limit: float | None) -> Clock:
        """A clock started now; a time limit of 0 or None is no limit."""
        t0 = time.monotonic()
        return cls(t0, t0 + time_limit if time_limit else None)

    def training_seconds(self) -> float | None:
        """Training seconds the budget has left (None: no time limit)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic() - RESERVE_S)


@dataclass
class Run:
    """What the epochs read and change; ``config`` holds every setting as chosen."""

    out_dir: Path
    config: TrainConfig
    clock: Clock
    data: TrainingData
    learner: Learner
    sched: Any
    prep: Any
    multiple: int
    tensors: dict  # x_train, p_train, x_val, p_val, p_val_input on the device
    plan: Plan
    epochs: int
    by_time: bool  # epochs until the budget is spent, not a fixed number
    start_epoch: int
    progress: Progress
    model_config: dict
    stop: threading.Event | None = None
    reason: str = "epochs"
    lr_factor: float = 1.0  # the cosine decay's factor at the last step
    lr_done0: float = 0.0  # how far a resumed budget's decay had gone: it finishes it

    @property
    def max_epochs(self) -> float:
        """Epochs the loop may start (a budget's are re-estimated as it goes)."""
        return math.inf if self.by_time else self.epochs

    def settings(self) -> dict:
        """What a resumed run takes over from the checkpoint (it is the same run)."""
        c, spec = self.config, self.data.alignment
        return {
            "arch": c.arch,
            "arch_params": c.arch_params,
            "input_scale": float(chosen(c.input_scale)),
            "sigma": float(chosen(c.sigma)),
            "seed": int(c.seed),
            "batch_size": int(chosen(c.batch_size)),
            "lr": float(chosen(c.lr)),
            "steps_per_epoch": int(chosen(c.steps_per_epoch)),
            "augment": chosen(c.augment).to_dict(),
            "aligned": spec is not None,
            "align_method": spec.get("method", "background") if spec else "none",
            "box_size": (spec or {}).get("box_size"),
        }


def chosen(value):
    """A setting the run has chosen by now (None only before :func:`start_run`)."""
    assert value is not None
    return value


def _flip_pairs(skeleton) -> list[tuple[int, int]]:
    """Left/right pairs a flip swaps: the skeleton's, else proposed from the names."""
    from napari_leap.model.skeleton import propose_symmetries

    return list(skeleton.symmetries or propose_symmetries(skeleton.nodes))


def _split(data: TrainingData, val_data, config: TrainConfig):
    """``(train, validation, note)``: contiguous blocks of time, or the given held-out set."""
    from napari_leap.pose.dataset import split_blocks

    if val_data is not None:
        if len(val_data) > MAX_VAL:
            val_data = val_data.subset(
                np.linspace(0, len(val_data) - 1, MAX_VAL).round().astype(int)
            )
        return data.subset(np.arange(len(data))), val_data, None
    train_idx, val_idx = split_blocks(data.groups, config.val_fraction, seed=config.seed)
    if len(val_idx) > MAX_VAL:  # evenly thinned: validation stays a small part of an epoch
        val_idx = val_idx[np.linspace(0, len(val_idx) - 1, MAX_VAL).round().astype(int)]
    train_set = data.subset(train_idx)
    if len(val_idx):
        return train_set, data.subset(val_idx), None
    note = "too few labelled frames for a validation split; validating on training data"
    return train_set, train_set, note


def start_run(
    data: TrainingData, val_data, config: TrainConfig, out_dir: Path, ckpt, clock: Clock, jitter
) -> Generator[object, None, Run]:
    """The run ready for its first epoch (yields what it chose); writes ``config.json``."""
    from napari_leap.pose.budget import NetSpec
    from napari_leap.pose.models import DEFAULT_PARAMS
    from napari_leap.pose.trained import Preprocessor, choose_device

    pairs = _flip_pairs(data.skeleton)
    aligned = data.alignment is not None
    turn = 180.0 if aligned else rotation_range(data.points)
    if not aligned and config.augment is None:
        yield Message(f"full frames turned by up to {turn:.0f} degrees: as much as the labels turn")
    config = config.with_defaults(aligned, bool(pairs), jitter, turn)
    dev = choose_device(config.device)
    params = {**DEFAULT_PARAMS.get(config.arch, {}), **(config.arch_params or {})}
    config = replace(config, arch_params=params)
    spec = NetSpec(config.arch, params, data.channels, len(data.skeleton))
    seed_everything(config.seed)
    net = spec.build(dev)
    if config.init_from is not None and ckpt is None:
        from napari_leap.pose.train.finetune import load_weights

        load_weights(net, config.init_from)
    stride = int(getattr(net, "output_stride", 1))
    multiple = int(getattr(net, "size_multiple", 1))
    train_set, val_set, note = _split(data, val_data, config)
    if note:
        yield Message(note)
    sizing = Sizing(config.arch, data.input_size, multiple, animal_extent(train_set.points))
    plan = plan_budget(
        sizing,
        clock.training_seconds(),
        _step_timer(spec, sizing, chosen(config.sigma), dev, clock),
        dev,
        input_scale=config.input_scale,
        batch_size=config.batch_size,
        overhead=VAL_COST * len(val_set) / max(len(train_set), 25 * (config.batch_size or 8)),
    )
    config, epochs, by_time = _schedule(config, plan, len(train_set), clock, ckpt)
    start = ckpt["epoch"] if ckpt is not None else 0
    steps = config.steps_per_epoch
    yield Message(
        plan.text if by_time else f"{plan.text}; {epochs - start} epochs of {steps} steps"
    )
    prep = Preprocessor(data.input_size, plan.input_scale, data.channels, multiple, dev)
    oversample = oversampling(prep.input_size, prep.scaled)
    tensors = _tensors(prep, train_set, val_set, oversample)
    maps = MapSpec(
        (prep.padded[0] // stride, prep.padded[1] // stride),
        stride,
        chosen(config.sigma) * float(np.mean(prep.ratio)),
    )
    learner, sched = _learner(net, config, maps, flip_permutation(len(data.skeleton), pairs))
    learner.oversample = oversample
    progress = restore(ckpt, learner, sched) if ckpt is not None else Progress()
    run = Run(
        out_dir=out_dir,
        config=config,
        clock=clock,
        data=data,
        learner=learner,
        sched=sched,
        prep=prep,
        multiple=multiple,
        tensors=tensors,
        plan=plan,
        epochs=epochs,
        by_time=by_time,
        start_epoch=progress.epoch,
        progress=progress,
        model_config={},
        lr_done0=progress.counters["lr_done"],
    )
    run.model_config = _model_config(run, pairs, sizing.extent)
    write_json(out_dir / CONFIG, run.model_config)
    return run


def _schedule(config: TrainConfig, plan: Plan, n_train: int, clock: Clock, ckpt):
    """``(config, epochs, by_time)``: the plan's scale and batch, and how long to train.

    Epochs given: at most that many; else the budget's end, or DEFAULT_STEPS without one.
    """
    steps = config.steps_per_epoch or max(math.ceil(n_train / plan.batch_size), 25)
    by_time = config.epochs is None and clock.deadline is not None
    epochs = config.epochs
    if epochs is None:
        epochs = math.ceil((plan.steps if by_time else DEFAULT_STEPS) / steps)
        if by_time and ckpt is not None:
            epochs += ckpt["epoch"]
    config = replace(
        config, input_scale=plan.input_scale, batch_size=plan.batch_size, steps_per_epoch=steps
    )
    return config, epochs, by_time


def _tensors(prep, train_set: TrainingData, val_set: TrainingData, oversample: int) -> dict:
    """The training and validation arrays on the device, scaled once (training's oversampled)."""
    import torch

    x_train, p_train = prepare_arrays(prep, train_set, oversample)
    x_val, p_val = prepare_arrays(prep, val_set)
    p_val_input = torch.as_tensor(val_set.points, dtype=torch.float32)
    return {
        "x_train": x_train,
        "p_train": p_train,
        "x_val": x_val,
        "p_val": p_val,
        "p_val_input": p_val_input,
    }


def _learner(net, config: TrainConfig, maps: MapSpec, flip_perm: list[int]):
    """Adam with a plateau scheduler, the loss scaler and the run's random stream."""
    import torch

    lr = chosen(config.lr)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # at most three halvings, and not before 10 flat epochs: the cosine decay does the rest.
    # With patience 5 and down to lr / 64, fly32's noisy 8-frame validation had the rate at
    # 1e-5 by 40 % of a 10-minute run, which then learnt nothing (2.42 px median).
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=0.5, patience=10, min_lr=lr / 8
    )
    cuda = next(net.parameters()).device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    gen = torch.Generator().manual_seed(config.seed)
    augment = chosen(config.augment)
    return Learner(net, opt, scaler, gen, augment, flip_perm, maps), sched


def _step_timer(spec, sizing: Sizing, sigma: float, device, clock: Clock):
    """``measure(scale, batch)``: seconds per training step here, at that input.

    Each measurement spends at most 2 % of the time left (after one warm-up step).
    """
    from napari_leap.pose.budget import time_training_steps
    from napari_leap.pose.trained import scaled_size

    def measure(scale: float, batch: int) -> float:
        (h, w), padded = scaled_size(sizing.input_size, scale, sizing.multiple)
        ratio = (w / sizing.input_size[1] + h / sizing.input_size[0]) / 2
        left = clock.deadline - time.monotonic() if clock.deadline is not None else math.inf
        return time_training_steps(
            spec,
            padded,
            batch,
            device,
            sigma=sigma * ratio,
            max_seconds=0.02 * left,
            oversample=oversampling(sizing.input_size, (h, w)),
        )

    return measure


def _model_config(run: Run, pairs, extent: float) -> dict:
    """The model folder's ``config.json``: what prediction builds the network and reads input by."""
    c, data = run.config, run.data
    return {
        "format_version": 1,
        "arch": c.arch,
        "arch_params": c.arch_params,
        "skeleton": data.skeleton.to_dict(),
        "channels": data.channels,
        "input_size": list(data.input_size),
        "input_scale": float(chosen(c.input_scale)),
        "output_stride": run.learner.maps.stride,
        "size_multiple": run.multiple,
        "sigma": float(chosen(c.sigma)),
        "alignment": alignment_config(run.out_dir, data.alignment),
        "training": {
            "source": data.description,
            "n_train": len(run.tensors["x_train"]),
            "n_val": len(run.tensors["x_val"]),
            "epochs": int(run.epochs),
            "batch_size": int(chosen(c.batch_size)),
            "steps_per_epoch": int(chosen(c.steps_per_epoch)),
            "lr": float(chosen(c.lr)),
            "seed": int(c.seed),
            "val_fraction": float(c.val_fraction),
            "augment": chosen(c.augment).to_dict(),
            "flip_pairs": [list(p) for p in pairs],
            "device": str(run.prep.device),
            "time_limit": c.time_limit,
            "schedule": "time" if run.by_time else "epochs",
            "patience": c.patience,
            "init_from": str(c.init_from) if c.init_from is not None else None,
            "plan": asdict(run.plan),
        },
        # what predict compares a new input with (napari_leap.pose.fit)
        "fit": {
            "frame_sizes": [list(hw) for hw in _frame_sizes(data)],
            "animal_extent_px": extent if math.isfinite(extent) else None,
            "val_confidence": None,
        },
    }


def _frame_sizes(data) -> list[tuple[int, ...]]:
    """(h, w) of the frames the training images came from (boxes: their videos' frames)."""
    sizes = getattr(data, "frame_sizes", None)
    if sizes:
        return [tuple(int(v) for v in hw) for hw in sizes]
    return [] if data.alignment is not None else [tuple(data.input_size)]
