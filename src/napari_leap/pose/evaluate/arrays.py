"""Evaluation of aligned arrays: animals matched per frame, errors per ground-truth point."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.pose.evaluate.oks import average_precision, instance_area, resolve_sigmas
from napari_leap.pose.evaluate.result import EvaluationResult

_FRONT_NAMES = ("head", "nose", "snout", "beak", "mouth")
_BACK_NAMES = ("abdomen", "tailbase", "tail_base", "tail-base", "tail base", "tail", "abdo", "rump")


def match_animals(gt: np.ndarray, pred: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (gt index, pred index) minimising the sum of mean per-node distances.

    Pairs with no node visible in both are never returned (they cannot be compared).
    """
    from scipy.optimize import linear_sum_assignment

    if len(gt) == 0 or len(pred) == 0:
        return []
    d = np.linalg.norm(gt[:, None] - pred[None, :], axis=-1)  # (G, P, K), NaN if either missing
    both = ~np.isnan(d)
    n = both.sum(axis=-1)
    with np.errstate(invalid="ignore"):
        cost = np.where(n > 0, np.nansum(d, axis=-1) / np.maximum(n, 1), np.nan)
    finite = ~np.isnan(cost)
    if not finite.any():
        return []
    big = (np.nanmax(cost) + 1.0) * (cost.size + 1)
    rows, cols = linear_sum_assignment(np.where(finite, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if finite[r, c]]


def _default_body_pair(names: Sequence[str]) -> tuple[str, str] | None:
    low = [n.lower() for n in names]

    def find(cands: Sequence[str]) -> str | None:
        for c in cands:
            if c in low:
                return names[low.index(c)]
        for c in cands:
            for n, lo in zip(names, low, strict=True):
                if re.search(re.escape(c), lo):
                    return n
        return None

    front, back = find(_FRONT_NAMES), find(_BACK_NAMES)
    if front and back and front != back:
        return (front, back)
    return None


def _body_lengths(gt: np.ndarray, pair: tuple[int, int] | None) -> np.ndarray:
    """Body length of every ground-truth animal (N, A), NaN where the animal is absent.

    With a node pair: their distance; where either is hidden, the median of that distance
    over all animals (a better guess of this animal's size than any box). Without a pair,
    or when the pair is never visible: the diagonal of the animal's visible-point box.
    """
    present = ~np.isnan(gt).any(axis=-1).all(axis=-1)  # (N, A)
    with np.errstate(invalid="ignore"):
        lo = np.nanmin(np.where(np.isnan(gt), np.inf, gt), axis=-2)
        hi = np.nanmax(np.where(np.isnan(gt), -np.inf, gt), axis=-2)
    diag = np.where(present, np.linalg.norm(hi - lo, axis=-1), np.nan)
    if pair is None:
        return diag
    length = np.linalg.norm(gt[..., pair[0], :] - gt[..., pair[1], :], axis=-1)
    known = length[~np.isnan(length)]
    if known.size == 0:
        return diag
    return np.where(present, np.where(np.isnan(length), np.median(known), length), np.nan)


def _resolve_pair(
    node_names: Sequence[str], body_length_nodes: Sequence[str] | None
) -> tuple[str, str] | None:
    if body_length_nodes is None:
        return _default_body_pair(node_names)
    pair = tuple(str(n) for n in body_length_nodes)
    if len(pair) != 2 or pair[0] == pair[1]:
        raise LeapError("body_length_nodes must name two different body parts.")
    unknown = [n for n in pair if n not in node_names]
    if unknown:
        raise LeapError(
            f"body-length node(s) {', '.join(unknown)} are not in the skeleton "
            f"({', '.join(node_names)}); pass two of those names."
        )
    return pair  # type: ignore[return-value]


def _instance_scores(pred: np.ndarray, pred_scores: np.ndarray | None) -> np.ndarray:
    """Score per predicted animal (N, A'): mean node confidence over its visible nodes, else 1."""
    n, a = pred.shape[:2]
    if pred_scores is None:
        return np.ones((n, a))
    s = np.asarray(pred_scores, float)
    if s.shape == (n, a):
        return np.where(np.isnan(s), 1.0, s)
    if s.shape == pred.shape[:3]:
        vis = ~np.isnan(pred).any(axis=-1) & ~np.isnan(s)
        cnt = vis.sum(axis=-1)
        total = np.where(vis, s, 0.0).sum(axis=-1)
        return np.where(cnt > 0, total / np.maximum(cnt, 1), 1.0)
    raise LeapError(
        f"prediction scores have shape {s.shape}; expected {(n, a)} per animal or "
        f"{pred.shape[:3]} per node."
    )


def evaluate_arrays(
    gt: np.ndarray,
    pred: np.ndarray,
    node_names: Sequence[str],
    *,
    pred_scores: np.ndarray | None = None,
    node_sigmas: str | Sequence[float] | np.ndarray | None = None,
    body_length_nodes: Sequence[str] | None = None,
    pck_thresholds_px: Sequence[float] = (1, 2, 5, 10),
    pck_fractions: Sequence[float] = (0.05, 0.1, 0.2),
) -> EvaluationResult:
    """Evaluate aligned frames: ``gt`` (N, A, K, 2) against ``pred`` (N, A', K, 2), x/y px.

    NaN marks a missing point; an animal slot with every node NaN is absent; (N, K, 2)
    arrays are read as one animal per frame. Nodes are in
    the same order in both (``node_names``); animals are matched here, per frame.
    ``pred_scores`` ranks predictions for mAP: (N, A') instance scores or (N, A', K) node
    confidences (averaged over visible nodes); default 1. ``node_sigmas``: ``None`` or
    ``"uniform"`` (0.025 for every node), ``"data"`` (estimated from these errors) or K values.
    """
    node_names = [str(n) for n in node_names]
    gt, pred = _checked(gt, pred, len(node_names))
    scores = _instance_scores(pred, pred_scores)
    pair_names = _resolve_pair(node_names, body_length_nodes)
    pair = (
        (node_names.index(pair_names[0]), node_names.index(pair_names[1])) if pair_names else None
    )
    body = _body_lengths(gt, pair)
    m = _Matches(len(node_names))
    for f in range(len(gt)):
        m.add_frame(gt[f], pred[f], scores[f], body[f])
    sigma_mode, sigmas = resolve_sigmas(node_sigmas, len(node_names), m.sq_norm)
    aps = average_precision(m.frames, sigmas)
    return EvaluationResult(
        node_names=node_names,
        distances=np.asarray(m.dist, float),
        node_index=np.asarray(m.node_idx, int),
        body_length=np.asarray(m.bl, float),
        pck_thresholds_px=tuple(float(t) for t in pck_thresholds_px),
        pck_fractions=tuple(float(x) for x in pck_fractions),
        map_oks=float(np.mean(aps)) if not np.isnan(aps).all() else math.nan,
        ap_per_threshold=aps,
        sigmas=sigmas,
        sigma_mode=sigma_mode,
        body_length_nodes=pair_names,
        n_frames=len(gt),
        n_gt_instances=m.n_gt,
        n_pred_instances=m.n_pred,
        n_matched_instances=m.n_matched,
    )


def _checked(gt, pred, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Both as (N, A, K, 2) float, a point missing where either coordinate is."""
    gt = np.asarray(gt, float)
    pred = np.asarray(pred, float)
    if gt.ndim == 3:
        gt = gt[:, None]
    if pred.ndim == 3:
        pred = pred[:, None]
    if gt.ndim != 4 or gt.shape[-1] != 2 or gt.shape[2] != k:
        raise LeapError(f"ground truth must have shape (frames, animals, {k}, 2); got {gt.shape}.")
    if pred.ndim != 4 or pred.shape[-1] != 2 or pred.shape[2] != k or len(pred) != len(gt):
        raise LeapError(
            f"predictions must have shape ({len(gt)}, animals, {k}, 2) like the ground truth; "
            f"got {pred.shape}."
        )
    gt = np.where(np.isnan(gt).any(axis=-1, keepdims=True), np.nan, gt)
    pred = np.where(np.isnan(pred).any(axis=-1, keepdims=True), np.nan, pred)
    return gt, pred


@dataclass
class _Matches:
    """What matching collects frame by frame: per ground-truth point and per frame."""

    k: int
    dist: list[float] = field(default_factory=list)
    node_idx: list[int] = field(default_factory=list)
    bl: list[float] = field(default_factory=list)
    sq_norm: list[list[float]] = field(default_factory=list)  # d^2 / area per node (sigmas)
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    n_gt: int = 0
    n_pred: int = 0
    n_matched: int = 0

    def __post_init__(self) -> None:
        self.sq_norm = [[] for _ in range(self.k)]

    def add_frame(self, gt: np.ndarray, pred: np.ndarray, scores, body: np.ndarray) -> None:
        """Match one frame's present animals and record every visible ground-truth point."""
        g_keep = np.flatnonzero(~np.isnan(gt).all(axis=(-1, -2)))
        p_keep = np.flatnonzero(~np.isnan(pred).all(axis=(-1, -2)))
        g, p = gt[g_keep], pred[p_keep]
        self.n_gt += len(g)
        self.n_pred += len(p)
        self.frames.append((g, p, scores[p_keep]))
        matched = dict(match_animals(g, p))
        self.n_matched += len(matched)
        for gi in range(len(g)):
            vis = ~np.isnan(g[gi, :, 0])
            if gi in matched:
                d = np.linalg.norm(g[gi] - p[matched[gi]], axis=-1)
                area = instance_area(g[gi]) + np.spacing(1)
                for j in np.flatnonzero(vis & ~np.isnan(d)):
                    self.sq_norm[j].append(d[j] ** 2 / area)
            else:
                d = np.full(self.k, np.nan)
            for j in np.flatnonzero(vis):
                self.dist.append(d[j])
                self.node_idx.append(int(j))
                self.bl.append(body[g_keep[gi]])
