"""Evaluation of labels files: frames matched by video and frame index, body parts by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.pose.evaluate.arrays import evaluate_arrays
from napari_leap.pose.evaluate.result import EvaluationResult


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
    names, pr_names = _node_names(gt_labels, pr_labels)
    pairs = _FramePairs(gt_labels, pr_labels, names)
    result = evaluate_arrays(
        *pairs.arrays(),
        names,
        pred_scores=pairs.confidences() if pairs.pr_pred else None,
        node_sigmas=node_sigmas,
        body_length_nodes=body_length_nodes,
        pck_thresholds_px=pck_thresholds_px,
        pck_fractions=pck_fractions,
    )
    result.n_gt_frames_skipped = pairs.skipped
    absent = [nm for nm in names if nm not in pr_names]
    if absent:
        result.notes.append(
            f"not in the prediction skeleton (all counted missing): {', '.join(absent)}"
        )
    used = {key[0] for key in pairs.seen}
    for i, j in sorted(pairs.vmap.items()):
        a, b = _video_name(gt_labels.videos[i]), _video_name(pr_labels.videos[j])
        if i in used and Path(a).name != Path(b).name:
            result.notes.append(f"videos matched by their order in the files: {a} <-> {b}")
    if pairs.skipped:
        result.notes.append(
            f"{pairs.skipped} ground-truth frame(s) have no frame in the predictions file and "
            "were skipped"
        )
    slips = _slips_text(pairs, names, len(gt_labels.videos))
    if slips:
        result.notes.append(slips)
    return result


def _slips_text(pairs: _FramePairs, names: list[str], n_videos: int) -> str | None:
    """The ground-truth points that look like slips of the mouse, named, worst first.

    Scored as labelled: the note says where an error may be the label's, not the model's.
    """
    from napari_leap.pose.dataset.strays import stray_points

    truth = pairs.arrays()[0]
    found = stray_points(truth)
    if not found.mask.any():
        return None
    hits = np.argwhere(found.mask)
    hits = hits[np.argsort(-found.offset_px[found.mask], kind="stable")]
    named = []
    for f, a, k in hits[:3]:
        video, frame = pairs.rows[f]
        where = f"frame {frame}" + (f" of video {video}" if n_videos > 1 else "")
        animal = f" of {pairs.animals[f][a]}" if truth.shape[1] > 1 else ""
        named.append(f"{names[k]}{animal} on {where}")
    more = f"; and {len(hits) - 3} more" if len(hits) > 3 else ""
    return (
        f"{len(hits)} ground-truth point(s) lie far from where their animal's other parts put "
        f"them (slips of the mouse?): {'; '.join(named)}{more}. They are scored as labelled; "
        "a large error there may be the label's."
    )


def _node_names(gt_labels, pr_labels) -> tuple[list[str], set[str]]:
    """The ground truth's body parts, and the predictions' (which must share some)."""
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
    return names, pr_names


class _FramePairs:
    """Ground-truth frames and the prediction frames they match, as rows per frame."""

    def __init__(self, gt_labels, pr_labels, names: list[str]):
        gt_user = any(lf.has_user_instances for lf in gt_labels.labeled_frames)
        self.pr_pred = any(lf.has_predicted_instances for lf in pr_labels.labeled_frames)
        self.vmap = match_videos(gt_labels.videos, pr_labels.videos)
        self.k = len(names)
        gt_vid = {id(v): i for i, v in enumerate(gt_labels.videos)}
        pr_frames = self._prediction_frames(pr_labels)
        self.gt_rows: list[np.ndarray] = []
        self.pr_rows: list[np.ndarray] = []
        self.pr_conf: list[np.ndarray] = []
        self.seen: set[tuple[int, int]] = set()
        self.rows: list[tuple[int, int]] = []  # (video, frame) of each row
        self.animals: list[list[str]] = []  # each row's ground-truth animals, as named
        self.skipped = 0
        for lf in gt_labels.labeled_frames:
            insts = lf.user_instances if gt_user else lf.predicted_instances
            if not insts:
                continue
            key = (gt_vid[id(lf.video)], int(lf.frame_idx))
            if key in self.seen:
                raise LeapError(
                    f"the ground truth labels frame {key[1]} of video {key[0]} twice; "
                    "merge them first."
                )
            self.seen.add(key)
            pv = self.vmap.get(key[0])
            if pv is None or (pv, key[1]) not in pr_frames:
                self.skipped += 1
                continue
            g, _ = _instance_rows(insts, names, with_scores=False)
            p, c = _instance_rows(pr_frames[(pv, key[1])], names, with_scores=self.pr_pred)
            self.rows.append(key)
            self.animals.append(
                [i.track.name if i.track else f"animal {a}" for a, i in enumerate(insts)]
            )
            self.gt_rows.append(g)
            self.pr_rows.append(p)
            self.pr_conf.append(c)
        if not self.gt_rows:
            raise LeapError(
                "the ground truth and the predictions have no labelled frame in common "
                "(matched by video and frame index); predict on the labelled frames first."
            )

    def _prediction_frames(self, pr_labels) -> dict[tuple[int, int], list]:
        """Prediction instances by (video, frame index)."""
        pr_vid = {id(v): i for i, v in enumerate(pr_labels.videos)}
        out: dict[tuple[int, int], list] = {}
        for lf in pr_labels.labeled_frames:
            insts = lf.predicted_instances if self.pr_pred else lf.user_instances
            out.setdefault((pr_vid[id(lf.video)], int(lf.frame_idx)), []).extend(insts)
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Ground truth (N, A, K, 2) and predictions (N, A', K, 2), NaN-padded."""
        return _stacked(self.gt_rows, (2,)), _stacked(self.pr_rows, (2,))

    def confidences(self) -> np.ndarray:
        """Prediction node confidences (N, A', K), NaN-padded."""
        return _stacked(self.pr_conf, ())


def _stacked(rows: list[np.ndarray], tail: tuple[int, ...]) -> np.ndarray:
    """Per-frame rows (A_f, K, *tail) as one (N, max A_f, K, *tail) array padded with NaN."""
    a = max(1, max(len(x) for x in rows))
    out = np.full((len(rows), a, rows[0].shape[1], *tail), np.nan)
    for f, r in enumerate(rows):
        out[f, : len(r)] = r
    return out
