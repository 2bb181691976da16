"""The result of an evaluation: every matched point's error, summaries, a table and a plot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


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
            out: dict[str, Any] = {}
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
            "notes": list(self.notes),
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
