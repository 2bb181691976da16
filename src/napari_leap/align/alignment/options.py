"""The alignment's options, flags and progress events, and the checks of what a user asks for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_leap.errors import LeapError

#: alignment options with their defaults; ``Alignment.options`` holds the values used
DEFAULT_OPTIONS = {
    "polarity": "auto",  # "auto", "light" (light animal on dark) or "dark"
    "threshold": None,  # grey-level contrast; None: Otsu on sampled frames
    "background": "auto",  # "auto", "percentile" or "none" (plain threshold)
    "scale": None,  # detection downscale factor; None: from the frame size
    "samples": 40,  # frames sampled for the background and the animal size
    "min_area": None,  # px; None: a tenth of an animal
    "core_threshold": None,  # contrast of the body core used for the axis; None: measured
    "cue_weight": 1.0,
    "motion_weight": 0.5,
    "turn_weight": 8.0,
    "cue_sign": 1.0,  # -1 when labels showed the image cue points to the tail
}
FLAG_REASONS = (
    "unreadable",
    "lost",
    "merged",
    "identity_uncertain",
    "heading_jump",
    "cue_disagrees",
    "labels_disagree",
)


@dataclass
class AlignProgress:
    """One progress event: ``done`` of ``total`` steps of ``stage``."""

    done: int
    total: int
    stage: str = "align"
    message: str = ""


def resolve_options(options: dict) -> dict:
    """:data:`DEFAULT_OPTIONS` updated with ``options`` (None keeps a default); unknown names refused."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise LeapError(
            f"unknown alignment option(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_OPTIONS)}."
        )
    out = dict(DEFAULT_OPTIONS)
    out.update({k: v for k, v in options.items() if v is not None or k == "threshold"})
    return out


def check_n_animals(n_animals) -> int:
    """The number of animals as an int, refused when it is not a whole number of at least 1."""
    try:
        n = int(n_animals)
    except (TypeError, ValueError):
        raise LeapError(
            f"the number of animals must be a whole number (got {n_animals!r})."
        ) from None
    if n < 1:
        raise LeapError(f"the number of animals must be at least 1 (got {n}).")
    return n


def default_box_size(animal_length: float, factor: float = 1.4) -> int:
    """A box that holds the animal at any rotation: ``factor`` times its length, multiple of 8."""
    if not np.isfinite(animal_length) or animal_length <= 0:
        return 64
    return int(max(16, int(np.ceil(factor * animal_length / 8.0)) * 8))


def check_box_size(box_size, height: int, width: int) -> int:
    """``box_size`` as an int, refused unless a whole number from 4 px to the frame's smaller side."""
    try:
        b = int(box_size)
    except (TypeError, ValueError):
        raise LeapError(f"box size must be a whole number of pixels (got {box_size!r}).") from None
    if b != box_size and not (isinstance(box_size, float) and box_size.is_integer()):
        raise LeapError(f"box size must be a whole number of pixels (got {box_size!r}).")
    if b < 4:
        raise LeapError(f"box size {b} px is too small; use at least 4 px.")
    if b > min(height, width):
        raise LeapError(
            f"box size {b} px is larger than the frame ({width}x{height} px); "
            f"choose at most {min(height, width)} px."
        )
    return b
