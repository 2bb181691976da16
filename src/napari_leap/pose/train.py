"""Training: labels -> a model folder, as a generator of progress events.

``iter_train`` yields :class:`TrainStarted`, :class:`Message`,
:class:`BatchEnd` (throttled) and :class:`EpochEnd` events and returns the
:class:`~napari_leap.pose.trained.TrainedModel`; the widget, the CLI and the
tests all consume the same events. Closing the generator, setting ``stop``
or reaching ``time_limit`` ends after the current batch, validates once more
and keeps the best checkpoint. ``last.pt`` is written after every epoch, so a
run killed at any moment resumes (``resume=True``) losing at most one epoch.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.pose.budget import DEFAULT_STEPS, animal_extent, plan_budget
from napari_leap.pose.fit import confidence_summary
from napari_leap.pose.trained import (
    BEST,
    CONFIG,
    HISTORY,
    LAST,
    TrainedModel,
    alignment_config,
    channels_last,
)

DEFAULT_ARCH = "unet"
#: fewer validation images than this get a warning: their error is no measure of the model
MIN_VALIDATION = 5
#: most validation samples scored per epoch
MAX_VAL = 256
#: confidence-map sigma in input pixels: LEAP's 5 px for its networks. The U-Net learns much
#: faster from 10 px targets: on fly32 in 9.5 CPU minutes 3.5 px median vs 33 px with 5 px
#: (benchmarks/train_fly32.json); peaks stay subpixel since the fit is on the log-Gaussian.
DEFAULT_SIGMA = {"leap_cnn": 5.0, "leap_cnn_fast": 5.0, "unet": 10.0}
#: Adam's learning rate: LEAP's 1e-3 for its networks; the batch-normalised U-Net takes 2e-3,
#: which on fly32 in 10 CPU minutes gave 1.86 px median vs 2.29 px at 1e-3 (same run otherwise)
DEFAULT_LR = {"leap_cnn": 1e-3, "leap_cnn_fast": 1e-3, "unet": 2e-3}
#: a validation image costs about this fraction of a training step's image (forward only)
_VAL_COST = 0.4
#: seconds a time-limited run keeps for its last validation, saving and reloading the model
_RESERVE_S = 3.0


# -- events -------------------------------------------------------------------------------
@dataclass
class Message:
    text: str


@dataclass
class TrainStarted:
    n_train: int
    n_val: int
    device: str
    arch: str
    aligned: bool
    input_size: tuple[int, int]
    input_scale: float
    start_epoch: int
    epochs: int
    stage: str = "pose"  # "alignment" for the first stage of learned alignment


@dataclass
class BatchEnd:
    epoch: int  # 1-based epoch in progress
    batch: int  # 1-based
    n_batches: int
    loss: float


@dataclass
class EpochEnd:
    epoch: int  # 1-based, completed
    epochs: int
    train_loss: float
    val_loss: float
    val_error_px: float  # mean over validation points, input-image pixels
    val_error_median_px: float
    per_node_val_error: list[float]
    lr: float
    elapsed: float  # seconds since this run started
    best: bool
    partial: bool = False  # ended early by stop / time limit


@dataclass
class TrainFinished:
    reason: str  # "epochs", "early_stopping", "time_limit", "stopped"
    best_epoch: int
    best_val_error_px: float
    model_dir: str
    history: list[dict] = field(default_factory=list, repr=False)


def train(source, out_dir, *, progress: Callable | None = None, **kwargs) -> TrainedModel:
    """Train to completion (see :func:`iter_train`); ``progress`` is called with every event."""
    from napari_leap.progress import run_to_end

    return run_to_end(iter_train(source, out_dir, **kwargs), progress)


def few_validation_warning(n_val: int) -> str:
    """What to tell a user whose validation set is too small to judge the model ("" if fine)."""
    if n_val >= MIN_VALIDATION:
        return ""
    return (
        f"only {n_val} validation image{'s' if n_val != 1 else ''}: the validation error says "
        "little about the model; label more frames (about one in ten is held out for validation)"
    )


def iter_train(
    source,
    out_dir,
    *,
    arch: str = DEFAULT_ARCH,
    arch_params: dict | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    time_limit: float | None = None,
    input_scale: float | None = None,
    align: bool | str | None = None,
    anchor: str | None = None,
    heading_part: str | None = None,
    box_size: int | None = None,
    align_options: dict | None = None,
    alignments: dict | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    sigma: float | None = None,
    lr: float | None = None,
    val_fraction: float = 0.1,
    val_data=None,
    patience: int | None = None,
    augment=None,
    resume: bool = False,
    device=None,
    stop: threading.Event | None = None,
) -> Generator[object, None, TrainedModel]:
    """Train a pose model from ``source`` into the folder ``out_dir``.

    ``source``: labels file, ``sleap_io.Labels``, project (folder), box ``.h5`` or
    :class:`~napari_leap.pose.dataset.TrainingData`. ``val_data``: held-out labels (any
    ``source`` kind, prepared like ``source``) instead of a block split of ``source``.
    ``alignments``: video index -> :class:`~napari_leap.align.alignment.Alignment` already
    computed. ``time_limit`` (seconds) covers everything from this call on, alignment
    included, and is a budget to use: the input scale and batch are chosen so that it buys
    enough steps (:mod:`napari_leap.pose.budget`), the learning rate decays over it and,
    unless ``epochs`` is given, training runs until it is spent. Without a time limit
    ``epochs`` defaults to :data:`~napari_leap.pose.budget.DEFAULT_STEPS` steps' worth.
    ``patience``: epochs without a better validation before stopping (default: never, the
    decay over the run and the best checkpoint kept make early stopping unnecessary).
    ``align``: None (chosen from the labels), ``"background"`` (or True), ``"learned"`` (a
    first stage trained first, into ``out_dir/align``, from the same labels: no video
    needed; ``anchor`` and ``heading_part`` name its two body parts) or ``"none"`` (or
    False: full frames).
    """
    import torch

    from napari_leap.model.skeleton import propose_symmetries
    from napari_leap.pose.augment import AugmentConfig
    from napari_leap.pose.dataset import load_training_data, split_blocks
    from napari_leap.pose.models import DEFAULT_PARAMS, build_model
    from napari_leap.pose.trained import Preprocessor, choose_device

    t0 = time.monotonic()
    deadline = t0 + time_limit if time_limit else None
    out_dir = Path(out_dir)
    last_path = out_dir / LAST
    if not resume and (last_path.exists() or (out_dir / BEST).exists()):
        raise LeapError(f"{out_dir} holds a model already; choose another folder or resume it.")
    resuming = resume and last_path.exists()
    ckpt = _load_checkpoint(last_path) if resuming else None
    if ckpt is not None:  # the saved settings win: a resumed run is the same run
        saved = ckpt["settings"]
        arch, arch_params, input_scale, sigma, seed = (
            saved[k] for k in ("arch", "arch_params", "input_scale", "sigma", "seed")
        )
        batch_size, lr, steps_per_epoch = saved["batch_size"], saved["lr"], saved["steps_per_epoch"]
        augment = AugmentConfig(**saved["augment"])
        align = saved.get("align_method", saved["aligned"])
        box_size = saved.get("box_size") or box_size

    messages: list[str] = []
    data = load_training_data(
        source,
        align=align,
        anchor=anchor,
        heading_part=heading_part,
        box_size=box_size,
        align_options=align_options,
        alignments=alignments,
        progress=messages.append,
        deadline=deadline,
    )
    for text in messages:
        yield Message(text)
    if val_data is not None:  # checked before the first stage spends its share of the budget
        val_data = _load_val(val_data, data, align_options, deadline)
    jitter = {}
    if data.first_stage is not None:  # learned alignment: its first stage trains first
        from napari_leap.align.learned import iter_train_first_stage, jitter_for

        share = None if deadline is None else 0.3 * (deadline - time.monotonic())
        errors = yield from iter_train_first_stage(
            data,
            out_dir,
            time_limit=share,
            resume=resume,
            seed=seed,
            device=device,
            stop=stop,
            epochs=epochs,
        )
        data.alignment["first_stage_errors"] = errors
        jitter = jitter_for(errors)
    aligned = data.alignment is not None
    skeleton = data.skeleton
    pairs = skeleton.symmetries or propose_symmetries(skeleton.nodes)
    flip_perm = list(range(len(skeleton)))
    for a, b in pairs:
        flip_perm[a], flip_perm[b] = b, a
    if augment is None:
        # aligned boxes are head-up: small rotations; anything else may face any way
        augment = AugmentConfig(
            **{"rotation": 15.0 if aligned else 180.0, "flip": bool(pairs), **jitter}
        )
    elif isinstance(augment, dict):
        augment = AugmentConfig(**augment)

    if sigma is None:
        sigma = DEFAULT_SIGMA.get(arch, 5.0)
    if lr is None:
        lr = DEFAULT_LR.get(arch, 1e-3)
    dev = choose_device(device)
    cuda = dev.type == "cuda"
    params = {**DEFAULT_PARAMS.get(arch, {}), **(arch_params or {})}
    _seed_everything(seed)
    net = build_model(arch, data.channels, len(skeleton), **params).to(dev)
    stride = int(getattr(net, "output_stride", 1))
    multiple = int(getattr(net, "size_multiple", 1))
    if channels_last(dev):
        net = net.to(memory_format=torch.channels_last)

    # split: contiguous blocks of time, or the given held-out set
    if val_data is not None:
        train_idx, val_idx = np.arange(len(data)), np.arange(0)
        if len(val_data) > MAX_VAL:
            val_data = val_data.subset(
                np.linspace(0, len(val_data) - 1, MAX_VAL).round().astype(int)
            )
    else:
        train_idx, val_idx = split_blocks(data.groups, val_fraction, seed=seed)
        if len(val_idx) > MAX_VAL:  # evenly thinned: validation stays a small part of an epoch
            val_idx = val_idx[np.linspace(0, len(val_idx) - 1, MAX_VAL).round().astype(int)]
    train_set = data.subset(train_idx)
    if val_data is not None:
        val_set = val_data
    elif len(val_idx):
        val_set = data.subset(val_idx)
    else:
        val_set = train_set
        yield Message("too few labelled frames for a validation split; validating on training data")
    extent = animal_extent(train_set.points)
    plan = plan_budget(
        arch=arch,
        input_size=data.input_size,
        extent=extent,
        multiple=multiple,
        seconds=_seconds_left(deadline),
        measure=_step_timer(arch, params, data, len(skeleton), multiple, sigma, dev, deadline),
        device=dev,
        input_scale=input_scale,
        batch_size=batch_size,
        overhead=_VAL_COST * len(val_set) / max(len(train_set), 25 * (batch_size or 8)),
    )
    input_scale, batch_size = plan.input_scale, plan.batch_size
    if steps_per_epoch is None:
        steps_per_epoch = max(math.ceil(len(train_set) / batch_size), 25)
    # epochs given: at most that many; else the budget's end, or DEFAULT_STEPS without one
    by_time = epochs is None and deadline is not None
    if epochs is None:
        epochs = math.ceil((plan.steps if by_time else DEFAULT_STEPS) / steps_per_epoch)
        if by_time and ckpt is not None:
            epochs += ckpt["epoch"]
    max_epochs = math.inf if by_time else epochs
    start = ckpt["epoch"] if ckpt is not None else 0
    yield Message(
        plan.text if by_time else f"{plan.text}; {epochs - start} epochs of {steps_per_epoch} steps"
    )
    prep = Preprocessor(data.input_size, input_scale, data.channels, multiple, dev)

    x_train, p_train = _prepare(prep, train_set)
    x_val, p_val = _prepare(prep, val_set)
    p_val_input = torch.as_tensor(val_set.points, dtype=torch.float32)
    out_h, out_w = prep.padded[0] // stride, prep.padded[1] // stride
    sigma_scaled = sigma * float(np.mean(prep.ratio))

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    # at most three halvings, and not before 10 flat epochs: the cosine decay does the rest.
    # With patience 5 and down to lr / 64, fly32's noisy 8-frame validation had the rate at
    # 1e-5 by 40 % of a 10-minute run, which then learnt nothing (2.42 px median).
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=0.5, patience=10, min_lr=lr / 8
    )
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    best = {"metric": math.inf, "epoch": 0, "per_node": [], "median": math.nan}
    bad_epochs = 0
    start_epoch = 0
    counters = {"steps": 0, "lr_done": 0.0}  # steps run, and how far the decay has gone
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        gen.set_state(ckpt["rng"]["generator"])
        _set_rng(ckpt["rng"])
        history, best, bad_epochs, start_epoch = (
            ckpt["history"],
            ckpt["best"],
            ckpt["bad_epochs"],
            ckpt["epoch"],
        )
        counters.update(ckpt.get("counters", {}))
    lr_done0 = counters["lr_done"]  # a resumed budget finishes the decay it started
    settings = {
        "arch": arch,
        "arch_params": params,
        "input_scale": float(input_scale),
        "sigma": float(sigma),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "steps_per_epoch": int(steps_per_epoch),
        "augment": augment.to_dict(),
        "aligned": data.alignment is not None,
        "align_method": (data.alignment or {}).get("method", "background") if aligned else "none",
        "box_size": (data.alignment or {}).get("box_size"),
    }
    config = {
        "format_version": 1,
        "arch": arch,
        "arch_params": params,
        "skeleton": skeleton.to_dict(),
        "channels": data.channels,
        "input_size": list(data.input_size),
        "input_scale": float(input_scale),
        "output_stride": stride,
        "size_multiple": multiple,
        "sigma": float(sigma),
        "alignment": alignment_config(out_dir, data.alignment),
        "training": {
            "source": data.description,
            "n_train": len(train_set),
            "n_val": len(val_set),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "steps_per_epoch": int(steps_per_epoch),
            "lr": float(lr),
            "seed": int(seed),
            "val_fraction": float(val_fraction),
            "augment": augment.to_dict(),
            "flip_pairs": [list(p) for p in pairs],
            "device": str(dev),
            "time_limit": time_limit,
            "schedule": "time" if by_time else "epochs",
            "patience": patience,
            "plan": asdict(plan),
        },
        # what predict compares a new input with (napari_leap.pose.fit)
        "fit": {
            "frame_sizes": [list(hw) for hw in _frame_sizes(data)],
            "animal_extent_px": extent if math.isfinite(extent) else None,
            "val_confidence": None,
        },
    }
    _write_json(out_dir / CONFIG, config)
    yield TrainStarted(
        len(train_set),
        len(val_set),
        str(dev),
        arch,
        data.alignment is not None,
        data.input_size,
        float(input_scale),
        start_epoch,
        int(epochs),
    )

    def save(improved: bool) -> None:
        """Checkpoint the run as it stands now (``epoch`` etc. are read at call time)."""
        _save(
            out_dir,
            net,
            opt,
            sched,
            scaler,
            gen,
            epoch,
            history,
            best,
            bad_epochs,
            settings,
            improved,
            counters,
        )

    reason = "epochs"
    # before the first validation, guess its cost in training batches (forward only, ~1/3)
    val_guess = _VAL_COST * len(x_val) / batch_size
    batch_seconds = None
    val_seconds = 0.0
    run_start = time.monotonic()
    epoch = start_epoch
    try:
        while epoch < max_epochs:
            epoch += 1
            net.train()
            losses = []
            partial = False
            every = max(1, steps_per_epoch // 10)
            for step in range(steps_per_epoch):
                now = time.monotonic()
                if stop is not None and stop.is_set():
                    reason, partial = "stopped", True
                    break
                if (
                    deadline is not None
                    and batch_seconds is not None
                    and now + batch_seconds + (val_seconds or val_guess * batch_seconds) + 1.0
                    > deadline
                ):
                    reason, partial = "time_limit", True
                    break
                idx = torch.randint(0, len(x_train), (batch_size,), generator=gen)
                spent = (now - run_start) / (deadline - run_start) if deadline else 0.0
                if by_time:
                    done = lr_done0 + (1 - lr_done0) * spent
                else:
                    done = max((epoch - 1 + step / steps_per_epoch) / epochs, spent)
                counters["lr_done"] = done
                factor = cosine_factor(done)
                with _scaled_lr(opt, factor):
                    loss = _train_step(
                        net,
                        opt,
                        scaler,
                        x_train,
                        p_train,
                        idx,
                        augment,
                        flip_perm,
                        gen,
                        out_h,
                        out_w,
                        stride,
                        sigma_scaled,
                        cuda,
                    )
                losses.append(loss)
                counters["steps"] += 1
                dt = time.monotonic() - now
                batch_seconds = dt if batch_seconds is None else 0.8 * batch_seconds + 0.2 * dt
                if (step + 1) % every == 0 or step + 1 == steps_per_epoch:
                    yield BatchEnd(epoch, step + 1, steps_per_epoch, loss)
            if not losses:  # stopped before this epoch trained anything
                epoch -= 1
                break
            t_val = time.monotonic()
            if by_time:  # the epochs the rest of the budget allows at the pace so far
                pace = (t_val - run_start) / (epoch - start_epoch)
                epochs = epoch + max(0, round((deadline - t_val) / pace))
            event, improved = _end_epoch(
                net,
                prep,
                x_val,
                p_val,
                p_val_input,
                out_h,
                out_w,
                stride,
                sigma_scaled,
                epoch,
                epochs,
                losses,
                opt,
                run_start,
                best,
                partial,
                cuda,
                factor,
            )
            val_seconds = time.monotonic() - t_val
            sched.step(event.val_loss)
            bad_epochs = 0 if improved else bad_epochs + 1
            history.append(asdict(event))
            save(improved)
            yield event
            if partial:
                break
            if patience is not None and bad_epochs >= patience:
                reason = "early_stopping"
                break
    except GeneratorExit:
        reason = "stopped"
    if not (out_dir / BEST).exists():  # nothing validated yet: keep what there is
        save(True)
    config["training"].update(
        {
            "epochs_done": epoch,
            "stopped_reason": reason,
            "best_epoch": best["epoch"],
            "best_val_error_px": best["metric"] if math.isfinite(best["metric"]) else None,
            "best_val_error_median_px": best.get("median"),
            "per_node_val_error": best.get("per_node", []),
            "seconds": round(time.monotonic() - t0, 2),
            "steps_done": counters["steps"],
        }
    )
    config["fit"]["val_confidence"] = best.get("confidence")
    _write_json(out_dir / CONFIG, config)
    model = TrainedModel.load(out_dir, device=dev)
    if reason != "stopped" or stop is not None:
        with contextlib.suppress(GeneratorExit):
            yield TrainFinished(reason, best["epoch"], best["metric"], str(out_dir), history)
    return model


# -- preparation --------------------------------------------------------------------------
def _seconds_left(deadline: float | None) -> float | None:
    """Training seconds the budget has left (None: no time limit)."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic() - _RESERVE_S)


