"""What a training run reports: the widget, the CLI and the tests consume the same events."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Message:
    """A line for the user (what was chosen, and why); ``warning``: something to act on."""

    text: str
    warning: bool = False


@dataclass
class TrainStarted:
    """The data and settings are ready; the first epoch starts."""

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
    """A training step done (throttled to about ten per epoch)."""

    epoch: int  # 1-based epoch in progress
    batch: int  # 1-based
    n_batches: int
    loss: float


@dataclass
class EpochEnd:
    """An epoch trained and validated."""

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
    """The run ended; the best checkpoint is the model."""

    reason: str  # "epochs", "early_stopping", "time_limit", "stopped"
    best_epoch: int
    best_val_error_px: float
    model_dir: str
    history: list[dict] = field(default_factory=list, repr=False)
