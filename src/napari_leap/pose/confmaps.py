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
    Returns (B, K, height, width) float32 on the points' device.
    """
    import torch

    points = torch.as_tensor(points, dtype=torch.float32)
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
    import torch

    cm = confmaps.float()
    b, k, h, w = cm.shape
    flat = cm.reshape(b, k, h * w)
    scores, idx = flat.max(-1)
    iy = torch.div(idx, w, rounding_mode="floor")
    ix = idx - iy * w

    # 3x3 neighbourhood via padding; padding with the peak's own value at the border
    # makes the fit symmetric there (offset 0) instead of jumping.
    padded = torch.nn.functional.pad(cm, (1, 1, 1, 1), mode="replicate")
    pflat = padded.reshape(b, k, (h + 2) * (w + 2))

    def at(dy, dx):
        return pflat.gather(-1, ((iy + 1 + dy) * (w + 2) + (ix + 1 + dx)).unsqueeze(-1)).squeeze(-1)

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