def _step_timer(arch, params, data, n_nodes, multiple, sigma, device, deadline):
    """``measure(scale, batch)``: seconds per training step here, at that input.

    Each measurement spends at most 2 % of the time left (after one warm-up step).
    """
    from napari_leap.pose.budget import time_training_steps
    from napari_leap.pose.trained import scaled_size

    def measure(scale: float, batch: int) -> float:
        (h, w), padded = scaled_size(data.input_size, scale, multiple)
        ratio = (w / data.input_size[1] + h / data.input_size[0]) / 2
        left = deadline - time.monotonic() if deadline is not None else math.inf
        return time_training_steps(
            arch,
            params,
            data.channels,
            n_nodes,
            padded,
            batch,
            device,
            sigma=sigma * ratio,
            max_seconds=0.02 * left,
        )

    return measure


def _load_val(val_data, data, align_options, deadline):
    """Validation labels prepared as the training data were (same boxes or frames)."""
    from napari_leap.pose.dataset import TrainingDataError, load_training_data

    spec = data.alignment or {}
    method = spec.get("method", "background") if spec else "none"
    val = load_training_data(
        val_data,
        align=method,
        anchor=spec.get("anchor"),
        heading_part=spec.get("heading_part"),
        box_size=spec.get("box_size"),
        align_options=align_options,
        deadline=deadline,
    )
    (vh, vw), (th, tw) = val.input_size, data.input_size
    if not spec and val.channels == data.channels and vh <= th and vw <= tw:
        from napari_leap.io.video import pad_to  # full frames: padded as the training frames

        val.images = np.stack([pad_to(f, (th, tw)) for f in val.images])
    if val.input_size != data.input_size or val.channels != data.channels:
        raise TrainingDataError(
            f"the validation images are {val.input_size[1]}x{val.input_size[0]} px with "
            f"{val.channels} channel(s) but the training images {data.input_size[1]}x"
            f"{data.input_size[0]} px with {data.channels}; give validation labels of the same "
            "videos or camera."
        )
    if list(val.skeleton.nodes) != list(data.skeleton.nodes):
        raise TrainingDataError(
            "the validation labels have other body parts than the training labels; "
            "label them with the same skeleton."
        )
    return val


