"""Object keypoint similarity (COCO, SLEAP) and COCO-style average precision over it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from napari_leap.errors import LeapError

UNIFORM_SIGMA = 0.025
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)


def instance_area(points: np.ndarray) -> float:
    """Area of the bounding box of the visible points of one instance (K, 2)."""
    vis = points[~np.isnan(points).any(axis=-1)]
    if len(vis) == 0:
        return math.nan
    return float(np.prod(vis.max(axis=0) - vis.min(axis=0)))


def compute_oks(gt: np.ndarray, pred: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """OKS between every ground-truth (G, K, 2) and predicted (P, K, 2) instance -> (G, P)."""
    gt = np.asarray(gt, float)
    pred = np.asarray(pred, float)
    k2 = (2.0 * np.asarray(sigmas, float)) ** 2  # (K,)
    out = np.zeros((len(gt), len(pred)))
    for g in range(len(gt)):
        vis = ~np.isnan(gt[g]).any(axis=-1)
        n_vis = int(vis.sum())
        if n_vis == 0:
            out[g] = math.nan
            continue
        scale = 2.0 * (instance_area(gt[g]) + np.spacing(1))
        for p in range(len(pred)):
            d2 = np.sum((gt[g] - pred[p]) ** 2, axis=-1)  # NaN where either is missing
            denom = k2 * scale
            with np.errstate(divide="ignore", invalid="ignore"):
                ks = np.where(denom > 0, np.exp(-d2 / np.where(denom > 0, denom, 1.0)), d2 == 0)
            ks = np.where(np.isnan(d2), 0.0, ks)
            out[g, p] = float(np.sum(ks[vis]) / n_vis)
    return out


def average_precision(
    frames: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    sigmas: np.ndarray,
    oks_thresholds: np.ndarray = OKS_THRESHOLDS,
    recall_thresholds: np.ndarray = RECALL_THRESHOLDS,
) -> np.ndarray:
    """COCO average precision per OKS threshold.

    ``frames`` holds, per frame, ground truth (G, K, 2), predictions (P, K, 2) and their
    scores (P,), with absent animals already removed. Returns AP per threshold (NaN
    when there is no ground truth at all).
    """
    n_gt = sum(len(g) for g, _, _ in frames)
    oks = [compute_oks(g, p, sigmas) if len(g) and len(p) else None for g, p, _ in frames]
    order = [np.argsort(-np.asarray(s, float), kind="mergesort") for _, _, s in frames]
    aps = np.full(len(oks_thresholds), math.nan)
    if n_gt == 0:
        return aps
    for ti, t in enumerate(oks_thresholds):
        scores, tps = [], []
        for (g, _p, s), o, idx in zip(frames, oks, order, strict=True):
            taken = np.zeros(len(g), bool)
            for pi in idx:
                hit = False
                if o is not None:
                    cand = np.where(taken, -np.inf, o[:, pi])
                    best = int(np.argmax(cand)) if len(cand) else -1
                    if best >= 0 and cand[best] >= min(t, 1 - 1e-10):
                        taken[best] = True
                        hit = True
                scores.append(float(s[pi]))
                tps.append(hit)
        if not scores:
            aps[ti] = 0.0
            continue
        rank = np.argsort(-np.asarray(scores), kind="mergesort")
        tp_sorted = np.asarray(tps, bool)[rank]
        tp = np.cumsum(tp_sorted)
        fp = np.cumsum(~tp_sorted)
        rc = tp / n_gt
        pr = tp / (tp + fp + np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1]  # precision envelope, non-increasing
        ri = np.searchsorted(rc, recall_thresholds, side="left")
        q = np.zeros(len(recall_thresholds))
        valid = ri < len(pr)
        q[valid] = pr[ri[valid]]
        aps[ti] = float(q.mean())
    return aps


def resolve_sigmas(node_sigmas: Any, k: int, sq_norm: list[list[float]]) -> tuple[str, np.ndarray]:
    """OKS sigmas per node and how they were chosen (``uniform``, ``data`` or ``given``)."""
    if node_sigmas is None or (isinstance(node_sigmas, str) and node_sigmas == "uniform"):
        return "uniform", np.full(k, UNIFORM_SIGMA)
    if isinstance(node_sigmas, str):
        if node_sigmas != "data":
            raise LeapError(
                f"node sigmas must be 'data', 'uniform' or one number per node; got {node_sigmas!r}."
            )
        # COCO: sigma_i^2 = E[d_i^2 / s^2]; a node never predicted keeps the uniform value
        est = np.array([math.sqrt(np.mean(v)) if v else UNIFORM_SIGMA for v in sq_norm])
        return "data", est
    s = np.asarray(node_sigmas, float).reshape(-1)
    if s.size == 1:
        s = np.full(k, float(s[0]))
    if s.size != k or np.any(~np.isfinite(s)) or np.any(s < 0):
        raise LeapError(f"node sigmas must be {k} non-negative numbers, one per body part.")
    return "given", s
