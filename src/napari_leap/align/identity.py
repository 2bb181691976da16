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
