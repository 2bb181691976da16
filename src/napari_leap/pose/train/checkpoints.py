"""Where a run stands and its files: ``last.pt`` after every epoch, so a killed run resumes.

``best.pt`` is written when the validation improves; ``history.json`` and
``config.json`` beside them. Every file is written atomically.
"""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.pose.trained import BEST, HISTORY, LAST


def _no_best() -> dict:
    return {"score": math.inf, "metric": math.inf, "epoch": 0, "per_node": [], "median": math.nan}


@dataclass
class Progress:
    """What the epochs have done: saved in ``last.pt`` and continued by a resumed run."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=_no_best)
    bad_epochs: int = 0
    counters: dict = field(default_factory=lambda: {"steps": 0, "lr_done": 0.0})


def open_run(out_dir: Path, resume: bool) -> dict | None:
    """The checkpoint to resume (None: a new run); refuses to train over a model."""
    last = out_dir / LAST
    if not resume and (last.exists() or (out_dir / BEST).exists()):
        raise LeapError(f"{out_dir} holds a model already; choose another folder or resume it.")
    return load_checkpoint(last) if resume and last.exists() else None


def restore(ckpt: dict, learner, sched) -> Progress:
    """Weights, optimiser, scheduler and random streams as the checkpoint left them."""
    import torch

    learner.net.load_state_dict(ckpt["model"])
    learner.opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    learner.scaler.load_state_dict(ckpt["scaler"])
    learner.gen.set_state(ckpt["rng"]["generator"])
    rng = ckpt["rng"]
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])  # noqa: NPY002
    random.setstate(rng["python"])
    if rng.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    counters = {"steps": 0, "lr_done": 0.0, **ckpt.get("counters", {})}
    return Progress(ckpt["epoch"], ckpt["history"], ckpt["best"], ckpt["bad_epochs"], counters)


def save_checkpoint(
    out_dir: Path, learner, sched, progress: Progress, settings: dict, improved: bool
) -> None:
    """``best.pt`` when improved, then ``last.pt`` and ``history.json``, each atomically."""
    import torch

    state = {k: v.detach().cpu() for k, v in learner.net.state_dict().items()}
    if improved:
        _atomic_torch_save(out_dir / BEST, {"model": state, "epoch": progress.epoch})
    _atomic_torch_save(
        out_dir / LAST,
        {
            "model": state,
            "optimizer": learner.opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": learner.scaler.state_dict(),
            "epoch": progress.epoch,
            "history": progress.history,
            "best": progress.best,
            "bad_epochs": progress.bad_epochs,
            "settings": settings,
            "counters": dict(progress.counters),
            "rng": {
                "generator": learner.gen.get_state(),
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),  # noqa: NPY002 - restore global state too
                "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            },
        },
    )
    write_json(out_dir / HISTORY, progress.history)


def _atomic_torch_save(path: Path, obj) -> None:
    import torch

    from napari_leap.io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def write_json(path: Path, obj) -> None:
    """``obj`` as indented JSON (NumPy numbers and arrays as plain ones), atomically."""
    from napari_leap.io.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default))


def _json_default(o):
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def load_checkpoint(path: Path) -> dict:
    """A checkpoint, or a one-sentence error when it is damaged."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise LeapError(
            f"{path} is damaged ({type(e).__name__}); train into a new folder."
        ) from None


def seed_everything(seed: int) -> None:
    """Seed every random stream a run draws from (third-party code may use the global ones)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may draw from it
    torch.manual_seed(seed)
