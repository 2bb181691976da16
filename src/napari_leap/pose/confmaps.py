"""Confidence maps: one Gaussian per body part as targets, and peaks with subpixel refinement.

Grid convention: output pixel ``j`` of a map with stride ``s`` sits at input
coordinate ``j * s + (s - 1) / 2`` (pixel centres at integers), so targets and
peaks agree for every stride and nothing is off by half a pixel.
"""

from __future__ import annotations


def grid_coords(n: int, stride: int, device=None, dtype=None):
    """Input-pixel coordinate of each of ``n`` output cells along one axis."""
    import torch

    return torch.arange(n, device=device, dtype=dtype or torch.float32) * stride + (stride - 1) / 2


def make_confmaps(points, height: int, width: int, stride: int = 1, sigma: float = 5.0):
    """Gaussians with peak 1 at ``points`` (B, K, 2) x,y; NaN points give all-zero maps.

    ``height``/``width`` are the output map's size; ``sigma`` is in input pixels.
    Returns (B, K, height, width) float32 on the points' device. ``points``
    (B, A, K, 2) holds several animals per image: each body part's map is the
    maximum of its animals' Gaussians (so close animals keep two peaks).
    """
    import torch

    points = torch.as_tensor(points, dtype=torch.float32)
    if points.ndim == 4:
        b, a, k = points.shape[:3]
        maps = make_confmaps(points.reshape(b, a * k, 2), height, width, stride, sigma)
        return maps.reshape(b, a, k, height, width).amax(1)
    xs = grid_coords(width, stride, points.device)
    ys = grid_coords(height, stride, points.device)
    valid = torch.isfinite(points).all(-1)  # (B, K)
    p = torch.where(valid[..., None], points, torch.zeros_like(points))
    gx = torch.exp(-((xs[None, None, :] - p[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((ys[None, None, :] - p[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, H)
    maps = gy[..., :, None] * gx[..., None, :]
    return maps * valid[..., None, None].to(maps.dtype)


def find_peaks(confmaps, stride: int = 1):
    """Global maximum of each map with a log-quadratic fit on its 3x3 neighbourhood.

    A Gaussian's logarithm is a parabola, so the fit is exact on clean maps and
    robust on network outputs (values are clamped to stay positive). Batched:
    no loop over body parts. Returns ``points`` (B, K, 2) x,y in input pixels
    and ``scores`` (B, K), the fitted height of the peak.
    """
    cm = confmaps.float()
    b, k, h, w = cm.shape
    scores, idx = cm.reshape(b, k, h * w).max(-1)
    points, peak = _refine(cm, idx[..., None], scores[..., None], stride)
    return points[:, :, 0], peak[:, :, 0]


def find_local_peaks(confmaps, stride: int = 1, n_peaks: int = 1, radius: int = 1):
    """The ``n_peaks`` highest local maxima of each map, refined as :func:`find_peaks`.

    A cell is a local maximum when no cell within ``radius`` cells is higher, so
    two animals' peaks are told apart when they are more than ``radius`` cells
    apart. Returns ``points`` (B, K, n_peaks, 2) x,y in input pixels and
    ``scores`` (B, K, n_peaks), highest first; missing peaks (a map with fewer
    maxima) have NaN points and score 0.
    """
    import torch

    cm = confmaps.float()
    b, k, h, w = cm.shape
    n = min(int(n_peaks), h * w)
    pooled = torch.nn.functional.max_pool2d(cm, 2 * radius + 1, stride=1, padding=radius)
    local = torch.where(cm >= pooled, cm, torch.full_like(cm, -torch.inf))
    scores, idx = local.reshape(b, k, h * w).topk(n, dim=-1)
    found = torch.isfinite(scores)
    points, peak = _refine(cm, idx, scores.clamp_min(0), stride)
    points = torch.where(found[..., None], points, torch.full_like(points, float("nan")))
    return points, torch.where(found, peak, torch.zeros_like(peak))


def match_peaks(points, scores, truth):
    """Local peaks (B, K, P, 2) matched to labelled animals ``truth`` (B, A, K, 2).

    For each image and body part the labelled animals take the nearest peaks
    (Hungarian matching on distance, one peak per animal), so the error of a
    multi-animal map is measured per animal. Returns (B, A, K, 2) points and
    (B, A, K) scores, NaN/0 for an unlabelled animal or one left without a peak.
    """
    import numpy as np
    import torch
    from scipy.optimize import linear_sum_assignment

    p = points.detach().cpu().double().numpy()
    s = scores.detach().cpu().double().numpy()
    t = truth.detach().cpu().double().numpy() if hasattr(truth, "detach") else np.asarray(truth)
    b, a, k = t.shape[:3]
    out = np.full((b, a, k, 2), np.nan)
    out_s = np.zeros((b, a, k))
    for i in range(b):
        for j in range(k):
            rows = np.flatnonzero(np.isfinite(t[i, :, j]).all(-1))
            cols = np.flatnonzero(np.isfinite(p[i, j]).all(-1))
            if not len(rows) or not len(cols):
                continue
            d = np.linalg.norm(t[i, rows, j][:, None] - p[i, j, cols][None], axis=-1)
            r, c = linear_sum_assignment(d)
            out[i, rows[r], j] = p[i, j, cols[c]]
            out_s[i, rows[r], j] = s[i, j, cols[c]]
    return torch.as_tensor(out, dtype=points.dtype), torch.as_tensor(out_s, dtype=scores.dtype)


def _refine(cm, idx, scores, stride: int):
    """Subpixel positions (B, K, P, 2) and fitted heights (B, K, P) of cells ``idx`` (B, K, P)."""
    import torch

    b, k, h, w = cm.shape
    iy = torch.div(idx, w, rounding_mode="floor")
    ix = idx - iy * w

    # 3x3 neighbourhood via padding; padding with the peak's own value at the border
    # makes the fit symmetric there (offset 0) instead of jumping.
    padded = torch.nn.functional.pad(cm, (1, 1, 1, 1), mode="replicate")
    pflat = padded.reshape(b, k, (h + 2) * (w + 2))

    def at(dy, dx):
        return pflat.gather(-1, (iy + 1 + dy) * (w + 2) + (ix + 1 + dx))

    eps = 1e-6
    floor = (scores.abs() * 1e-3).clamp_min(eps)
    c = torch.log(scores.clamp_min(eps))
    left, right = (torch.log(torch.maximum(at(0, d), floor)) for d in (-1, 1))
    up, down = (torch.log(torch.maximum(at(d, 0), floor)) for d in (-1, 1))

    def fit(lo, hi):
        """Vertex offset of the parabola through (-1, lo), (0, c), (1, hi) and its rise there."""
        a = 0.5 * (lo + hi) - c
        b = 0.5 * (hi - lo)
        off = torch.where(a < -eps, -b / (2 * a), torch.zeros_like(a)).clamp(-0.5, 0.5)
        return off, a * off**2 + b * off

    ox, rx = fit(left, right)
    oy, ry = fit(up, down)
    x = (ix.float() + ox) * stride + (stride - 1) / 2
    y = (iy.float() + oy) * stride + (stride - 1) / 2
    # the confidence is the fitted peak height, so it does not depend on where the grid falls
    peak = torch.where(scores > eps, torch.exp(c + rx + ry), scores)
    return torch.stack([x, y], -1), peak
