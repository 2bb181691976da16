"""Set up a :class:`~napari_leap.align.detect.detector.Detector` once per video from sampled frames."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from napari_leap.align.detect.background import (
    BACKGROUNDS,
    auto_threshold,
    background_agrees,
    contrast,
    estimate_background,
    guess_polarity,
    normalize_polarity,
    to_gray,
)
from napari_leap.align.detect.detector import Detector
from napari_leap.errors import LeapError


@dataclass(frozen=True)
class DetectorConfig:
    """How to find the animals; None everywhere means "measure it on the samples"."""

    polarity: str = "auto"  # "auto", "light" (light animal on dark) or "dark"
    threshold: float | None = None  # grey-level contrast; None: Otsu
    background: str = "auto"  # "auto", "percentile" or "none"
    scale: int | None = None  # detection downscale factor; None: from the frame size
    min_area: float | None = None  # px; None: a tenth of an animal
    core_threshold: float | None = None  # contrast of the body core; None: measured

    @classmethod
    def from_options(cls, options: dict) -> DetectorConfig:
        """The detection part of a dict of alignment options (other keys are ignored)."""
        return cls(**{f.name: options[f.name] for f in fields(cls) if f.name in options})


def make_detector(
    frames: np.ndarray,
    n_animals: int = 1,
    config: DetectorConfig | None = None,
    saved_background: np.ndarray | None = None,
    saved_length: float = float("nan"),
) -> Detector:
    """Set up a :class:`Detector` from sampled frames ``(n, height, width[, channels])``.

    Measures the typical animal (area, length) on the samples, so box sizes and
    the splitting of touching animals need no tuning. ``saved_background`` (of an
    earlier alignment, with its animal length) replaces the samples' own
    background where :func:`background_agrees` says it is the same scene.
    """
    cfg = config or DetectorConfig()
    if n_animals < 1:
        raise LeapError(f"the number of animals must be at least 1 (got {n_animals}).")
    gray = np.stack([to_gray(f) for f in frames])
    if gray.min() == gray.max():
        raise LeapError(
            f"the sampled frames are blank (every pixel is grey level {int(gray.min())}); "
            "check that the video shows the animals."
        )
    pol = normalize_polarity(cfg.polarity)
    if pol == "auto":
        pol = guess_polarity(gray)
    if cfg.background not in BACKGROUNDS:
        raise LeapError(
            f"background {cfg.background!r} is not known; use one of {', '.join(BACKGROUNDS)}."
        )
    method = "percentile" if cfg.background == "auto" else cfg.background
    bg = estimate_background(gray, pol, method)
    thr = _threshold(gray, bg, pol, cfg.threshold)
    if not 0 < thr < 255:
        raise LeapError(f"threshold {cfg.threshold} must be between 0 and 255 (grey levels).")
    saved = None if saved_background is None else to_gray(saved_background)
    if saved is not None and background_agrees(saved, bg, thr, int(n_animals), saved_length):
        bg, thr = saved, _threshold(gray, saved, pol, cfg.threshold)
    else:
        saved = None
    det = _measured(Detector(bg, pol, thr, int(n_animals), _scale(cfg.scale, gray)), cfg, gray)
    if cfg.background == "auto" and saved is None and not _found_enough(det, gray):
        # animals that never move are part of a percentile background: threshold instead
        flat = estimate_background(gray, pol, "none")
        alt = Detector(
            flat, pol, _threshold(gray, flat, pol, cfg.threshold), int(n_animals), det.scale
        )
        alt = _measured(alt, cfg, gray, det.min_area)
        if _found_enough(alt, gray) or not np.isfinite(det.animal_area):
            alt.options = {"background": "none"}
            det = alt
    det.options.setdefault("background", method)
    return det


def _threshold(gray: np.ndarray, background: np.ndarray, polarity: str, given) -> float:
    """The given threshold, or Otsu's over the samples' contrast against ``background``."""
    if given is not None:
        return float(given)
    return auto_threshold(np.stack([contrast(g, background, polarity) for g in gray]))


def _scale(scale: int | None, gray: np.ndarray) -> int:
    """Detection downscale factor: the given one, or 4/2/1 from the frame size."""
    if scale is None:
        side = min(gray.shape[1:])
        scale = 4 if side >= 1024 else 2 if side >= 256 else 1
    return int(max(1, scale))


def _measured(
    det: Detector, cfg: DetectorConfig, gray: np.ndarray, min_area: float | None = None
) -> Detector:
    """``det`` with the configured minimum area and core threshold, then measured on ``gray``."""
    if min_area is not None:
        det.min_area = min_area
    elif cfg.min_area is not None:
        det.min_area = float(cfg.min_area)
    det.core_threshold = cfg.core_threshold
    _measure(det, gray)
    return det


def _measure(det: Detector, gray: np.ndarray) -> None:
    """Measure the typical animal area and length, and the core threshold.

    The core threshold is halfway between the foreground threshold and Otsu's
    threshold over the animals' own contrast (bodies are more contrasted than
    wings, legs and tails).
    """
    import cv2

    areas, lengths, values = [], [], []
    for g in gray:
        blobs = sorted(det.candidates(g), key=lambda b: -b.area)[: det.n_animals]
        if len(blobs) == det.n_animals:
            areas += [b.area for b in blobs]
            lengths += [4 * b.major for b in blobs]
            for b in blobs:
                roi, fg = b.roi[2], b.roi[3]
                values.append(roi[fg.astype(bool)])
    if values and det.core_threshold is None:
        v = np.ascontiguousarray(np.concatenate(values)).reshape(-1, 1)
        otsu, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        det.core_threshold = float((det.threshold + max(otsu, det.threshold)) / 2)
    if areas:
        det.animal_area = float(np.median(areas))
        det.animal_length = float(np.median(lengths))
        if det.min_area == 20.0:
            det.min_area = float(max(5.0, min(20.0, 0.1 * det.animal_area)))


def _found_enough(det: Detector, gray: np.ndarray) -> bool:
    if not np.isfinite(det.animal_area):
        return False
    hits = sum(len(det.detect(g)) >= det.n_animals for g in gray)
    return hits >= 0.5 * len(gray)