def _frame_sizes(data) -> list[tuple[int, int]]:
    """(h, w) of the frames the training images came from (boxes: their videos' frames)."""
    sizes = getattr(data, "frame_sizes", None)
    if sizes:
        return [tuple(int(v) for v in hw) for hw in sizes]
    return [] if data.alignment is not None else [tuple(data.input_size)]


# -- steps --------------------------------------------------------------------------------
def cosine_factor(done: float, floor: float = 0.02) -> float:
    """Learning-rate multiplier over the run (fraction of epochs or of the time budget).

    A cosine decay on top of reduce-on-plateau: the last stretch of a short,
    time-boxed run fine-tunes at a low rate instead of ending mid-stride.
    """
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(max(done, 0.0), 1.0)))


@contextlib.contextmanager
def _scaled_lr(opt, factor: float):
    """Step with ``factor`` x the plateau scheduler's rate, which stays what it tracks."""
    base = [g["lr"] for g in opt.param_groups]
    for g, lr in zip(opt.param_groups, base, strict=True):
        g["lr"] = lr * factor
    try:
        yield
    finally:
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr


def _prepare(prep, data):
    """Scaled images once, as uint8 on the device (small), and points in scaled pixels."""
    import torch

    chunks = []
    for i in range(0, len(data), 64):
        chunks.append((prep(data.images[i : i + 64]) * 255).round().to(torch.uint8))
    points = prep.to_scaled(torch.as_tensor(data.points, dtype=torch.float32)).to(prep.device)
    return torch.cat(chunks), points


