"""Training a pose model: the config, the events, the loop (:func:`iter_train`)."""

from napari_leap.pose.train.config import (
    DEFAULT_ARCH,
    TrainConfig,
    check_config,
    few_validation_warning,
)
from napari_leap.pose.train.events import BatchEnd, EpochEnd, Message, TrainFinished, TrainStarted
from napari_leap.pose.train.loop import iter_train, iter_train_first_stage, train

__all__ = [
    "DEFAULT_ARCH",
    "BatchEnd",
    "EpochEnd",
    "Message",
    "TrainConfig",
    "TrainFinished",
    "TrainStarted",
    "check_config",
    "few_validation_warning",
    "iter_train",
    "iter_train_first_stage",
    "train",
]
