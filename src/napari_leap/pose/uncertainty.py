"""Where a model is unsure: per-frame measures from its predictions, ranked and spread out.

Three measures per frame (the worst animal of the frame counts):

* ``low_peak``: the lowest body-part peak confidence (a part not found counts as 0);
* ``flip``: mean distance (px) between the prediction and the prediction of the
  left/right-flipped input mapped back (symmetric parts swapped): a model that sees the
  same animal twice and answers twice differently does not know it;
* ``jump``: mean distance (px) of the parts from the mean of the previous and next
  frames' predictions: real animals move smoothly, wrong predictions jump.

Each measure becomes a rank in [0, 1] over the candidate frames (1: the most unsure);
a frame's score is half its highest rank plus half the mean of its ranks, so a frame
that is extreme on one measure comes first and one unsure on all beats one unsure on
one. Picks are greedy by score, never two within ``min_gap`` frames, never a frame
already labelled; each pick says why it was suggested.
"""

from __future__ import annotations

import bisect
import contextlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MEASURES = ("low_peak", "flip", "jump")


@dataclass(frozen=True)
class Suggestion:
    """A frame to label, how unsure the model is there (0-1) and why."""

    frame: int
    score: float
    reason: str


def flip_back(points: np.ndarray, width: int, perm: Sequence[int]) -> np.ndarray:
    """Points predicted on a left/right-flipped image ``(..., K, 2)`` in the unflipped image.

    ``x -> width - 1 - x`` (pixel centres at integers) and part ``k`` takes its partner's
    place (``perm``: the skeleton's flip permutation).
    """
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] = width - 1 - out[..., 0]
    return out[..., list(perm), :]


def _found(points: np.ndarray) -> np.ndarray:
    """(F, A): animals with at least one part predicted."""
    return np.isfinite(points).all(-1).any(-1)


def low_peak(points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the lowest part score of any found animal (NaN: none found) and that part."""
    sc = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    found = _found(points)
    sc = np.where(found[..., None], sc, np.inf)
    flat = sc.reshape(len(sc), -1)
    k = sc.shape[-1]
    idx = flat.argmin(axis=1) if flat.size else np.zeros(len(sc), int)
    low = flat[np.arange(len(flat)), idx] if flat.size else np.full(len(sc), np.nan)
    low = np.where(np.isfinite(low), low, np.nan)
    return low, idx % max(k, 1)


def _mean_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per frame: the worst animal's mean part distance between ``a`` and ``b`` (NaN: none)."""
    d = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)
    with _quiet():
        per_animal = np.nanmean(d, axis=-1)
        return np.nanmax(per_animal, axis=-1) if per_animal.size else per_animal.sum(-1)


@contextlib.contextmanager
def _quiet():
    """All-NaN slices (animals or frames without a prediction) are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def flip_disagreement(points: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Per frame: mean px between the prediction and the flipped input's, mapped back."""
    return _mean_distance(points, flipped)


