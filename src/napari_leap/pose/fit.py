"""Does a model fit the input? One sentence per way the input differs from the training data.

``train`` stores in the model's ``config.json`` what this needs: the image channels, the
input size and scale (top level) and, under ``fit``, the frame sizes the training images
came from and the distribution of the validation images' confidence at the kept epoch.
``predict`` calls :func:`input_warnings` before it runs (a full-frame model given frames
of another size cannot run at all: :class:`FitError`) and :func:`confidence_warnings`
on what came out; the CLI prints each warning on one line, the Predict dock can show
``PredictResult.warnings``. A user is told, not handed plausible-looking garbage.
"""

from __future__ import annotations

import math

import numpy as np

from napari_leap.errors import LeapError

#: a prediction is "far below" when its confidence is under this fraction of the validation
#: images' 5th percentile. A fly32 model (validation 5th percentile 0.56): held-out fly crops
#: 0.56-0.61, another lab's flies 0.34-0.50, a mouse 0.25-0.42, noise 0.13-0.16
#: (benchmarks/fit_check.py, README "Model and data must fit")
FAR_BELOW = 0.75
#: warn when more than this fraction of the predicted animals are far below
MOST = 0.5
QUANTILES = (5, 25, 50, 75, 95)


class FitError(LeapError):
    """Input the model cannot take at all."""


def confidence_summary(per_image) -> dict | None:
    """Quantiles of per-image confidences (median over body parts), for the model folder."""
    v = np.asarray(per_image, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    q = np.percentile(v, QUANTILES)
    return {"n": len(v), "quantiles": {str(k): float(x) for k, x in zip(QUANTILES, q, strict=True)}}


def _size(hw) -> str:
    return f"{int(hw[1])}x{int(hw[0])} px"


def input_warnings(config: dict, frame_shapes) -> list[str]:
    """Warnings about frames of shape ``(h, w, c)`` (one per video) for the model ``config``.

    Raises :class:`FitError` when a full-frame model is given frames of another size.
    """
    channels = int(config.get("channels", 1))
    aligned = bool(config.get("alignment"))
    trained_sizes = [tuple(s) for s in (config.get("fit") or {}).get("frame_sizes") or []]
    if not aligned and not trained_sizes:  # full frames of one size: the input size
        trained_sizes = [tuple(int(v) for v in config["input_size"])]
    out = []
    shapes = {tuple(int(v) for v in s) for s in frame_shapes}
    for h, w, c in sorted(shapes):
        if c != channels:
            kind = {1: "grey", 3: "colour"}
            out.append(
                f"the frames have {c} channel(s) ({kind.get(c, '?')}) but the model was trained "
                f"on {channels} ({kind.get(channels, '?')}); they are converted, but check the "
                "model was trained on this camera's videos."
            )
        if trained_sizes and (h, w) not in trained_sizes:
            trained = " or ".join(_size(s) for s in trained_sizes)
            if not aligned:
                raise FitError(
                    f"the frames are {_size((h, w))} but the model was trained on {trained} "
                    "frames; use a model trained on videos of this size."
                )
            out.append(
                f"the frames are {_size((h, w))} but the model was trained on {trained} frames; "
                "if the animals are another size in pixels, the poses will be wrong: "
                "check them, or train on labels from these videos."
            )
    return out


def _per_animal(scores) -> np.ndarray:
    """Median body-part confidence per animal and frame (NaN where the animal was not found)."""
    s = np.asarray(scores, dtype=np.float64)
    if not s.size:
        return np.zeros(0)
    s = s.reshape(-1, s.shape[-1])
    out = np.full(len(s), np.nan)
    found = np.isfinite(s).any(-1)
    out[found] = np.nanmedian(s[found], -1)
    return out


def confidence_warnings(config: dict, scores) -> list[str]:
    """A warning when most predicted animals' confidence is far below validation's.

    ``scores``: per video an array (frames, animals, body parts). The unit is one animal
    on one frame (its median body-part confidence), as validation's per image.
    """
    ref = (config.get("fit") or {}).get("val_confidence")
    per = np.concatenate([_per_animal(s) for s in scores] or [np.zeros(0)])
    n_slots = len(per)
    found = per[np.isfinite(per)]
    if n_slots and not len(found):
        return [
            f"no animal was found on any of the {n_slots} frame-animal slots; the model and "
            "these videos probably do not fit (another animal, background or lighting)."
        ]
    if not ref or not len(found):
        return []
    p5, median = ref["quantiles"]["5"], ref["quantiles"]["50"]
    threshold = FAR_BELOW * p5
    low = found < threshold
    if not math.isfinite(threshold) or low.mean() <= MOST:
        return []
    return [
        f"the model's confidence is far below its validation confidence on {low.sum()} of "
        f"{len(found)} predicted animals (median {np.median(found):.2f}, validation "
        f"{median:.2f}); these frames probably differ from the training data: check the "
        "poses, or label some of these frames and train again."
    ]
