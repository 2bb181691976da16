"""Box transforms: a box is ``box_size`` pixels square, the animal's centre at its middle, head up.

Points are ``x, y`` with pixel centres at integers; the heading ``a`` is the
direction from the centre towards the head, ``atan2(dy, dx)`` in image
coordinates (x right, y down)::

    p_box = R (p_video - centre) + c_box,   p_video = R^T (p_box - c_box) + centre
    R = [[-sin a, cos a], [-cos a, -sin a]]   (rotation taking the heading to (0, -1))

with ``c_box = ((B-1)/2, (B-1)/2)``.
"""

from __future__ import annotations

import numpy as np


def to_box(points: np.ndarray, centers: np.ndarray, angles: np.ndarray, box_size: int):
    """``(..., 2)`` video points to box points; ``centers`` ``(..., 2)``, ``angles`` ``(...)``."""
    cos, sin = np.cos(angles), np.sin(angles)
    dx, dy = points[..., 0] - centers[..., 0], points[..., 1] - centers[..., 1]
    cb = (box_size - 1) / 2.0
    return np.stack([-sin * dx + cos * dy + cb, -cos * dx - sin * dy + cb], axis=-1)


def to_video(points: np.ndarray, centers: np.ndarray, angles: np.ndarray, box_size: int):
    """Inverse of :func:`to_box`: ``p_video = R^T (p_box - c_box) + centre``."""
    cos, sin = np.cos(angles), np.sin(angles)
    cb = (box_size - 1) / 2.0
    bx, by = points[..., 0] - cb, points[..., 1] - cb
    return np.stack(
        [-sin * bx - cos * by + centers[..., 0], cos * bx - sin * by + centers[..., 1]], axis=-1
    )


def affine_matrix(center: np.ndarray, angle: float, box_size: int) -> np.ndarray:
    """2x3 video -> box matrix (as ``cv2.warpAffine`` takes it)."""
    cos, sin = np.cos(angle), np.sin(angle)
    r = np.array([[-sin, cos], [-cos, -sin]])
    cb = (box_size - 1) / 2.0
    return np.hstack([r, (np.array([cb, cb]) - r @ center)[:, None]])


def warp_boxes(
    image: np.ndarray, centers: np.ndarray, angles: np.ndarray, box_size: int
) -> np.ndarray:
    """``(animals, box, box, channels)`` boxes cut from one decoded frame (black where no centre)."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    b = box_size
    out = np.zeros((len(centers), b, b, img.shape[2]), np.uint8)
    for k, (center, angle) in enumerate(zip(centers, angles, strict=True)):
        if not np.all(np.isfinite(center)):
            continue
        box = cv2.warpAffine(
            img,
            affine_matrix(center, angle, b),
            (b, b),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        out[k] = box.reshape(b, b, -1)
    return out