def _train_step(
    net, opt, scaler, x_all, p_all, idx, augment, flip_perm, gen, out_h, out_w, stride, sigma, cuda
) -> float:
    import torch

    from napari_leap.pose.augment import augment_batch
    from napari_leap.pose.confmaps import make_confmaps

    idx = idx.to(x_all.device)
    x = x_all[idx].float() / 255
    x, p = augment_batch(x, p_all[idx], augment, flip_perm, generator=gen)
    target = make_confmaps(p, out_h, out_w, stride, sigma)
    if channels_last(x.device):
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(x.device.type, enabled=cuda, dtype=torch.float16):
        out = net(x)
    loss = torch.nn.functional.mse_loss(out.float(), target)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return float(loss.detach())


def evaluate_batches(net, prep, x, out_h, out_w, stride, sigma, cuda, targets=None, batch=32):
    """Peaks (N, K, 2) in input pixels, scores, and the MSE against ``targets`` (scaled points).

    Targets (N, A, K, 2) of several animals per image give peaks (N, A, K, 2): each
    animal's part is the local maximum matched to it (:func:`~napari_leap.pose.confmaps.match_peaks`).
    """
    import torch

    from napari_leap.pose.confmaps import find_local_peaks, find_peaks, make_confmaps, match_peaks

    net.eval()
    pts, scores, loss_sum = [], [], 0.0
    with torch.inference_mode(), torch.autocast(x.device.type, enabled=cuda, dtype=torch.float16):
        for i in range(0, len(x), batch):
            xb = x[i : i + batch].float() / 255
            if channels_last(xb.device):
                xb = xb.contiguous(memory_format=torch.channels_last)
            out = net(xb).float()
            if targets is not None:
                t = make_confmaps(targets[i : i + batch], out_h, out_w, stride, sigma)
                loss_sum += float(torch.nn.functional.mse_loss(out, t, reduction="sum"))
            if targets is not None and targets.ndim == 4:
                p, s = find_local_peaks(out, stride, targets.shape[1])
                p, s = match_peaks(p, s, targets[i : i + batch])
            else:
                p, s = find_peaks(out, stride)
            pts.append(prep.to_input(p).cpu())
            scores.append(s.cpu())
    n_el = len(x) * out_h * out_w * (targets.shape[-2] if targets is not None else 1)
    return torch.cat(pts), torch.cat(scores), loss_sum / max(n_el, 1)


