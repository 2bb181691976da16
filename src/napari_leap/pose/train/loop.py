"""Training: labels -> a model folder, as a generator of progress events.

``iter_train`` yields :class:`~napari_leap.pose.train.events.TrainStarted`,
``Message``, ``BatchEnd`` (throttled) and ``EpochEnd`` events and returns the
:class:`~napari_leap.pose.trained.TrainedModel`; the widget, the CLI and the
tests all consume the same events. Closing the generator, setting ``stop``
or reaching the time limit ends after the current batch, validates once more
and keeps the best checkpoint (:func:`_selection_error`). ``last.pt`` is written
after every epoch, so a run killed at any moment resumes (``resume=True``) losing
at most one epoch.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from napari_leap.pose.dataset import TrainingData
from napari_leap.pose.fit import confidence_summary
from napari_leap.pose.train.checkpoints import open_run, save_checkpoint, write_json
from napari_leap.pose.train.config import TrainConfig
from napari_leap.pose.train.events import BatchEnd, EpochEnd, Message, TrainFinished, TrainStarted
from napari_leap.pose.train.finetune import check_fits, fine_tune_config, first_stage_init
from napari_leap.pose.train.run import VAL_COST, Clock, Run, chosen, start_run
from napari_leap.pose.train.step import cosine_factor, evaluate_batches, scaled_lr, train_step
from napari_leap.pose.trained import BEST, CONFIG, TrainedModel

#: share of a time limit the first stage of learned alignment trains for
FIRST_STAGE_SHARE = 0.3


def train(
    source,
    out_dir,
    config: TrainConfig | None = None,
    *,
    progress: Callable | None = None,
    val_data=None,
    alignments: dict | None = None,
    stop: threading.Event | None = None,
) -> TrainedModel:
    """Train to completion (see :func:`iter_train`); ``progress`` is called with every event."""
    from napari_leap.progress import run_to_end

    gen = iter_train(source, out_dir, config, val_data=val_data, alignments=alignments, stop=stop)
    return run_to_end(gen, progress)


def iter_train(
    source,
    out_dir,
    config: TrainConfig | None = None,
    *,
    val_data=None,
    alignments: dict | None = None,
    stop: threading.Event | None = None,
) -> Generator[object, None, TrainedModel]:
    """Train a pose model from ``source`` into the folder ``out_dir`` (settings: ``config``).

    ``source``: labels file, ``sleap_io.Labels``, project (folder), box ``.h5`` or
    :class:`~napari_leap.pose.dataset.TrainingData`. ``val_data``: held-out labels (any
    ``source`` kind, prepared like ``source``) instead of a block split of ``source``.
    ``alignments``: video index -> :class:`~napari_leap.align.alignment.Alignment` already
    computed.
    """
    from napari_leap.pose.dataset import load_training_data
    from napari_leap.pose.first_stage.training import jitter_for

    config = config or TrainConfig()
    clock = Clock.starting(config.time_limit)
    out_dir = Path(out_dir)
    ckpt = open_run(out_dir, config.resume)
    if ckpt is not None:  # the saved settings win: a resumed run is the same run
        config = config.resumed(ckpt["settings"])
    elif config.init_from is not None:  # fine-tuning: the settings the weights were made for
        config = fine_tune_config(config)
    messages: list[str] = []
    data = load_training_data(
        source,
        config.data_options(),
        alignments=alignments,
        progress=messages.append,
        deadline=clock.deadline,
    )
    for text in messages:
        yield Message(text)
    for text in data.warnings:
        yield Message(text, warning=True)
    if ckpt is None and config.init_from is not None:
        check_fits(config.init_from, data)
        yield Message(f"fine-tuning from {Path(config.init_from).name}")
    if val_data is not None:  # checked before the first stage spends its share of the budget
        val_data = _load_validation(val_data, data, config.align_options, clock.deadline)
        for text in val_data.warnings:
            yield Message(f"validation labels: {text}", warning=True)
    jitter = {}
    if data.first_stage is not None:  # learned alignment: its first stage trains first
        left = None if clock.deadline is None else clock.deadline - time.monotonic()
        share = None if left is None else FIRST_STAGE_SHARE * left
        errors = yield from iter_train_first_stage(
            data, out_dir, config, time_limit=share, stop=stop
        )
        chosen(data.alignment)["first_stage_errors"] = errors
        jitter = jitter_for(errors)
    run = yield from start_run(data, val_data, config, out_dir, ckpt, clock, jitter)
    run.stop = stop
    yield _started(run)
    try:
        yield from _epochs(run)
    except GeneratorExit:
        run.reason = "stopped"
    model = _finish(run)
    if run.reason != "stopped" or stop is not None:
        best = run.progress.best
        with contextlib.suppress(GeneratorExit):
            yield TrainFinished(
                run.reason, best["epoch"], best["metric"], str(out_dir), run.progress.history
            )
    return model


def iter_train_first_stage(
    data: TrainingData, out_dir, config: TrainConfig, *, time_limit=None, stop=None
) -> Generator[object, None, dict]:
    """Train the first stage of ``data`` (a TrainingData with ``first_stage``).

    Into ``out_dir/align``; yields the trainer's events (``stage="alignment"``), returns
    the errors summary (:func:`~napari_leap.pose.first_stage.training.summarise_errors`)
    on its validation frames. ``config``: the run's seed, device, epochs and resuming.
    """
    from napari_leap.pose.first_stage import training
    from napari_leap.pose.first_stage.geometry import FIRST_STAGE_DIR

    stage_dir = Path(out_dir) / FIRST_STAGE_DIR
    if not config.resume or training.finished(stage_dir) is None:
        crops, stage_config = training.stage_inputs(data, config, stage_dir, time_limit)
        stage_config = first_stage_init(config, stage_config, FIRST_STAGE_DIR)
        factor = training.frame_factor(chosen(data.alignment))
        gen = iter_train(crops, stage_dir, stage_config, stop=stop)
        while True:
            try:
                event = next(gen)
            except StopIteration:
                break
            yield training.as_first_stage(event, factor)
    return (yield from training.iter_summary(data, out_dir, config))


def _started(run: Run) -> TrainStarted:
    return TrainStarted(
        len(run.tensors["x_train"]),
        len(run.tensors["x_val"]),
        str(run.prep.device),
        run.config.arch,
        run.data.alignment is not None,
        run.data.input_size,
        float(chosen(run.config.input_scale)),
        run.start_epoch,
        int(run.epochs),
    )


@dataclass
class _Pace:
    """Seconds a batch and a validation take, so a time limit ends before it is passed."""

    start: float
    val_guess: float  # before the first validation, its cost in training batches
    batch_seconds: float | None = None
    val_seconds: float = 0.0

    def no_time_for_a_batch(self, now: float, deadline: float | None) -> bool:
        """Whether one more batch and the last validation would overrun ``deadline``."""
        if deadline is None or self.batch_seconds is None:
            return False
        val = self.val_seconds or self.val_guess * self.batch_seconds
        return now + self.batch_seconds + val + 1.0 > deadline


def _epochs(run: Run) -> Generator[object, None, None]:
    """Epochs until the plan, the budget, ``stop`` or patience ends them (``run.reason``)."""
    c = run.config
    # before the first validation, guess its cost in training batches (forward only, ~1/3)
    pace = _Pace(time.monotonic(), VAL_COST * len(run.tensors["x_val"]) / chosen(c.batch_size))
    while run.progress.epoch < run.max_epochs:
        run.progress.epoch += 1
        losses, ending = yield from _train_epoch(run, pace)
        run.reason = ending or run.reason
        if not losses:  # stopped before this epoch trained anything
            run.progress.epoch -= 1
            return
        yield _validate(run, pace, losses, partial=ending is not None)
        if ending is not None:
            return
        if c.patience is not None and run.progress.bad_epochs >= c.patience:
            run.reason = "early_stopping"
            return


def _train_epoch(run: Run, pace: _Pace) -> Generator[object, None, tuple[list[float], str | None]]:
    """One epoch's steps: ``(losses, why it ended early or None)``."""
    import torch

    c, learner, deadline = run.config, run.learner, run.clock.deadline
    steps, batch = chosen(c.steps_per_epoch), chosen(c.batch_size)
    epoch, counters = run.progress.epoch, run.progress.counters
    x_train, p_train = run.tensors["x_train"], run.tensors["p_train"]
    lr_done0 = run.lr_done0
    learner.net.train()
    losses: list[float] = []
    every = max(1, steps // 10)
    for step in range(steps):
        now = time.monotonic()
        if run.stop is not None and run.stop.is_set():
            return losses, "stopped"
        if pace.no_time_for_a_batch(now, deadline):
            return losses, "time_limit"
        idx = torch.randint(0, len(x_train), (batch,), generator=learner.gen)
        spent = (now - pace.start) / (deadline - pace.start) if deadline else 0.0
        if run.by_time:
            done = lr_done0 + (1 - lr_done0) * spent
        else:
            done = max((epoch - 1 + step / steps) / run.epochs, spent)
        counters["lr_done"] = done
        run.lr_factor = cosine_factor(done)
        with scaled_lr(learner.opt, run.lr_factor):
            loss = train_step(learner, x_train, p_train, idx)
        losses.append(loss)
        counters["steps"] += 1
        dt = time.monotonic() - now
        pace.batch_seconds = (
            dt if pace.batch_seconds is None else 0.8 * pace.batch_seconds + 0.2 * dt
        )
        if (step + 1) % every == 0 or step + 1 == steps:
            yield BatchEnd(epoch, step + 1, steps, loss)
    return losses, None


def _validate(run: Run, pace: _Pace, losses: list[float], partial: bool) -> EpochEnd:
    """Score the epoch, step the scheduler and checkpoint the run."""
    t_val = time.monotonic()
    epoch = run.progress.epoch
    if run.by_time:  # the epochs the rest of the budget allows at the pace so far
        deadline = chosen(run.clock.deadline)
        per_epoch = (t_val - pace.start) / (epoch - run.start_epoch)
        run.epochs = epoch + max(0, round((deadline - t_val) / per_epoch))
    event = _score(run, losses, pace.start, partial)
    pace.val_seconds = time.monotonic() - t_val
    run.sched.step(event.val_loss)  # type: ignore[attr-defined]
    run.progress.bad_epochs = 0 if event.best else run.progress.bad_epochs + 1
    run.progress.history.append(asdict(event))
    _save(run, event.best)
    return event


def _score(run: Run, losses: list[float], start: float, partial: bool) -> EpochEnd:
    """The validation errors in input pixels; the best so far remembered."""
    import torch

    t, best = run.tensors, run.progress.best
    pts, scores, val_loss = evaluate_batches(
        run.learner.net, run.prep, t["x_val"], run.learner.maps, targets=t["p_val"]
    )
    err = torch.linalg.norm(pts - t["p_val_input"], dim=-1).numpy()  # (N, K), NaN unlabelled
    err = err.reshape(-1, err.shape[-1])  # several animals per image: one row per animal
    labelled = np.isfinite(err)
    found = labelled.any()
    sums, counts = np.where(labelled, err, 0).sum(0), labelled.sum(0)
    # a part no validation image shows (DLC's often-hidden tongue) is NaN, without a warning
    per_node = (
        [float(s / c) if c else math.nan for s, c in zip(sums, counts, strict=True)]
        if found
        else []
    )
    mean_err = float(np.nanmean(err)) if found else math.inf
    median_err = float(np.nanmedian(err)) if found else math.inf
    score = _selection_error(err, labelled)
    improved = score < best.get("score", best["metric"])
    if improved:
        best.update(
            score=score,
            metric=mean_err,
            epoch=run.progress.epoch,
            per_node=per_node,
            median=median_err,
            confidence=confidence_summary(np.nanmedian(scores.numpy(), -1)),
        )
    return EpochEnd(
        run.progress.epoch,
        run.epochs,
        float(np.mean(losses)),
        val_loss,
        mean_err,
        median_err,
        per_node,
        float(run.learner.opt.param_groups[0]["lr"]) * run.lr_factor,  # type: ignore[attr-defined]
        time.monotonic() - start,
        improved,
        partial,
    )


#: a body part labelled on fewer than this fraction of the validation animals does not
#: choose the kept epoch: reaching's tongue, on 2 of 6 images, swung between 36 and 392 px
#: from epoch to epoch, and the lowest mean over all points kept an epoch that had not
#: learnt the hand (28.4 px median on the test frames; benchmarks/README.md)
FEW_LABELS = 0.5


def _selection_error(err: np.ndarray, labelled: np.ndarray) -> float:
    """Mean error over the points of the parts labelled on most validation animals.

    The epoch with the lowest is kept. An animal counts where any of its parts is labelled
    (a crop or frame may show fewer animals than the most). All parts count when none is
    labelled that often.
    """
    if not labelled.any():
        return math.inf
    frequent = labelled.sum(0) >= FEW_LABELS * labelled.any(1).sum()
    parts = frequent if frequent.any() else labelled.any(0)
    return float(np.nanmean(err[:, parts]))


def _save(run: Run, improved: bool) -> None:
    save_checkpoint(run.out_dir, run.learner, run.sched, run.progress, run.settings(), improved)


def _finish(run: Run) -> TrainedModel:
    """The best checkpoint kept (or the last weights, when nothing validated) and described."""
    if not (run.out_dir / BEST).exists():  # nothing validated yet: keep what there is
        _save(run, True)
    best = run.progress.best
    run.model_config["training"].update(
        {
            "epochs_done": run.progress.epoch,
            "stopped_reason": run.reason,
            "best_epoch": best["epoch"],
            "best_val_error_px": best["metric"] if math.isfinite(best["metric"]) else None,
            "best_val_error_median_px": best.get("median"),
            "per_node_val_error": best.get("per_node", []),
            "seconds": round(time.monotonic() - run.clock.start, 2),
            "steps_done": run.progress.counters["steps"],
        }
    )
    run.model_config["fit"]["val_confidence"] = best.get("confidence")
    write_json(run.out_dir / CONFIG, run.model_config)
    return TrainedModel.load(run.out_dir, device=run.prep.device)


def _load_validation(val_data, data: TrainingData, align_options, deadline) -> TrainingData:
    """Validation labels prepared as the training data were (same boxes or frames)."""
    from napari_leap.pose.dataset import DataOptions, TrainingDataError, load_training_data

    spec = data.alignment or {}
    method = spec.get("method", "background") if spec else "none"
    options = DataOptions(
        method, spec.get("anchor"), spec.get("heading_part"), spec.get("box_size"), align_options
    )
    val = load_training_data(val_data, options, deadline=deadline)
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
