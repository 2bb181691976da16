"""Accuracy of predicted poses against ground truth, measured the way the field reports it.

Errors are Euclidean distances in pixels between matched points. Matching, in order:

* frames by ``(video, frame index)``; videos by full path, then by file name, then
  (for what is left) by their order in each file;
* animals per frame by the assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``)
  that minimises the sum of mean per-node distances over nodes visible in both;
* body parts by name, so a prediction skeleton may order (or lack) nodes differently.

A ground-truth point with no prediction (its animal was not matched, or the node is
missing in the matched prediction) is *counted* in ``n_missing`` and is never averaged
into the error statistics, which would otherwise reward a model for skipping hard points.
It does count as a failure in PCK, whose denominator is ``n_points``.

``to_dict()`` keys:

* ``n_points``: visible ground-truth points in the evaluated frames;
* ``n_missing``: of those, points with no predicted counterpart;
* ``mean_px``, ``median_px``, ``p90_px``, ``p95_px``: statistics of the errors of the
  predicted points (percentiles as ``np.percentile`` computes them, linear interpolation);
* ``pck``: fraction of ``n_points`` with error ``<=`` a threshold (inclusive). Keys
  ``"<t>px"`` for thresholds in pixels (``"1px"``, ``"2px"``, ``"5px"``, ``"10px"``) and
  ``"<f>bl"`` for fractions of the animal's body length (``"0.05bl"``, ``"0.1bl"``,
  ``"0.2bl"``); numbers are written with ``format(x, "g")``;
* ``map_oks``: COCO-style mean average precision over OKS thresholds 0.50:0.05:0.95;
* ``per_node``: node name -> the same keys except ``map_oks``.

Statistics of an empty set are ``None`` in ``to_dict()`` (JSON has no NaN).

OKS follows COCO and SLEAP (``sleap.nn.evals.compute_oks``):
``OKS = mean over visible GT nodes of exp(-d^2 / (2 s^2 k_i^2))`` with ``s^2`` the area of
the bounding box of the visible ground-truth points (plus ``np.spacing(1)``) and
``k_i = 2 sigma_i``. Uniform sigmas are SLEAP's default ``sigma = 0.025`` (``k = 0.05``),
COCO's smallest (eye) sigma: pose models of small animals are judged at eye-level
precision for every node, and numbers stay comparable with SLEAP's reports. Sigmas
estimated from the data follow the COCO keypoint procedure, ``sigma_i^2 = E[d_i^2 / s^2]``,
over the matched points of node ``i``; these make OKS relative to this model's own spread,
so use them to compare nodes, not models. Average precision is computed like COCO: per
OKS threshold, predictions of a frame are taken in order of score and each is greedily
matched to the unmatched ground-truth animal of highest OKS at or above the threshold;
unmatched predictions are false positives (SLEAP drops them; COCO counts them, as do we),
then precision is interpolated at the 101 recall points 0:0.01:1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.errors import LeapError

UNIFORM_SIGMA = 0.025
OKS_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)

_FRONT_NAMES = ("head", "nose", "snout", "beak", "mouth")
_BACK_NAMES = ("abdomen", "tailbase", "tail_base", "tail-base", "tail base", "tail", "abdo", "rump")


def pck_key_px(threshold: float) -> str:
    """Key of a pixel PCK threshold in ``pck`` mappings, e.g. ``"5px"``."""
    return f"{float(threshold):g}px"


def pck_key_bl(fraction: float) -> str:
    """Key of a body-length PCK fraction in ``pck`` mappings, e.g. ``"0.1bl"``."""
    return f"{float(fraction):g}bl"


def _stat(values: np.ndarray, q: float | None = None) -> float:
    if values.size == 0:
        return math.nan
    if q is None:
        return float(np.mean(values))
    return float(np.percentile(values, q))


def _none_if_nan(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class EvaluationResult:
    """Every matched point's error, plus the OKS/mAP figures; summaries are computed on demand.

    Per ground-truth point (arrays of length ``n_points``): ``distances`` (NaN when
    missing), ``node_index`` and ``body_length`` (the PCK-bl scale of its animal).
    """

    node_names: list[str]
    distances: np.ndarray
    node_index: np.ndarray
    body_length: np.ndarray
    pck_thresholds_px: tuple[float, ...]
    pck_fractions: tuple[float, ...]
    map_oks: float
    ap_per_threshold: np.ndarray
    sigmas: np.ndarray
    sigma_mode: str
    body_length_nodes: tuple[str, str] | None
    n_frames: int = 0
    n_gt_frames_skipped: int = 0
    n_gt_instances: int = 0
    n_pred_instances: int = 0
    n_matched_instances: int = 0
    notes: list[str] = field(default_factory=list)

    # -- summaries ---------------------------------------------------------------------
    def _summary(self, mask: np.ndarray) -> dict[str, Any]:
        d = self.distances[mask]
        bl = self.body_length[mask]
        ok = ~np.isnan(d)
        e = d[ok]
        n = int(d.size)
        pck: dict[str, float] = {}
        for t in self.pck_thresholds_px:
            pck[pck_key_px(t)] = float(np.sum(e <= t) / n) if n else math.nan
        for f in self.pck_fractions:
            pck[pck_key_bl(f)] = float(np.sum(e <= f * bl[ok]) / n) if n else math.nan
        return {
            "n_points": n,
            "n_missing": int(n - ok.sum()),
            "mean_px": _stat(e),
            "median_px": _stat(e, 50),
            "p90_px": _stat(e, 90),
            "p95_px": _stat(e, 95),
            "pck": pck,
        }

    @property
    def n_points(self) -> int:
        """Ground-truth points scored."""
        return int(self.distances.size)

    @property
    def n_missing(self) -> int:
        """Ground-truth points with no prediction."""
        return int(np.isnan(self.distances).sum())

    def node_errors(self, node: int | str) -> np.ndarray:
        """Errors (px) of the predicted points of one node, missing points left out."""
        k = self.node_names.index(node) if isinstance(node, str) else int(node)
        d = self.distances[self.node_index == k]
        return d[~np.isnan(d)]

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain Python (JSON-ready; NaN becomes None)."""
        overall = self._summary(np.ones(self.distances.shape, bool))
        per_node = {
            name: self._summary(self.node_index == k) for k, name in enumerate(self.node_names)
        }

        def clean(s: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for key, v in s.items():
                if key == "pck":
                    out[key] = {t: _none_if_nan(x) for t, x in v.items()}
                elif isinstance(v, float):
                    out[key] = _none_if_nan(v)
                else:
                    out[key] = v
            return out

        d = clean(overall)
        return {
            "n_points": d["n_points"],
            "n_missing": d["n_missing"],
            "mean_px": d["mean_px"],
            "median_px": d["median_px"],
            "p90_px": d["p90_px"],
            "p95_px": d["p95_px"],
            "pck": d["pck"],
            "map_oks": _none_if_nan(float(self.map_oks)),
            "per_node": {name: clean(s) for name, s in per_node.items()},
        }

    # -- human output ------------------------------------------------------------------
    def format_table(self) -> str:
        """A fixed-width table, one row per body part and one for all, plus a summary line."""
        overall = self._summary(np.ones(self.distances.shape, bool))
        pck_keys = list(overall["pck"])
        width = max([len("all")] + [len(n) for n in self.node_names])

        def num(x: float, fmt: str = "7.2f") -> str:
            return f"{'-':>7}" if math.isnan(x) else format(x, fmt)

        head = (
            f"{'node':<{width}} {'points':>7} {'missing':>7} {'mean':>7} {'median':>7}"
            f" {'p90':>7} {'p95':>7}" + "".join(f" {'PCK' + k:>10}" for k in pck_keys)
        )
        lines = [head, "-" * len(head)]

        def row(name: str, s: dict[str, Any]) -> str:
            return (
                f"{name:<{width}} {s['n_points']:>7d} {s['n_missing']:>7d} {num(s['mean_px'])}"
                f" {num(s['median_px'])} {num(s['p90_px'])} {num(s['p95_px'])}"
                + "".join(f" {num(s['pck'][k], '10.3f'):>10}" for k in pck_keys)
            )

        for k, name in enumerate(self.node_names):
            lines.append(row(name, self._summary(self.node_index == k)))
        lines.append("-" * len(head))
        lines.append(row("all", overall))
        m = self.map_oks
        lines.append(
            f"OKS mAP (0.50:0.95, {self.sigma_mode} sigmas): "
            + ("-" if math.isnan(m) else f"{m:.4f}")
            + f"; errors in px; {self.n_frames} frames, {self.n_gt_instances} ground-truth and "
            f"{self.n_pred_instances} predicted animals, {self.n_matched_instances} matched"
        )
        if self.body_length_nodes:
            lines.append(f"body length: {self.body_length_nodes[0]}-{self.body_length_nodes[1]}")
        else:
            lines.append("body length: bounding-box diagonal of each ground-truth animal")
        lines.extend(self.notes)
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Write a PNG: per-node error box plot (left) and PCK against threshold (right)."""
        # a bare Figure renders with Agg whatever backend is active, and leaves pyplot (and a
        # napari session's Qt backend) alone
        from matplotlib.figure import Figure

        from napari_leap.io.atomic import atomic_path

        path = Path(path)
        fig = Figure(figsize=(12, max(4.0, 0.3 * len(self.node_names) + 1.5)), dpi=100)
        ax_box, ax_pck = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        data = [self.node_errors(k) for k in range(len(self.node_names))]
        positions = np.arange(len(self.node_names))[::-1]
        nonempty = [i for i, d in enumerate(data) if d.size]
        if nonempty:
            ax_box.boxplot(
                [data[i] for i in nonempty],
                positions=positions[nonempty],
                orientation="horizontal",
                whis=(5, 95),
                showfliers=False,
            )
        ax_box.set_yticks(positions, self.node_names)
        ax_box.set_xlabel("error (px); box: quartiles, whiskers: 5th-95th percentile")
        ax_box.set_title("error per body part")
        ax_box.grid(axis="x", alpha=0.3)

        ok = self.distances[~np.isnan(self.distances)]
        n = max(self.n_points, 1)
        top = max(float(np.percentile(ok, 99)) if ok.size else 1.0, max(self.pck_thresholds_px))
        t = np.linspace(0, top * 1.05, 300)
        ax_pck.plot(t, [np.sum(ok <= x) / n for x in t], label="all body parts")
        for x in self.pck_thresholds_px:
            ax_pck.axvline(x, color="0.8", lw=0.8, zorder=0)
        ax_pck.set_xlabel("threshold (px)")
        ax_pck.set_ylabel("fraction of ground-truth points within threshold")
        ax_pck.set_ylim(0, 1.02)
        m = self.map_oks
        ax_pck.set_title(
            f"PCK (n={self.n_points}, missing={self.n_missing}); OKS mAP "
            + ("-" if math.isnan(m) else f"{m:.3f}")
        )
        ax_pck.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        return path


# -- OKS and mAP ---------------------------------------------------------------------------
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


# -- matching ------------------------------------------------------------------------------
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


# -- entry points --------------------------------------------------------------------------
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
    gt = np.asarray(gt, float)
    pred = np.asarray(pred, float)
    node_names = [str(n) for n in node_names]
    if gt.ndim == 3:
        gt = gt[:, None]
    if pred.ndim == 3:
        pred = pred[:, None]
    k = len(node_names)
    if gt.ndim != 4 or gt.shape[-1] != 2 or gt.shape[2] != k:
        raise LeapError(f"ground truth must have shape (frames, animals, {k}, 2); got {gt.shape}.")
    if pred.ndim != 4 or pred.shape[-1] != 2 or pred.shape[2] != k or len(pred) != len(gt):
        raise LeapError(
            f"predictions must have shape ({len(gt)}, animals, {k}, 2) like the ground truth; "
            f"got {pred.shape}."
        )
    # a point is missing if either coordinate is
    gt = np.where(np.isnan(gt).any(axis=-1, keepdims=True), np.nan, gt)
    pred = np.where(np.isnan(pred).any(axis=-1, keepdims=True), np.nan, pred)
    scores = _instance_scores(pred, pred_scores)

    pair_names = _resolve_pair(node_names, body_length_nodes)
    pair = (
        (node_names.index(pair_names[0]), node_names.index(pair_names[1])) if pair_names else None
    )
    body = _body_lengths(gt, pair)

    dist, node_idx, bl = [], [], []
    sq_norm: list[list[float]] = [[] for _ in range(k)]  # d^2 / area per node, for sigmas
    frames = []
    n_gt_inst = n_pred_inst = n_matched = 0
    for f in range(len(gt)):
        g_keep = np.flatnonzero(~np.isnan(gt[f]).all(axis=(-1, -2)))
        p_keep = np.flatnonzero(~np.isnan(pred[f]).all(axis=(-1, -2)))
        g, p = gt[f, g_keep], pred[f, p_keep]
        n_gt_inst += len(g)
        n_pred_inst += len(p)
        frames.append((g, p, scores[f, p_keep]))
        matched = dict(match_animals(g, p))
        n_matched += len(matched)
        for gi in range(len(g)):
            vis = ~np.isnan(g[gi, :, 0])
            if gi in matched:
                d = np.linalg.norm(g[gi] - p[matched[gi]], axis=-1)
                area = instance_area(g[gi]) + np.spacing(1)
                for j in np.flatnonzero(vis & ~np.isnan(d)):
                    sq_norm[j].append(d[j] ** 2 / area)
            else:
                d = np.full(k, np.nan)
            for j in np.flatnonzero(vis):
                dist.append(d[j])
                node_idx.append(j)
                bl.append(body[f, g_keep[gi]])

    sigma_mode, sigmas = _resolve_sigmas(node_sigmas, k, sq_norm)
    aps = average_precision(frames, sigmas)
    return EvaluationResult(
        node_names=node_names,
        distances=np.asarray(dist, float),
        node_index=np.asarray(node_idx, int),
        body_length=np.asarray(bl, float),
        pck_thresholds_px=tuple(float(t) for t in pck_thresholds_px),
        pck_fractions=tuple(float(x) for x in pck_fractions),
        map_oks=float(np.mean(aps)) if not np.isnan(aps).all() else math.nan,
        ap_per_threshold=aps,
        sigmas=sigmas,
        sigma_mode=sigma_mode,
        body_length_nodes=pair_names,
        n_frames=len(gt),
        n_gt_instances=n_gt_inst,
        n_pred_instances=n_pred_inst,
        n_matched_instances=n_matched,
    )


def _resolve_sigmas(node_sigmas: Any, k: int, sq_norm: list[list[float]]) -> tuple[str, np.ndarray]:
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


def _load(labels: Any, what: str):
    import sleap_io as sio

    if isinstance(labels, sio.Labels):
        return labels
    path = Path(labels)
    if not path.exists():
        raise LeapError(f"{what} file {path} does not exist; check the path.")
    from napari_leap.io.labels import load_labels

    # the project's reader: .mat through sleap-io's LEAP reader, DeepLabCut .csv, one-line errors
    return load_labels(path)


def _video_name(video) -> str:
    f = video.filename
    if isinstance(f, (list, tuple)):
        f = f[0] if f else ""
    return str(f)


def match_videos(gt_videos: Sequence, pred_videos: Sequence) -> dict[int, int]:
    """GT video index -> prediction video index: same path, then same file name, then order."""
    gt_names = [_video_name(v) for v in gt_videos]
    pr_names = [_video_name(v) for v in pred_videos]
    out: dict[int, int] = {}
    used: set[int] = set()
    for i, n in enumerate(gt_names):
        if n in pr_names and pr_names.index(n) not in used:
            out[i] = pr_names.index(n)
            used.add(out[i])
    pr_base = [Path(n).name for n in pr_names]
    for i, n in enumerate(gt_names):
        if i in out:
            continue
        cands = [j for j, b in enumerate(pr_base) if b == Path(n).name and j not in used]
        if len(cands) == 1:
            out[i] = cands[0]
            used.add(cands[0])
    rest_gt = [i for i in range(len(gt_names)) if i not in out]
    rest_pr = [j for j in range(len(pr_names)) if j not in used]
    for i, j in zip(rest_gt, rest_pr, strict=False):
        out[i] = j
    return out


def _instance_rows(instances, names: list[str], with_scores: bool):
    """(A, K, 2) points in ``names`` order, and (A, K) node confidences (NaN when none)."""
    pts = np.full((len(instances), len(names), 2), np.nan)
    conf = np.full((len(instances), len(names)), np.nan)
    pos = {n: k for k, n in enumerate(names)}
    for a, inst in enumerate(instances):
        xy = inst.numpy()
        sc = inst.points["score"] if with_scores and "score" in inst.points.dtype.names else None
        for j, n in enumerate(inst.skeleton.node_names):
            k = pos.get(n)
            if k is not None:
                pts[a, k] = xy[j]
                if sc is not None:
                    conf[a, k] = sc[j]
    return pts, conf


def evaluate(
    ground_truth: Any,
    predictions: Any,
    *,
    node_sigmas: str | Sequence[float] | np.ndarray | None = None,
    body_length_nodes: Sequence[str] | None = None,
    pck_thresholds_px: Sequence[float] = (1, 2, 5, 10),
    pck_fractions: Sequence[float] = (0.05, 0.1, 0.2),
) -> EvaluationResult:
    """Evaluate predicted labels against ground-truth labels (``sleap_io.Labels`` or paths).

    Ground truth is each frame's user-labelled animals (predicted ones only if the file
    has no user labels at all); predictions are the predicted animals (user ones only if
    the file has no predicted ones). Ground-truth frames absent from the predictions file
    are skipped and counted (``n_gt_frames_skipped``), since predictions often cover only
    a held-out part; a frame present with no animals counts all its points as missing.
    """
    gt_labels = _load(ground_truth, "ground-truth")
    pr_labels = _load(predictions, "predictions")
    if not gt_labels.skeletons:
        raise LeapError("the ground-truth labels have no skeleton; label some frames first.")
    names = list(gt_labels.skeletons[0].node_names)
    pr_names = {n for s in pr_labels.skeletons for n in s.node_names}
    if not pr_names & set(names):
        raise LeapError(
            "the predictions share no body-part names with the ground truth "
            f"({', '.join(names)} vs {', '.join(sorted(pr_names)) or 'none'}); "
            "evaluate predictions made with this skeleton."
        )

    gt_user = any(lf.has_user_instances for lf in gt_labels.labeled_frames)
    pr_pred = any(lf.has_predicted_instances for lf in pr_labels.labeled_frames)
    vmap = match_videos(gt_labels.videos, pr_labels.videos)
    gt_vid = {id(v): i for i, v in enumerate(gt_labels.videos)}
    pr_vid = {id(v): i for i, v in enumerate(pr_labels.videos)}
    pr_frames: dict[tuple[int, int], list] = {}
    for lf in pr_labels.labeled_frames:
        insts = lf.predicted_instances if pr_pred else lf.user_instances
        pr_frames.setdefault((pr_vid[id(lf.video)], int(lf.frame_idx)), []).extend(insts)

    gt_rows, pr_rows, pr_conf = [], [], []
    seen: set[tuple[int, int]] = set()
    skipped = 0
    for lf in gt_labels.labeled_frames:
        insts = lf.user_instances if gt_user else lf.predicted_instances
        if not insts:
            continue
        key = (gt_vid[id(lf.video)], int(lf.frame_idx))
        if key in seen:
            raise LeapError(
                f"the ground truth labels frame {key[1]} of video {key[0]} twice; merge them first."
            )
        seen.add(key)
        pv = vmap.get(key[0])
        if pv is None or (pv, key[1]) not in pr_frames:
            skipped += 1
            continue
        g, _ = _instance_rows(insts, names, with_scores=False)
        p, c = _instance_rows(pr_frames[(pv, key[1])], names, with_scores=pr_pred)
        gt_rows.append(g)
        pr_rows.append(p)
        pr_conf.append(c)
    if not gt_rows:
        raise LeapError(
            "the ground truth and the predictions have no labelled frame in common "
            "(matched by video and frame index); predict on the labelled frames first."
        )
    n = len(gt_rows)
    a_gt = max(1, max(len(x) for x in gt_rows))
    a_pr = max(1, max(len(x) for x in pr_rows))
    k = len(names)
    gt = np.full((n, a_gt, k, 2), np.nan)
    pred = np.full((n, a_pr, k, 2), np.nan)
    conf = np.full((n, a_pr, k), np.nan)
    for f in range(n):
        gt[f, : len(gt_rows[f])] = gt_rows[f]
        pred[f, : len(pr_rows[f])] = pr_rows[f]
        conf[f, : len(pr_conf[f])] = pr_conf[f]
    result = evaluate_arrays(
        gt,
        pred,
        names,
        pred_scores=conf if pr_pred else None,
        node_sigmas=node_sigmas,
        body_length_nodes=body_length_nodes,
        pck_thresholds_px=pck_thresholds_px,
        pck_fractions=pck_fractions,
    )
    result.n_gt_frames_skipped = skipped
    absent = [nm for nm in names if nm not in pr_names]
    if absent:
        result.notes.append(
            f"not in the prediction skeleton (all counted missing): {', '.join(absent)}"
        )
    used = {key[0] for key in seen}
    for i, j in sorted(vmap.items()):
        a, b = _video_name(gt_labels.videos[i]), _video_name(pr_labels.videos[j])
        if i in used and Path(a).name != Path(b).name:
            result.notes.append(f"videos matched by their order in the files: {a} <-> {b}")
    if skipped:
        result.notes.append(
            f"{skipped} ground-truth frame(s) have no frame in the predictions file and were skipped"
        )
    return result
