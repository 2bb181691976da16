"""The refinement stage's training inputs: windows, settings and how its events read.

:func:`~napari_leap.pose.train.loop.iter_train_refine` runs it after the first network
(see :mod:`napari_leap.pose.refine`).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from napari_leap.pose.refine import (
    REFINE_DIR,
    REFINE_SHARE,
    WINDOW_INPUT,
    coarse_errors,
    window_data,
    window_plan,
)
from napari_leap.pose.train.config import TrainConfig
from napari_leap.pose.train.events import Message, TrainFinished, TrainStarted
from napari_leap.pose.train.run import Clock, split_train_val


def refine_clock(clock: Clock) -> Clock:
    """The first network's clock: the run's, ending REFINE_SHARE of the time left earlier."""
    if clock.deadline is None:
        return clock
    return Clock(clock.start, clock.deadline - REFINE_SHARE * (clock.deadline - time.monotonic()))


def stage_inputs(model, run, val_data, clock: Clock):
    """``(windows, validation windows, TrainConfig, plan, message)`` of the refinement."""
    train_set, val_set, _ = split_train_val(run.data, val_data, run.config)
    plan = window_plan(coarse_errors(model, val_set))
    plan["window"] = _fine_tuned_window(run.config) or plan["window"]
    stage_dir = Path(run.out_dir) / REFINE_DIR
    config = _stage_config(run.config, plan, clock, stage_dir)
    windows = window_data(train_set, plan, run.config.seed)
    text = (
        f"refinement: {len(windows)} windows of {plan['window']} px at scale "
        f"{config.input_scale:.2f}, shifted as the first network errs (its validation "
        f"errors: p90 {plan['coarse_p90_px']:.1f} px)"
    )
    return windows, window_data(val_set, plan, run.config.seed + 1), config, plan, text


def as_refine(event):
    """A trainer event of the refinement as the consumers of ``train`` see it."""
    if isinstance(event, TrainStarted):
        return replace(event, stage="refine")
    if isinstance(event, TrainFinished):
        return Message(
            f"refinement done ({event.reason.replace('_', ' ')}): validation error "
            f"{event.best_val_error_px:.1f} px mean in its windows"
        )
    return event


def _stage_config(c: TrainConfig, plan: dict, clock: Clock, stage_dir: Path) -> TrainConfig:
    """The run's network and seed, at the window's scale, for the time left."""
    init = (
        c.init_from
        if c.init_from and (Path(c.init_from) / REFINE_DIR / "best.pt").exists()
        else None
    )
    left = None if clock.deadline is None else max(5.0, clock.deadline - time.monotonic())
    return TrainConfig(
        arch=c.arch,
        arch_params=c.arch_params,
        input_scale=round(WINDOW_INPUT / plan["window"], 4),
        time_limit=left,
        epochs=c.epochs,
        steps_per_epoch=c.steps_per_epoch,
        align="none",
        refine=False,
        seed=c.seed,
        device=c.device,
        resume=c.resume and (stage_dir / "last.pt").exists(),
        init_from=str(Path(init) / REFINE_DIR) if init else None,
    )


def _fine_tuned_window(c: TrainConfig) -> int | None:
    """The window of the model being fine-tuned (its refinement takes that size)."""
    if not c.init_from or not (Path(c.init_from) / REFINE_DIR / "best.pt").exists():
        return None
    spec = json.loads((Path(c.init_from) / "config.json").read_text()).get("refine") or {}
    return spec.get("window")