def _end_epoch(
    net,
    prep,
    x_val,
    p_val,
    p_val_input,
    out_h,
    out_w,
    stride,
    sigma,
    epoch,
    epochs,
    losses,
    opt,
    run_start,
    best,
    partial,
    cuda,
    lr_factor,
):
    import torch

    pts, scores, val_loss = evaluate_batches(
        net, prep, x_val, out_h, out_w, stride, sigma, cuda, targets=p_val
    )
    err = torch.linalg.norm(pts - p_val_input, dim=-1).numpy()  # (N, K), NaN where unlabelled
    err = err.reshape(-1, err.shape[-1])  # several animals per image: one row per animal
    per_node = (
        [float(v) for v in np.nanmean(np.where(np.isfinite(err), err, np.nan), 0)]
        if np.isfinite(err).any()
        else []
    )
    mean_err = float(np.nanmean(err)) if np.isfinite(err).any() else math.inf
    median_err = float(np.nanmedian(err)) if np.isfinite(err).any() else math.inf
    improved = mean_err < best["metric"]
    if improved:
        best.update(
            metric=mean_err,
            epoch=epoch,
            per_node=per_node,
            median=median_err,
            confidence=confidence_summary(np.nanmedian(scores.numpy(), -1)),
        )
    event = EpochEnd(
        epoch,
        epochs,
        float(np.mean(losses)),
        val_loss,
        mean_err,
        median_err,
        per_node,
        float(opt.param_groups[0]["lr"]) * lr_factor,
        time.monotonic() - run_start,
        improved,
        partial,
    )
    return event, improved


