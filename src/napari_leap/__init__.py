"""napari-leap: LEAP Estimates Animal Poses, in napari.

The names below are imported lazily so that napari starts fast: torch and
OpenCV load only when a function that needs them is called.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "open_video": "napari_leap.io.video",
    "Skeleton": "napari_leap.model.skeleton",
    "Project": "napari_leap.io.project",
    "load_labels": "napari_leap.io.labels",
    "save_labels": "napari_leap.io.labels",
    "align": "napari_leap.align.alignment",
    "Alignment": "napari_leap.align.alignment",
    "train": "napari_leap.pose.train",
    "TrainConfig": "napari_leap.pose.train",
    "predict": "napari_leap.pose.predict",
    "evaluate": "napari_leap.pose.evaluate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'napari_leap' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
