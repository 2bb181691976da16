"""Fine-tuning: a new run that starts from another model's weights (``TrainConfig.init_from``).

The run takes over what the weights were made for (architecture, input scale, sigma,
the alignment method and its box) so the network fits them, then trains with a fresh
optimiser and its own schedule on the labels it is given, continuing from the last
model instead of starting from scratch (the time this saves is not measured yet).
Data that do not fit the weights (other body parts, channels or image size) are
refused with one sentence. A two-stage model (learned alignment) fine-tunes both
stages: its first stage starts from the old model's ``align/`` folder.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.pose.models import DEFAULT_PARAMS
from napari_leap.pose.train.config import DEFAULT_ARCH, TrainConfig
from napari_leap.pose.trained import BEST, CONFIG


def model_config(model_dir) -> dict:
    """The ``config.json`` of a finished model folder (refused: no folder, no weights)."""
    folder = Path(model_dir)
    if not (folder / CONFIG).is_file() or not (folder / BEST).is_file():
        raise LeapError(
            f"cannot fine-tune from {folder}: it is not a finished model folder "
            f"(no {CONFIG} or {BEST}); give the folder a training wrote."
        )
    try:
        return json.loads((folder / CONFIG).read_text())
    except ValueError:
        raise LeapError(f"cannot fine-tune from {folder}: its {CONFIG} is damaged.") from None


def fine_tune_config(config: TrainConfig) -> TrainConfig:
    """``config`` with the settings of the model it starts from, so that its weights fit."""
    saved = model_config(config.init_from)
    spec = saved.get("alignment") or {}
    method = spec.get("method", "background") if spec else "none"
    asked = config.align
    if isinstance(asked, bool):
        asked = "background" if asked else "none"
    if asked is not None and asked != method:
        raise LeapError(
            f"the model to fine-tune aligns with {method!r}, not {asked!r}; "
            "leave the alignment to it or train from scratch."
        )
    if config.arch_params is not None or config.arch != DEFAULT_ARCH:
        params = {**DEFAULT_PARAMS.get(config.arch, {}), **(config.arch_params or {})}
        if config.arch != saved["arch"] or params != saved.get("arch_params"):
            raise LeapError(
                f"the model to fine-tune is a {saved['arch']} network of other settings; "
                "fine-tuning keeps its network (leave the architecture unset or train from "
                "scratch)."
            )
    return replace(
        config,
        arch=saved["arch"],
        arch_params=saved.get("arch_params"),
        input_scale=float(saved["input_scale"]),
        sigma=float(saved["sigma"]),
        align=method,
        box_size=spec.get("box_size") or config.box_size,
        anchor=spec.get("anchor") or config.anchor,
        heading_part=spec.get("heading_part") or config.heading_part,
    )


def check_fits(model_dir, data) -> None:
    """Refuse training data the weights of ``model_dir`` were not made for."""
    saved = model_config(model_dir)
    nodes = list(saved["skeleton"]["nodes"])
    if list(data.skeleton.nodes) != nodes:
        raise LeapError(
            f"the model to fine-tune has {len(nodes)} body parts and the labels "
            f"{len(data.skeleton.nodes)} (or other names); fine-tune only with labels of "
            "the same skeleton, or train from scratch."
        )
    if int(saved["channels"]) != int(data.channels):
        raise LeapError(
            f"the model to fine-tune takes {saved['channels']} colour channel(s) and the "
            f"labels' images have {data.channels}; train from scratch for this video."
        )
    if tuple(saved["input_size"]) != tuple(data.input_size):
        h, w = saved["input_size"]
        raise LeapError(
            f"the model to fine-tune takes {w}x{h} px images and the labels give "
            f"{data.input_size[1]}x{data.input_size[0]} px; use the same box size and "
            "videos, or train from scratch."
        )


def load_weights(net, model_dir) -> None:
    """The best weights of ``model_dir`` into ``net`` (refused when they do not fit)."""
    import torch

    path = Path(model_dir) / BEST
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("model", state))
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for weights that do not fit
        raise LeapError(
            f"the weights in {path} do not fit this network ({type(e).__name__}); "
            "train from scratch."
        ) from None


def first_stage_init(config: TrainConfig, stage_config: TrainConfig, stage_dir_name: str):
    """The first stage's config starting from the old model's first stage, when it has one."""
    if config.init_from is None or stage_config.resume:
        return stage_config
    old = Path(config.init_from) / stage_dir_name
    if not (old / BEST).is_file():
        return stage_config
    return replace(stage_config, init_from=str(old))