# -- persistence --------------------------------------------------------------------------
def _save(
    out_dir: Path,
    net,
    opt,
    sched,
    scaler,
    gen,
    epoch,
    history,
    best,
    bad_epochs,
    settings,
    improved,
    counters,
) -> None:
    """``best.pt`` when improved, then ``last.pt`` and ``history.json``, each atomically."""
    import torch

    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if improved:
        _atomic_torch_save(out_dir / BEST, {"model": state, "epoch": epoch})
    _atomic_torch_save(
        out_dir / LAST,
        {
            "model": state,
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "epoch": epoch,
            "history": history,
            "best": best,
            "bad_epochs": bad_epochs,
            "settings": settings,
            "counters": dict(counters),
            "rng": {
                "generator": gen.get_state(),
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),  # noqa: NPY002 - restore global state too
                "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        },
    )
    _write_json(out_dir / HISTORY, history)


def _atomic_torch_save(path: Path, obj) -> None:
    import torch

    from napari_leap.io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def _write_json(path: Path, obj) -> None:
    from napari_leap.io.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default))


def _json_default(o):
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _load_checkpoint(path: Path) -> dict:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise LeapError(
            f"{path} is damaged ({type(e).__name__}); train into a new folder."
        ) from None


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may draw from it
    torch.manual_seed(seed)


def _set_rng(rng: dict) -> None:
    import torch

    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])  # noqa: NPY002
    random.setstate(rng["python"])
    if rng.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
