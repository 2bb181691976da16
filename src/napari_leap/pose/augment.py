"""On-the-fly augmentation of a batch in torch: one affine warp per image, points moved with it.

Rotation, scale jitter and left/right flip are composed into one matrix per
image and applied with ``grid_sample`` (no per-image Python work beyond
drawing the parameters); a flip also swaps the channels of symmetric body
parts, so "wingL" stays the fly's left wing.

A bilinear warp of the network's small input blurs it, and prediction never
warps its input (fly32: a model scored 2.06 px on test crops warped so and
2.24-2.31 px on sharp ones). Where the frames are exactly twice the input
across (input scale 0.5), training warps the frames themselves and shrinks
them as prediction does (:func:`oversampling`; `benchmarks/README.md`, "seventh
session", for what it gave and where it did not help).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class AugmentConfig:
    """How each training image is jittered (the defaults are LEAP's for aligned boxes)."""

    rotation: float = 15.0  # degrees, uniform in +-rotation (LEAP: 15 on aligned boxes)
    scale: float = 0.05  # relative, uniform in 1 +- scale
    flip: bool = True  # left/right flip with swapped symmetric nodes (p = 0.5)
    brightness: float = 0.1  # additive, fraction of full range
    contrast: float = 0.1  # multiplicative around the image mean
    translate: float = 0.0  # pixels, uniform in +-translate

    def to_dict(self) -> dict:
        """The fields as a dict (the checkpoint and ``config.json`` keep them)."""
        return dict(self.__dict__)


#: rotation of aligned boxes, and the least any labels get (LEAP's 15 degrees)
MIN_ROTATION = 15.0

#: how much larger than the network's input training keeps its images, to warp them sharp
OVERSAMPLE = 2


def oversampling(input_size, scaled) -> int:
    """How many times the input's size training warps its images at.

    :data:`OVERSAMPLE` where the frames (h, w) are exactly that many times the input's
    ``scaled`` content across (they are then warped themselves), else 1.
    """
    return OVERSAMPLE if tuple(OVERSAMPLE * s for s in scaled) == tuple(input_size) else 1


def rotation_range(points) -> float:
    """Degrees of rotation augmentation that full frames of these labels call for.

    Animals that turn every way in the frame (an open arena) need the full 180; a rig
    that holds the view (a head-fixed mouse, a joystick) must not be turned upside down,
    or the network cannot tell its parts apart by where they are. The spread is measured
    on the pair of labelled parts whose direction varies least: 1.5x its 95th percentile
    deviation from the mean direction, at least :data:`MIN_ROTATION`. ``points`` (N, K, 2)
    or (N, A, K, 2), NaN where not labelled.
    """
    import numpy as np

    pts = np.asarray(points, dtype=np.float64)
    pts = pts.reshape(-1, *pts.shape[-2:])
    seen = np.asarray(np.isfinite(pts).all(-1))
    spread = 180.0
    for i in range(pts.shape[1]):
        for j in range(i + 1, pts.shape[1]):
            both = seen[:, i] & seen[:, j]
            if both.sum() < 3 or both.mean() < 0.5:
                continue
            v = pts[both, j] - pts[both, i]
            angle = np.arctan2(v[:, 1], v[:, 0])
            mean = np.angle(np.exp(1j * angle).mean())
            deviation = np.degrees(np.abs(np.angle(np.exp(1j * (angle - mean)))))
            spread = min(spread, 1.5 * float(np.percentile(deviation, 95)))
    return float(min(180.0, max(MIN_ROTATION, spread)))


def affine_matrices(
    n: int, height: int, width: int, cfg: AugmentConfig, generator=None, device=None
):
    """Forward pixel-space 3x3 matrices (input -> augmented) and the flip flags, about the centre."""
    import torch

    def uniform(lo, hi):
        return torch.rand(n, generator=generator).to(device) * (hi - lo) + lo

    angle = uniform(-cfg.rotation, cfg.rotation) * (math.pi / 180)
    scale = uniform(1 - cfg.scale, 1 + cfg.scale)
    flip = (
        (torch.rand(n, generator=generator).to(device) < 0.5)
        if cfg.flip
        else torch.zeros(n, dtype=torch.bool, device=device)
    )
    tx, ty = uniform(-cfg.translate, cfg.translate), uniform(-cfg.translate, cfg.translate)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    fx = 1.0 - 2.0 * flip.float()
    # p' = R S (F (p - c)) + c + t, F flips x about the centre
    m = torch.zeros(n, 3, 3, device=device)
    m[:, 0, 0], m[:, 0, 1] = cos * fx, -sin
    m[:, 1, 0], m[:, 1, 1] = sin * fx, cos
    m[:, 0, 2] = cx + tx - (m[:, 0, 0] * cx + m[:, 0, 1] * cy)
    m[:, 1, 2] = cy + ty - (m[:, 1, 0] * cx + m[:, 1, 1] * cy)
    m[:, 2, 2] = 1
    return m, flip


def warp_images(images, matrices):
    """Apply forward pixel matrices to (B, C, H, W) float images (bilinear, zeros outside)."""
    import torch

    b, _, h, w = images.shape
    inv = torch.linalg.inv(matrices)
    # pixel -> normalised with align_corners=True: x_n = 2 x / (W - 1) - 1
    norm = torch.tensor(
        [[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1]],
        device=images.device,
        dtype=inv.dtype,
    )
    theta = norm @ inv @ torch.linalg.inv(norm)
    grid = torch.nn.functional.affine_grid(
        theta[:, :2].to(images.dtype), (b, 1, h, w), align_corners=True
    )
    return torch.nn.functional.grid_sample(
        images, grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )


def transform_points(points, matrices, flip, flip_permutation):
    """Move (B, K, 2) points (or (B, A, K, 2), several animals) by ``matrices``.

    Flipped images take each node from its partner.
    """
    import torch

    ones = torch.ones_like(points[..., :1])
    m = matrices.transpose(1, 2).to(points.dtype)
    if points.ndim == 4:
        m = m[:, None]
    moved = (torch.cat([points, ones], -1) @ m)[..., :2]
    perm = torch.as_tensor(flip_permutation, device=points.device)
    swapped = moved[..., perm, :]
    return torch.where(flip.reshape(-1, *[1] * (points.ndim - 1)), swapped, moved)


def warp_oversampled(images, matrices, factor: int):
    """Warp images kept ``factor`` x the network's input size, then shrink them to it.

    ``matrices`` move input pixels; the shrink is the antialiased bilinear resize that
    :class:`~napari_leap.pose.trained.Preprocessor` gives prediction's frames, so an
    unmoved image comes out as prediction would see it.
    """
    import torch

    # input pixel p sits at factor * (p + 0.5) - 0.5 in the large image
    up = torch.eye(3, device=matrices.device, dtype=matrices.dtype)
    up[0, 0] = up[1, 1] = factor
    up[0, 2] = up[1, 2] = (factor - 1) / 2
    large = warp_images(images, up @ matrices @ torch.linalg.inv(up))
    h, w = images.shape[-2] // factor, images.shape[-1] // factor
    return torch.nn.functional.interpolate(
        large, size=(h, w), mode="bilinear", align_corners=False, antialias=True
    )


def augment_batch(
    images, points, cfg: AugmentConfig, flip_permutation, generator=None, oversample: int = 1
):
    """Augment float images (B, C, H, W) in [0, 1] and their (B, K, 2) points together.

    ``oversample``: the images are that many times the network's input size (the
    points are in input pixels); they come out at the input size.
    """
    import torch

    b, _, h, w = images.shape
    h, w = h // oversample, w // oversample
    m, flip = affine_matrices(b, h, w, cfg, generator=generator, device=images.device)
    images = warp_oversampled(images, m, oversample) if oversample > 1 else warp_images(images, m)
    points = transform_points(points, m, flip, flip_permutation)
    if cfg.contrast or cfg.brightness:

        def uniform(r):
            return (torch.rand(b, 1, 1, 1, generator=generator).to(images.device) * 2 - 1) * r

        mean = images.mean((1, 2, 3), keepdim=True)
        images = (images - mean) * (1 + uniform(cfg.contrast)) + mean + uniform(cfg.brightness)
        images = images.clamp(0, 1)
    return images, points
