"""Labelled points far from where their animal's other parts put them: slips of the mouse.

One such point among the clip's 50 training frames (a fly's head clicked on the other
fly's thorax) made the boxes 224 px instead of 144, the input scale 0.43 instead of 0.67,
and the 7-minute model's median error 4.62 px instead of 3.10 (benchmarks/README.md).
Such points are left out of training, with a message that names them.

A part is judged by its distances to the animal's other parts against their medians
over every labelled animal, in units of the animal's size: a leg stretched out moves
a few of them a little, a point on the wrong animal moves all of them a lot. The
threshold is relative to the labels' own spread, so a rig of parts that move apart
(a mouse's hand and a joystick) is never flagged for doing so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.dataset.frames import frame_name

#: fewer labelled animals give no trustworthy median distances
MIN_ANIMALS = 10
#: a point is stray beyond this many times the 95th percentile of the labels' own deviations
SPREAD_FACTOR = 3.0
#: ... and beyond this fraction of the animal's size (never flag what a model cannot resolve)
MIN_DEVIATION = 0.25
#: animals whose typical distances are measured (a sample of them for large label sets)
MAX_REFERENCE = 2000


@dataclass(frozen=True)
class Strays:
    """Which points are stray (``mask``, like the points without the xy axis) and how far off."""

    mask: np.ndarray  # (..., K) bool
    offset_px: np.ndarray  # (..., K) how far off each point is, px (NaN where not judged)


def stray_points(points: np.ndarray) -> Strays:
    """Stray points among ``points`` (..., K, 2) of many animals, NaN where not labelled.

    Needs :data:`MIN_ANIMALS` animals with three parts or more and a skeleton of three
    parts or more; otherwise nothing is flagged.
    """
    pts = np.asarray(points, dtype=np.float64)
    shape = pts.shape[:-1]
    flat = pts.reshape(-1, *pts.shape[-2:])
    n_parts = flat.shape[1]
    seen = np.isfinite(flat).all(-1)
    usable = seen.sum(-1) >= 3
    nothing = Strays(np.zeros(shape, bool), np.full(shape, np.nan))
    if n_parts < 3 or usable.sum() < MIN_ANIMALS:
        return nothing
    reference = flat[usable]
    if len(reference) > MAX_REFERENCE:
        pick = np.random.default_rng(0).choice(len(reference), MAX_REFERENCE, replace=False)
        reference = reference[pick]
    typical = _nanmedian(_distances(reference), 0)  # (K, K)
    extent = np.nanmax(np.nanmax(reference, 1) - np.nanmin(reference, 1), -1)
    size = float(np.nanmedian(extent))
    if not np.isfinite(size) or size <= 0:
        return nothing
    offset = np.full(flat.shape[:2], np.nan)
    for start in range(0, len(flat), 1000):
        chunk = flat[start : start + 1000]
        dev = np.abs(_distances(chunk) - typical)
        dev[:, np.arange(n_parts), np.arange(n_parts)] = np.nan
        enough = np.isfinite(dev).sum(-1) >= 2
        offset[start : start + 1000] = np.where(enough, _nanmedian(dev, -1), np.nan)
    judged = offset[np.isfinite(offset)] / size
    if judged.size == 0:
        return nothing
    limit = max(MIN_DEVIATION, SPREAD_FACTOR * float(np.percentile(judged, 95)))
    mask = np.isfinite(offset) & (offset / size > limit)
    return Strays(mask.reshape(shape), offset.reshape(shape))


def _distances(points: np.ndarray) -> np.ndarray:
    """(N, K, K) distances between each animal's parts (NaN where either is not labelled)."""
    return np.linalg.norm(points[:, :, None] - points[:, None], axis=-1)


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """NaN median without the warning for all-NaN slices (parts never labelled together)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis)


def leave_out_strays(per_video, skeleton: Skeleton) -> list[str]:
    """Blank the points that lie far from their animal's other parts; name them, worst first."""
    k = len(skeleton)
    found = stray_points(np.concatenate([p.points.reshape(-1, k, 2) for p, _ in per_video]))
    named: list[tuple[float, str]] = []
    start = 0
    for poses, video in per_video:
        n = poses.points.shape[0] * poses.points.shape[1] * k
        mask = found.mask.reshape(-1)[start : start + n].reshape(poses.points.shape[:3])
        offset = found.offset_px.reshape(-1)[start : start + n].reshape(mask.shape)
        start += n
        for i, a, part in zip(*np.nonzero(mask), strict=True):
            where = frame_name(video, poses.frames[i])
            named.append(
                (-offset[i, a, part], f"{skeleton.nodes[part]} of {poses.tracks[a]} on {where}")
            )
        poses.points[mask] = np.nan
    return [text for _, text in sorted(named)]


def strays_text(named: list[str]) -> str:
    """The warning that says which points were left out, and what to do about them."""
    shown = "; ".join(named[:3]) + (f"; and {len(named) - 3} more" if len(named) > 3 else "")
    return (
        f"left out {len(named)} labelled point(s) far from where their animal's other parts "
        f"put them (a slip of the mouse?): {shown}. Correct them in the labels to train on them."
    )


def slip_suggestions(poses, n: int) -> list:
    """Up to ``n`` frames of ``poses`` (a person's labels) with the likeliest slips, worst first.

    The Label dock's "labels that look like slips": what ``train`` would leave out, as
    suggestions to step through with S, each saying which points to look at.
    """
    from napari_leap.pose.uncertainty import Suggestion

    found = stray_points(poses.points)
    worst: dict[int, float] = {}
    parts: dict[int, list[str]] = {}
    for i, a, k in zip(*np.nonzero(found.mask), strict=True):
        frame = int(poses.frames[i])
        worst[frame] = max(worst.get(frame, 0.0), float(found.offset_px[i, a, k]))
        parts.setdefault(frame, []).append(f"{poses.skeleton.nodes[k]} of {poses.tracks[a]}")
    frames = sorted(worst, key=lambda f: -worst[f])[:n]
    return [
        Suggestion(
            f,
            1.0,
            f"{', '.join(parts[f])} far from where the other parts put it: a slip of the mouse?",
        )
        for f in frames
    ]


def without_strays(data):
    """``data`` (a box file's images) with its stray points blanked and named in its warnings."""
    found = stray_points(data.points)
    if found.mask.any():
        where = np.argwhere(found.mask)
        worst_first = where[np.argsort(-found.offset_px[found.mask], kind="stable")]
        named = [f"{data.skeleton.nodes[k]} on box {i}" for i, k in worst_first]
        data.points[found.mask] = np.nan
        data.warnings.append(strays_text(named))
    return data
