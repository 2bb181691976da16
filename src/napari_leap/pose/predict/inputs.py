"""Frames to model inputs and points back: shared by the one-stage and two-stage runs.

Everything here runs on decoder threads or the model thread and holds no state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from napari_leap.pose.predict.results import PredictError


@dataclass
class Geometry:
    """How frames become model inputs and points come back."""

    aligned: bool
    n_animals: int
    input_hw: tuple[int, int]

    @classmethod
    def of(cls, model) -> Geometry:
        """The geometry of a trained model's config."""
        cfg = model.config
        al = cfg.get("alignment")
        h, w = (int(v) for v in cfg["input_size"])
        if al:
            return cls(True, int(al["n_animals"]), (h, w))
        return cls(False, 1, (h, w))


def prepare(
    frames: Iterable[np.ndarray],
    n: int,
    affines: np.ndarray | None,
    geo: Geometry,
    channels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``(n * A, H, W, C)`` uint8 and their 2x3 video->input affines ``(n, A, 2, 3)``.

    ``frames`` is consumed one frame at a time, so only boxes are kept, never a
    batch of full frames. Boxes are warped with bilinear interpolation and a
    black border, exactly as :meth:`Alignment.warp` cuts them for training; an
    unaligned model takes whole frames (it scales them itself by its ``input_scale``).
    """
    import cv2

    h, w = geo.input_hw
    out = np.zeros((n, geo.n_animals, h, w, channels), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame = match_channels(frame, channels)
        if not geo.aligned:
            fh, fw = frame.shape[:2]
            if fh > h or fw > w:
                raise PredictError(
                    f"the frames are {fw}x{fh} px but the model was trained on {w}x{h} px "
                    "frames; use a model trained on videos of this size."
                )
            out[i, 0, :fh, :fw] = frame  # smaller frames padded as in training (bottom, right)
            continue
        assert affines is not None  # an aligned model's inputs come with their boxes
        for a in range(geo.n_animals):
            m = affines[i, a]
            if np.isfinite(m).all():
                warped = cv2.warpAffine(
                    frame,
                    m,
                    (w, h),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )
                out[i, a] = warped.reshape(h, w, channels)
    if geo.aligned:
        mats = affines
    else:
        mats = np.broadcast_to(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 2, 3))
    return out.reshape(n * geo.n_animals, h, w, channels), np.asarray(mats, dtype=np.float64)


def match_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """Grey frames for a grey model (RGB averaged, as the trainer does), RGB for a colour one."""
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.shape[2] == channels:
        return frame
    if channels == 1:
        return frame.mean(axis=2, keepdims=True).astype(np.uint8)
    return np.repeat(frame[..., :1], channels, axis=2)


def to_video(points: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """Invert the 2x3 video->input affines: ``p_video = A^-1 (p_in - t)``; NaN where undefined."""
    a = mats[..., :2]  # (n, A, 2, 2)
    t = mats[..., 2]  # (n, A, 2)
    ok = np.isfinite(mats).all(axis=(-1, -2))
    inv = np.full_like(a, np.nan)
    inv[ok] = np.linalg.inv(a[ok])
    return np.einsum("naij,nakj->naki", inv, points - t[:, :, None, :])


def box_affines(centres: np.ndarray, angles: np.ndarray, box_size: int) -> np.ndarray:
    """Video->box 2x3 matrices ``(..., 2, 3)``: :meth:`Alignment.affine` over many boxes.

    Centres are ``(..., 2)`` and angles ``(...)``; NaN where a centre is missing. The one
    place the boxes of the alignment pass and of the one-pass (two-stage) run are made.
    """
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([-s, c], -1), np.stack([-c, -s], -1)], -2)  # (..., 2, 2)
    cb = (int(box_size) - 1) / 2.0
    centres = np.asarray(centres, dtype=np.float64)
    shift = cb - np.einsum("...ij,...j->...i", rot, centres)
    out = np.concatenate([rot, shift[..., None]], axis=-1)
    out[~np.isfinite(centres).all(-1)] = np.nan
    return out


def batch_frames(batch_size: int, geo: Geometry) -> int:
    """Frames per batch for ``batch_size`` model inputs (boxes)."""
    return max(1, int(batch_size) // geo.n_animals)
