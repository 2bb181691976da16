"""The first stage on windows round the tracked animals: the same animals for less work.

On a video the animals are where they were a frame ago, so once every animal is
tracked the first stage runs on one window per animal (downscaled pixels, centred
on the box each track's position and velocity predict) and takes the whole frame
only where that cannot be trusted: every :data:`WHOLE_EVERY` frames (an animal
appearing, a track held by something else), on any frame whose windows find fewer
animals with a heading than there are, and while a track is lost. On the clip the
two 64-px windows are a quarter of the 176x176 frame.
"""

from __future__ import annotations

import math

import numpy as np

#: a whole frame at least every this many frames (frame index a multiple of it)
WHOLE_EVERY = 32
#: frames whose windows are placed from the same tracker state (one network call)
WINDOW_FRAMES = 8
#: windows are used only when all of them together cover at most this share of the frame
MAX_COVER = 0.5


def window_side(box_px: float, multiple: int) -> int:
    """A window's side: twice the animal's box plus a margin, rounded for the network.

    Twice the box leaves the animal room to move between two placements.
    """
    return int(math.ceil((2.0 * box_px + 16.0) / multiple) * multiple)


def windows_pay(side: int, hw, n_animals: int) -> bool:
    """True when ``n_animals`` windows of ``side`` px are worth running instead of the frame."""
    return side <= min(hw) and n_animals * side * side <= MAX_COVER * hw[0] * hw[1]


def window_origins(centres: np.ndarray, side: int, hw) -> np.ndarray:
    """Top-left corners (..., 2) x, y of windows centred on ``centres`` (..., 2), inside the frame."""
    lim = np.array([hw[1] - side, hw[0] - side], float)
    return np.clip(np.round(centres - side / 2.0), 0, lim).astype(int)


def crop_windows(small: np.ndarray, origins: np.ndarray, side: int) -> np.ndarray:
    """Windows (F * A, side, side, C) of frames ``small`` (F, H, W, C) at ``origins`` (F, A, 2)."""
    return np.stack(
        [small[f, y : y + side, x : x + side] for f in range(len(origins)) for x, y in origins[f]]
    )


def merge_peaks(points: np.ndarray, scores: np.ndarray, radius: float):
    """Peaks from overlapping windows, each once: ``points`` (..., P, 2), ``scores`` (..., P).

    A peak within ``radius`` of a stronger one is the same peak seen from another
    window (two animals' peaks are farther apart, as on a whole frame's local maxima);
    it is dropped (NaN, score 0).
    """
    d = np.linalg.norm(points[..., :, None, :] - points[..., None, :, :], axis=-1)
    p = scores.shape[-1]
    earlier = np.tri(p, k=-1, dtype=bool)  # [i, j]: j before i
    stronger = (scores[..., None, :] > scores[..., :, None]) | (
        (scores[..., None, :] == scores[..., :, None]) & earlier
    )
    same = ((d <= radius) & stronger).any(-1) | ~np.isfinite(points).all(-1)
    return np.where(same[..., None], np.nan, points), np.where(same, 0.0, scores)