def temporal_jump(frames: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per frame: mean px from the mean of frame-1's and frame+1's prediction (NaN: no both)."""
    frames = np.asarray(frames, dtype=np.int64)
    out = np.full(len(frames), np.nan)
    if len(frames) < 3:
        return out
    where = {int(f): i for i, f in enumerate(frames)}
    prev = np.array([where.get(int(f) - 1, -1) for f in frames])
    nxt = np.array([where.get(int(f) + 1, -1) for f in frames])
    ok = (prev >= 0) & (nxt >= 0)
    if ok.any():
        mid = (points[prev[ok]] + points[nxt[ok]]) / 2
        out[ok] = _mean_distance(points[ok], mid)
    return out


def measures(frames, points, scores, flipped=None, *, jumps: bool = True) -> dict[str, np.ndarray]:
    """Every measure per frame (see the module); ``flipped``: predictions of flipped inputs."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 3:  # one animal
        points, scores = points[:, None], np.asarray(scores)[:, None]
        flipped = None if flipped is None else np.asarray(flipped)[:, None]
    low, part = low_peak(points, scores)
    out = {"low_peak": low, "low_part": part.astype(float)}
    if flipped is not None:
        out["flip"] = flip_disagreement(points, np.asarray(flipped, dtype=np.float64))
    if jumps:
        out["jump"] = temporal_jump(frames, points)
    return out


def _rank(values: np.ndarray, higher_is_unsure: bool) -> np.ndarray:
    """Ranks in (0, 1] (1: most unsure); NaN stays NaN (the measure does not apply there)."""
    out = np.full(len(values), np.nan)
    ok = np.isfinite(values)
    n = int(ok.sum())
    if n == 0:
        return out
    from scipy.stats import rankdata

    v = values[ok] if higher_is_unsure else -values[ok]
    out[ok] = rankdata(v, method="min") / n  # ties share the lowest: a flat measure says nothing
    return out


def combined_score(found: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the score (half the top rank + half the mean rank) and the top measure's index."""
    names = [m for m in MEASURES if m in found]
    ranks = np.stack([_rank(found[m], m != "low_peak") for m in names], axis=1)
    any_rank = np.isfinite(ranks).any(axis=1)
    filled = np.where(np.isfinite(ranks), ranks, 0.0)
    with _quiet():
        mean = np.where(any_rank, np.nanmean(np.where(any_rank[:, None], ranks, 0.0), axis=1), 0)
    top = filled.max(axis=1) if len(names) else np.zeros(len(ranks))
    which = filled.argmax(axis=1) if len(names) else np.zeros(len(ranks), int)
    return 0.5 * top + 0.5 * mean, np.array([MEASURES.index(names[i]) for i in which], int)


def reason(found: dict[str, np.ndarray], i: int, measure: str, nodes: Sequence[str]) -> str:
    """What made frame ``i`` unsure, in a few words (the top measure first)."""
    parts = []
    order = [measure] + [m for m in MEASURES if m != measure]
    for m in order:
        if m not in found or not np.isfinite(found[m][i]):
            continue
        if m == "low_peak":
            k = int(found["low_part"][i])
            name = nodes[k] if k < len(nodes) else f"part {k}"
            parts.append(f"lowest part {name} {found[m][i]:.2f}")
        elif m == "flip":
            parts.append(f"flip disagrees by {found[m][i]:.1f} px")
        else:
            parts.append(f"jumps {found[m][i]:.1f} px from neighbours")
    return "; ".join(parts[:2]) if parts else "no prediction"


def default_gap(n_frames: int, n: int) -> int:
    """No two picks closer than this: a few frames, more when few picks share a long video."""
    return max(5, int(n_frames) // (4 * max(int(n), 1)))


def pick_spread(frames, scores, n: int, *, min_gap: int, exclude: Iterable[int] = ()) -> list[int]:
    """Indices of up to ``n`` frames, best ``scores`` first, no two within ``min_gap`` frames.

    Frames in ``exclude`` (labelled ones) are never picked and keep picks ``min_gap`` away
    too (a frame next to a labelled one teaches the network nothing new). When the gap
    leaves fewer than ``n`` candidates, it is halved until there are enough.
    """
    frames = np.asarray(frames, dtype=np.int64)
    excluded = {int(f) for f in exclude}
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    gap = max(int(min_gap), 1)
    picked: list[int] = []
    while True:
        chosen = set(picked)
        near = sorted(excluded | {int(frames[i]) for i in picked})  # frames picks keep away from
        for i in order:
            if len(picked) >= n:
                break
            f = int(frames[i])
            if i in chosen or f in excluded:
                continue
            if near and _distance_to_nearest(near, f) < gap:
                continue
            picked.append(int(i))
            chosen.add(int(i))
            bisect.insort(near, f)
        if len(picked) >= n or gap == 1:
            return picked
        gap = max(1, gap // 2)


def _distance_to_nearest(sorted_frames: list[int], f: int) -> int:
    """Frames from ``f`` to the nearest of ``sorted_frames`` (not empty)."""
    j = bisect.bisect_left(sorted_frames, f)
    return min(abs(sorted_frames[k] - f) for k in (j - 1, j) if 0 <= k < len(sorted_frames))


def rank_frames(
    frames,
    found: dict[str, np.ndarray],
    n: int,
    nodes: Sequence[str],
    *,
    min_gap: int | None = None,
    exclude: Iterable[int] = (),
) -> list[Suggestion]:
    """The ``n`` most unsure frames, spread out (``min_gap``: default :func:`default_gap`)."""
    frames = np.asarray(frames, dtype=np.int64)
    if not len(frames) or n <= 0:
        return []
    score, which = combined_score(found)
    span = int(frames.max() - frames.min() + 1)
    gap = default_gap(span, n) if min_gap is None else int(min_gap)
    picks = pick_spread(frames, score, n, min_gap=gap, exclude=exclude)
    out = [
        Suggestion(int(frames[i]), float(score[i]), reason(found, i, MEASURES[which[i]], nodes))
        for i in picks
    ]
    return sorted(out, key=lambda s: s.frame)
