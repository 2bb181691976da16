"""One training step and one validation pass: the same code for the loop and the step timer."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

from napari_leap.pose.augment import AugmentConfig
from napari_leap.pose.trained import channels_last


@dataclass(frozen=True)
class MapSpec:
    """The network's output grid and its targets' width: what a loss compares with."""

    out_hw: tuple[int, int]
    stride: int
    sigma: float  # in scaled input pixels

    def confmaps(self, points):
        """Gaussian targets of ``points`` (scaled input pixels) on the output grid."""
        from napari_leap.pose.confmaps import make_confmaps

        return make_confmaps(points, self.out_hw[0], self.out_hw[1], self.stride, self.sigma)


@dataclass
class Learner:
    """The network and what steps it (optimiser, loss scaler, random stream, augmentation)."""

    net: Any
    opt: Any
    scaler: Any
    gen: Any
    augment: AugmentConfig
    flip_perm: list[int]
    maps: MapSpec
    oversample: int = 1  # training images are that many times the input size


def train_step(learner: Learner, x_all, p_all, idx) -> float:
    """One optimisation step on images ``x_all[idx]`` (uint8) and points ``p_all[idx]``."""
    import torch

    from napari_leap.pose.augment import augment_batch

    idx = idx.to(x_all.device)
    x = x_all[idx].float() / 255
    x, p = augment_batch(
        x, p_all[idx], learner.augment, learner.flip_perm, learner.gen, learner.oversample
    )
    target = learner.maps.confmaps(p)
    if channels_last(x.device):
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(x.device.type, enabled=x.device.type == "cuda", dtype=torch.float16):
        out = learner.net(x)
    loss = torch.nn.functional.mse_loss(out.float(), target)
    learner.opt.zero_grad(set_to_none=True)
    learner.scaler.scale(loss).backward()
    learner.scaler.step(learner.opt)
    learner.scaler.update()
    return float(loss.detach())


def evaluate_batches(net, prep, x, maps: MapSpec, targets=None, batch: int = 32):
    """Peaks (N, K, 2) in input pixels, scores, and the MSE against ``targets`` (scaled points).

    Targets (N, A, K, 2) of several animals per image give peaks (N, A, K, 2): each
    animal's part is the local maximum matched to it (:func:`~napari_leap.pose.confmaps.match_peaks`).
    """
    import torch

    from napari_leap.pose.confmaps import find_local_peaks, find_peaks, match_peaks

    net.eval()
    pts, scores, loss_sum = [], [], 0.0
    cuda = x.device.type == "cuda"
    with torch.inference_mode(), torch.autocast(x.device.type, enabled=cuda, dtype=torch.float16):
        for i in range(0, len(x), batch):
            xb = x[i : i + batch].float() / 255
            if channels_last(xb.device):
                xb = xb.contiguous(memory_format=torch.channels_last)
            out = net(xb).float()
            if targets is not None:
                t = maps.confmaps(targets[i : i + batch])
                loss_sum += float(torch.nn.functional.mse_loss(out, t, reduction="sum"))
            if targets is not None and targets.ndim == 4:
                p, s = find_local_peaks(out, maps.stride, targets.shape[1])
                p, s = match_peaks(p, s, targets[i : i + batch])
            else:
                p, s = find_peaks(out, maps.stride)
            pts.append(prep.to_input(p).cpu())
            scores.append(s.cpu())
    n_el = (
        len(x) * maps.out_hw[0] * maps.out_hw[1] * (targets.shape[-2] if targets is not None else 1)
    )
    return torch.cat(pts), torch.cat(scores), loss_sum / max(n_el, 1)


def cosine_factor(done: float, floor: float = 0.02) -> float:
    """Learning-rate multiplier over the run (fraction of epochs or of the time budget).

    A cosine decay on top of reduce-on-plateau: the last stretch of a short,
    time-boxed run fine-tunes at a low rate instead of ending mid-stride.
    """
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(max(done, 0.0), 1.0)))


@contextlib.contextmanager
def scaled_lr(opt, factor: float):
    """Step with ``factor`` x the plateau scheduler's rate, which stays what it tracks."""
    base = [g["lr"] for g in opt.param_groups]
    for g, lr in zip(opt.param_groups, base, strict=True):
        g["lr"] = lr * factor
    try:
        yield
    finally:
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = lr


def prepare_arrays(prep, data, oversample: int = 1):
    """Scaled images once, as uint8 on the device (small), and points in scaled pixels.

    ``oversample``: images that many times the input size, for training to warp.
    """
    import torch

    chunks = []
    for i in range(0, len(data), 64):
        x = prep(data.images[i : i + 64], oversample=oversample)
        chunks.append((x * 255).round().to(torch.uint8))
    points = prep.to_scaled(torch.as_tensor(data.points, dtype=torch.float32)).to(prep.device)
    return torch.cat(chunks), points
