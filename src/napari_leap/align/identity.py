"""Keep identities across frames and choose each animal's head end.

* :func:`assign`: Hungarian matching (``scipy.optimize.linear_sum_assignment``)
  of this frame's blobs to last frame's animals on distance, axis orientation
  and size, so two animals that touch keep their identity.
* :func:`smooth_headings`: the 180-degree head/tail choice along a whole track,
  as a two-state Viterbi path: every frame pays for going against its image
  cue (and, when the animal moves, against its direction of motion), and
  every frame-to-frame change of heading pays ``turn_weight * (1 - cos)/2``,
  so a flip needs sustained evidence and single noisy frames are overruled.
"""

from __future__ import annotations

import numpy as np


def wrap(angle):
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def assign(
    prev_centers: np.ndarray,
    prev_axes: np.ndarray,
    prev_areas: np.ndarray,
    centers: np.ndarray,
    axes: np.ndarray,
    areas: np.ndarray,
    length: float,
) -> np.ndarray:
    """For each of the ``A`` previous animals, the index of its blob now (or -1).

    ``prev_*``: ``(A, 2)``, ``(A,)``, ``(A,)`` (NaN where unknown); ``centers``,
    ``axes``, ``areas``: the ``B`` blobs of this frame. Cost: distance in body
    lengths, plus the orientation change (mod 180 degrees) in quarter turns,
    plus the log size ratio (animals of different sizes keep their identity
    even through a close encounter).
    """
    from scipy.optimize import linear_sum_assignment

    a_n, b_n = len(prev_centers), len(centers)
    out = np.full(a_n, -1, dtype=int)
    if a_n == 0 or b_n == 0:
        return out
    length = max(float(length), 1.0) if np.isfinite(length) else 50.0
    pc = np.asarray(prev_centers, float)
    dist = np.linalg.norm(pc[:, None, :] - np.asarray(centers, float)[None], axis=-1) / length
    dax = np.abs(wrap(2 * (np.asarray(prev_axes, float)[:, None] - np.asarray(axes)[None]))) / np.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        dsize = np.abs(
            np.log(np.asarray(areas, float)[None] / np.asarray(prev_areas, float)[:, None])
        )
    cost = dist + 0.5 * np.nan_to_num(dax, nan=0.0) + 1.0 * np.nan_to_num(dsize, nan=0.0)
    unknown = ~np.all(np.isfinite(pc), axis=1)
    cost[unknown] = np.nan_to_num(dsize[unknown], nan=0.0) + 10.0  # new animals take what is left
    cost = np.nan_to_num(cost, nan=10.0, posinf=10.0)
    rows, cols = linear_sum_assignment(cost)
    out[rows] = cols
    return out


def motion_evidence(
    centers: np.ndarray, axes: np.ndarray, length: float, lag: int = 2
) -> np.ndarray:
    """Signed speed along the axis in body lengths per ``2 * lag`` frames, 0 where still."""
    c = np.asarray(centers, float)
    t = len(c)
    if t < 2 * lag + 1:
        return np.zeros(t)
    v = np.zeros_like(c)
    v[lag:-lag] = c[2 * lag :] - c[: -2 * lag]
    v = np.nan_to_num(v)
    u = np.stack([np.cos(axes), np.sin(axes)], -1)
    along = (v * u).sum(-1) / max(length, 1.0)
    speed = np.linalg.norm(v, axis=-1) / max(length, 1.0)
    along[speed < 0.05] = 0.0  # too slow to say which way it faces
    return along


def evidence(cue, motion, cue_scale: float, cue_weight=1.0, motion_weight=0.5):
    """Per-frame evidence that the head is at the +axis end (negative: the -axis end)."""
    cue = np.nan_to_num(np.asarray(cue, float))
    e = cue_weight * np.clip(cue / max(cue_scale, 1e-6), -2, 2)
    e += motion_weight * np.clip(np.asarray(motion, float) / 0.1, -1, 1)
    return e


