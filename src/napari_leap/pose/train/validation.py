"""Held-out validation labels, prepared as the training data were."""

from __future__ import annotations

import numpy as np

from napari_leap.pose.dataset import TrainingData


def load_validation(val_data, data: TrainingData, align_options, deadline) -> TrainingData:
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
