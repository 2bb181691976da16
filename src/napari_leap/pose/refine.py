"""Coarse-to-fine full frames: a second network places each body part in a window around it.

A full frame that trains in minutes on a CPU is seen at a small input scale (reaching's
832x747 frames at 0.15: one input pixel is 6.5 frame pixels), which limits how exactly a
part is found. The refinement stage sees a window of the frame around each coarse
estimate at a higher scale and places that part in it. It is trained on windows around
the labelled parts, shifted by as much as the coarse network errs on its validation
images, so it learns to correct the errors it will be given. It lives in ``refine/`` of
the model folder, is itself a model folder, and :class:`~napari_leap.pose.trained.TrainedModel`
applies it in ``predict_images``, so every way of predicting uses it.
"""

from __future__ import annotations

import math

import numpy as np

REFINE_DIR = "refine"
#: share of the time left after loading the labels that the refinement stage trains for
REFINE_SHARE = 0.4
#: full frames with a side this long (px) are refined unless asked otherwise
MIN_FRAME_SIDE = 384
#: the window's side in network input pixels, and its side in frame pixels at least/most
WINDOW_INPUT = 96
WINDOW_MIN, WINDOW_MAX = 192, 256
#: windows cut around each labelled part of each training image
WINDOWS_PER_PART = 4
#: a refined peak below this confidence leaves the coarse estimate as it is
MIN_SCORE = 0.1


def refinement_wanted(data, config) -> str | None:
    """Why these training data get a refinement stage, or None (``config.refine``: ask)."""
    if data.alignment is not None or data.first_stage is not None or config.refine is False:
        return None
    side = max(data.input_size)
    if config.refine:
        return "refining each body part in a window (as asked)"
    if config.input_scale is not None and config.input_scale >= WINDOW_INPUT / WINDOW_MIN:
        return None
    if side < MIN_FRAME_SIDE:
        return None
    return (
        f"full frames of {side} px are seen downscaled: a second network refines each body "
        f"part in a window around it ({REFINE_SHARE:.0%} of the time left)"
    )


def coarse_errors(model, val) -> np.ndarray:
    """(N, K) distances (frame px) of the coarse model's points on ``val``; NaN unlabelled."""
    pts = np.concatenate(
        [model.predict_images(val.images[i : i + 16])[0] for i in range(0, len(val), 16)]
    )
    return np.linalg.norm(pts - val.points.reshape(pts.shape), axis=-1)


def window_plan(errors: np.ndarray) -> dict:
    """Window side (frame px) that holds the coarse errors, and each part's jitter (px).

    The side is four times the 90th percentile error (a window centred on a coarse
    estimate holds the part), within WINDOW_MIN-WINDOW_MAX; the jitter is each part's
    median error, at least 2 px and at most an eighth of the window.
    """
    finite = errors[np.isfinite(errors)]
    p90 = float(np.percentile(finite, 90)) if finite.size else WINDOW_MIN / 4
    side = int(min(WINDOW_MAX, max(WINDOW_MIN, math.ceil(4 * p90 / 16) * 16)))
    jitter = []
    for k in range(errors.shape[1]):
        e = errors[:, k][np.isfinite(errors[:, k])]
        med = float(np.median(e)) if e.size else side / 8
        jitter.append(round(float(min(side / 8, max(2.0, med))), 2))
    return {"window": side, "jitter_px": jitter, "coarse_p90_px": round(p90, 2)}


def crop_windows(
    images: np.ndarray, centres: np.ndarray, side: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(windows (M, side, side, C), origins (M, 2) x,y)`` of ``images[i]`` around ``centres``.

    ``centres``: (M, 3) rows of image index, x, y. Outside the image is black.
    """
    m = len(centres)
    c = images.shape[-1]
    out = np.zeros((m, side, side, c), dtype=images.dtype)
    h, w = images.shape[1:3]
    origins = np.zeros((m, 2))
    for j, (i, x, y) in enumerate(centres):
        x0, y0 = int(round(x)) - side // 2, int(round(y)) - side // 2
        origins[j] = (x0, y0)
        xs, ys = slice(max(0, x0), min(w, x0 + side)), slice(max(0, y0), min(h, y0 + side))
        if xs.start < xs.stop and ys.start < ys.stop:
            out[j, ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = images[
                int(i), ys, xs
            ]
    return out, origins


def window_data(data, plan: dict, seed: int = 0):
    """TrainingData of windows around each labelled part, shifted by the coarse errors."""
    from napari_leap.pose.dataset import TrainingData

    rng = np.random.default_rng(seed)
    side, jitter = plan["window"], np.asarray(plan["jitter_px"])
    points = data.points.reshape(len(data), -1, 2)
    i, k = np.nonzero(np.isfinite(points).all(-1))
    i, k = np.repeat(i, WINDOWS_PER_PART), np.repeat(k, WINDOWS_PER_PART)
    centres = points[i, k] + rng.normal(size=(len(i), 2)) * jitter[k, None]
    images, origins = crop_windows(data.images, np.column_stack([i, centres]), side)
    pts = points[i] - origins[:, None]
    pts[((pts < 0) | (pts > side - 1)).any(-1)] = np.nan
    return TrainingData(
        images,
        pts,
        data.skeleton,
        np.asarray(data.groups)[i],
        None,
        f"{len(i)} windows of {side} px around the labelled parts",
    )


class Refiner:
    """The refinement stage of a model folder: moves each coarse point to its window's peak."""

    def __init__(self, model, window: int):
        self.model, self.window = model, int(window)  # a TrainedModel of windows

    def __call__(self, images: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """(B, K, 2) points moved to the refinement's peaks (NaN points stay NaN)."""
        b, k = pts.shape[:2]
        ii, kk = np.nonzero(np.isfinite(pts).all(-1))
        if not len(ii):
            return pts
        windows, origins = crop_windows(images, np.column_stack([ii, pts[ii, kk]]), self.window)
        found = [self.model.predict_images(windows[s : s + 64]) for s in range(0, len(ii), 64)]
        rows = np.arange(len(ii))
        fine = np.concatenate([f[0] for f in found])[rows, kk] + origins
        score = np.concatenate([f[1] for f in found])[rows, kk]
        # a part the window's network does not see keeps the coarse estimate
        ok = np.isfinite(fine).all(-1) & (score >= MIN_SCORE)
        out = pts.copy()
        out[ii[ok], kk[ok]] = fine[ok]
        return out