def smooth_headings(
    axes: np.ndarray,
    ev: np.ndarray,
    turn_weight: float = 8.0,
    pins: dict[int, int] | None = None,
) -> np.ndarray:
    """Viterbi path of states (0: heading = axis, 1: heading = axis + pi) for one track.

    ``ev``: per-frame evidence for state 0 (from :func:`evidence`); ``pins``:
    frame -> state that must hold (labelled or hand-corrected frames).
    """
    axes = np.asarray(axes, float)
    t_n = len(axes)
    if t_n == 0:
        return np.zeros(0, dtype=int)
    emit = np.stack([np.maximum(0.0, -ev), np.maximum(0.0, ev)], 1)
    if pins:
        for f, s in pins.items():
            if 0 <= f < t_n:
                emit[f, 1 - int(s)] = 1e9
    # heading change between consecutive frames for each (previous state, state)
    d = wrap(np.diff(axes))  # change of the axis with the same state
    same = turn_weight * (1 - np.cos(d)) / 2
    cross = turn_weight * (1 + np.cos(d)) / 2  # = (1 - cos(d + pi)) / 2
    cost = emit[0].copy()
    back = np.zeros((t_n, 2), dtype=np.int8)
    for k in range(1, t_n):
        s, c = same[k - 1], cross[k - 1]
        stay0, from1_0 = cost[0] + s, cost[1] + c
        stay1, from0_1 = cost[1] + s, cost[0] + c
        new0 = min(stay0, from1_0)
        new1 = min(stay1, from0_1)
        back[k, 0] = 0 if stay0 <= from1_0 else 1
        back[k, 1] = 1 if stay1 <= from0_1 else 0
        cost = np.array([new0 + emit[k, 0], new1 + emit[k, 1]])
    states = np.zeros(t_n, dtype=int)
    states[-1] = int(np.argmin(cost))
    for k in range(t_n - 1, 0, -1):
        states[k - 1] = back[k, states[k]]
    return states


def merged_runs(merged: np.ndarray) -> list[tuple[int, int, list[int]]]:
    """``(start, stop, animals)`` of each run of consecutive frames where animals touch."""
    any_m = np.asarray(merged.any(axis=1))
    runs = []
    t, n = 0, len(any_m)
    while t < n:
        if not any_m[t]:
            t += 1
            continue
        s = t
        while t < n and any_m[t]:
            t += 1
        runs.append((s, t, sorted(set(np.flatnonzero(merged[s:t].any(axis=0)).tolist()))))
    return runs


def resolve_encounters(
    centers, found, merged, areas, length: float, arrays=(), margin: float = 0.3
) -> list[tuple[int, int, bool]]:
    """Check identities across every run of touching animals and undo a swap.

    For each run, the animals' states before it (position extrapolated with
    their velocity, size) are compared with their states after it, for every
    permutation of the animals involved; when another permutation fits better
    by more than ``margin``, the tracks (``centers`` and every array in
    ``arrays``, all ``(frames, animals, ...)``, changed in place) are exchanged
    from the middle of the run on. Returns ``(start, stop, certain)`` per run
    checked; ``certain`` is False when two permutations fit about equally.
    """
    from itertools import permutations

    length = max(float(length), 1.0) if np.isfinite(length) else 50.0
    out = []
    n = len(centers)
    for s, e, animals in merged_runs(merged):
        if len(animals) < 2 or len(animals) > 5 or s == 0 or e >= n:
            continue
        before = [a for a in animals if found[s - 1, a]]
        after_ok = all(found[e, a] and not merged[e, a] for a in animals)
        if len(before) != len(animals) or not after_ok:
            continue
        k = 1
        while k < 5 and s - 1 - k >= 0 and all(found[s - 1 - k, a] for a in animals):
            k += 1
        k -= 1
        pre = centers[s - 1, animals]
        vel = (pre - centers[s - 1 - k, animals]) / k if k > 0 else np.zeros_like(pre)
        pred = pre + vel * min(e - s + 1, 30)
        post = centers[e, animals]
        with np.errstate(divide="ignore", invalid="ignore"):
            size_pre = np.nanmedian(
                np.where(
                    merged[max(0, s - 30) : s, animals], np.nan, areas[max(0, s - 30) : s, animals]
                ),
                axis=0,
            )
            size_post = np.nanmedian(
                np.where(merged[e : e + 30, animals], np.nan, areas[e : e + 30, animals]), axis=0
            )
        costs = {}
        for perm in permutations(range(len(animals))):
            p = list(perm)
            d = np.linalg.norm(pred - post[p], axis=1).sum() / length
            with np.errstate(divide="ignore", invalid="ignore"):
                sz = np.nansum(np.abs(np.log(size_post[p] / size_pre)))
            costs[perm] = d + 2.0 * (sz if np.isfinite(sz) else 0.0)
        ranked = sorted(costs, key=lambda perm: costs[perm])
        best, keep = ranked[0], tuple(range(len(animals)))
        certain = len(ranked) < 2 or costs[ranked[1]] - costs[best] > margin
        if best != keep and costs[keep] - costs[best] > margin:
            mid = (s + e) // 2
            src = [animals[j] for j in best]
            for arr in (centers, *arrays):
                arr[mid:, animals] = arr[mid:, src].copy()
        out.append((s, e, bool(certain)))
    return out
