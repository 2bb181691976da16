"""What a training run is asked for: one object that the CLI, the dock and the API build."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.pose.augment import MIN_ROTATION, AugmentConfig
from napari_leap.pose.dataset import DataOptions

DEFAULT_ARCH = "unet"
#: fewer validation images than this get a warning: their error is no measure of the model
MIN_VALIDATION = 5
#: confidence-map sigma in input pixels: LEAP's 5 px for its networks. The U-Net learns much
#: faster from 10 px targets: on fly32 in 9.5 CPU minutes 3.5 px median vs 33 px with 5 px
#: (benchmarks/train_fly32.json); peaks stay subpixel since the fit is on the log-Gaussian.
DEFAULT_SIGMA = {"leap_cnn": 5.0, "leap_cnn_fast": 5.0, "unet": 10.0}
#: Adam's learning rate: LEAP's 1e-3 for its networks; the batch-normalised U-Net takes 2e-3,
#: which on fly32 in 10 CPU minutes gave 1.86 px median vs 2.29 px at 1e-3 (same run otherwise)
DEFAULT_LR = {"leap_cnn": 1e-3, "leap_cnn_fast": 1e-3, "unet": 2e-3}
#: the checkpoint's settings a resumed run takes over (it is the same run)
RESUMED = ("arch", "arch_params", "input_scale", "sigma", "seed", "batch_size", "lr")


@dataclass
class TrainConfig:
    """How to train; None lets the run choose (from the data, the budget or the architecture).

    ``time_limit`` (seconds) covers everything from the call on, alignment included, and is
    a budget to use: the input scale and batch are chosen so that it buys enough steps
    (:mod:`napari_leap.pose.budget`), the learning rate decays over it and, unless
    ``epochs`` is given, training runs until it is spent. Without a time limit ``epochs``
    defaults to :data:`~napari_leap.pose.budget.DEFAULT_STEPS` steps' worth. ``patience``:
    epochs without a better validation before stopping (default: never, the decay over the
    run and the best checkpoint kept make early stopping unnecessary). ``align``: None
    (chosen from the labels), ``"background"`` (or True), ``"learned"`` (a first stage
    trained first, into ``out_dir/align``, from the same labels: no video needed;
    ``anchor`` and ``heading_part`` name its two body parts) or ``"none"`` (or False: full
    frames). ``init_from``: a model folder whose weights the run starts from (fine-tuning,
    :mod:`napari_leap.pose.train.finetune`: its architecture, input scale, sigma and
    alignment are taken over, the optimiser starts afresh).
    """

    arch: str = DEFAULT_ARCH
    arch_params: dict | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    time_limit: float | None = None
    input_scale: float | None = None
    align: bool | str | None = None
    anchor: str | None = None
    heading_part: str | None = None
    box_size: int | None = None
    align_options: dict | None = None
    seed: int = 0
    batch_size: int | None = None
    sigma: float | None = None
    lr: float | None = None
    val_fraction: float = 0.1
    patience: int | None = None
    augment: AugmentConfig | dict | None = None
    resume: bool = False
    device: str | None = None
    init_from: str | None = None

    def data_options(self) -> DataOptions:
        """How the labels become training images (alignment and its parts)."""
        return DataOptions(
            self.align, self.anchor, self.heading_part, self.box_size, self.align_options
        )

    def resumed(self, saved: dict) -> TrainConfig:
        """The config with a checkpoint's settings: a resumed run is the same run."""
        return replace(
            self,
            **{k: saved[k] for k in RESUMED},
            steps_per_epoch=saved["steps_per_epoch"],
            augment=AugmentConfig(**saved["augment"]),
            align=saved.get("align_method", saved["aligned"]),
            box_size=saved.get("box_size") or self.box_size,
        )

    def with_defaults(
        self, aligned: bool, flip: bool, jitter: dict, rotation: float = 180.0
    ) -> TrainConfig:
        """Sigma, learning rate and augmentation filled in for this data.

        ``rotation``: what full frames are turned by (:func:`~napari_leap.pose.augment.rotation_range`).
        """
        augment = self.augment
        if augment is None:
            # aligned boxes are head-up: small rotations; full frames as their labels turn
            augment = AugmentConfig(
                **{"rotation": MIN_ROTATION if aligned else rotation, "flip": flip, **jitter}
            )
        elif isinstance(augment, dict):
            augment = AugmentConfig(**augment)
        return replace(
            self,
            augment=augment,
            sigma=DEFAULT_SIGMA.get(self.arch, 5.0) if self.sigma is None else self.sigma,
            lr=DEFAULT_LR.get(self.arch, 1e-3) if self.lr is None else self.lr,
        )


def check_config(config: TrainConfig, out_dir: str | Path) -> None:
    """Refuse settings no run can use, and an unwritable model folder, before any work.

    The CLI and the Train dock both call it, so both refuse the same things.
    """
    from napari_leap.io.atomic import ensure_writable

    if config.time_limit is not None and config.time_limit <= 0:
        raise LeapError("the time limit must be a positive number of minutes.")
    if config.epochs is not None and config.epochs < 1:
        raise LeapError("the number of epochs must be at least 1.")
    if config.input_scale is not None and not 0 < config.input_scale <= 4:
        raise LeapError("the input scale must be between 0 and 4 (e.g. 0.5).")
    ensure_writable(out_dir)  # a read-only or full disk is found before any work


def few_validation_warning(n_val: int) -> str:
    """What to tell a user whose validation set is too small to judge the model ("" if fine)."""
    if n_val >= MIN_VALIDATION:
        return ""
    return (
        f"only {n_val} validation image{'s' if n_val != 1 else ''}: the validation error says "
        "little about the model; label more frames (about one in ten is held out for validation)"
    )
