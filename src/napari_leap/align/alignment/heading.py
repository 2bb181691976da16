"""Heading correction from labels: labelled frames pin the head end, the path is recomputed.

Flags (see :data:`~napari_leap.align.alignment.options.FLAG_REASONS`) mark
``labels_disagree`` where a labelled frame pointed the other way.
"""

from __future__ import annotations

import numpy as np

from napari_leap.align.alignment.store import Alignment
from napari_leap.align.identity import wrap
from napari_leap.errors import LeapError


def correct_headings(alignment: Alignment, frames, front, back, resmooth: bool = True) -> dict:
    """Check headings against labelled frames and correct them.

    ``frames`` ``(n,)``; ``front``, ``back`` ``(n, 2)`` x, y video points of two
    body parts along the body (e.g. head and thorax), one row per labelled
    animal (NaN rows are skipped). Each row is matched to the aligned animal
    nearest to its midpoint. If most labels disagree with the image cue, the
    cue's sign is reversed (``options['cue_sign']``); the labelled frames are
    then pinned and the heading path recomputed, so a correction spreads along
    the run of frames it belongs to. Returns counts
    (``checked``, ``disagreed`` before, ``changed`` animal-frames, ``cue_sign``).
    """
    frames, animal, heading = _labelled(alignment, frames, front, back)
    before = alignment.angles.copy()
    disagree = np.abs(wrap(alignment.angles[frames, animal] - heading)) > np.pi / 2
    alignment.labels_disagree[:] = False
    alignment.labels_disagree[frames[disagree], animal[disagree]] = True
    want = (np.abs(wrap(heading - alignment.axes[frames, animal])) > np.pi / 2).astype(int)
    _check_cue_sign(alignment, frames, animal, want)
    _pin(alignment, frames, animal, want)
    if resmooth:
        alignment.resolve_headings()
    else:
        for f, a in zip(frames[disagree], animal[disagree], strict=True):
            alignment.flip(int(f), int(a))
        alignment.update_flags()
    changed = int((np.abs(wrap(alignment.angles - before)) > np.pi / 2).sum())
    return {
        "checked": int(len(frames)),
        "disagreed": int(disagree.sum()),
        "changed": changed,
        "cue_sign": float(alignment.options.get("cue_sign", 1.0)),
    }


def _labelled(alignment: Alignment, frames, front, back):
    """``(frames, animal, heading)`` of the usable label rows, each matched to an animal."""
    frames = np.asarray(frames, int).reshape(-1)
    front = np.asarray(front, float).reshape(-1, 2)
    back = np.asarray(back, float).reshape(-1, 2)
    if not len(frames) == len(front) == len(back):
        raise LeapError("frames, front and back must have one row per labelled animal.")
    ok = np.all(np.isfinite(front), 1) & np.all(np.isfinite(back), 1)
    ok &= (frames >= 0) & (frames < alignment.n_frames)
    frames, front, back = frames[ok], front[ok], back[ok]
    mid = (front + back) / 2
    d = np.linalg.norm(alignment.centers[frames] - mid[:, None, :], axis=-1)
    animal = np.nanargmin(np.nan_to_num(d, nan=np.inf), axis=1) if len(frames) else np.zeros(0, int)
    heading = np.arctan2(front[:, 1] - back[:, 1], front[:, 0] - back[:, 0])
    return frames, animal, heading


def _check_cue_sign(alignment: Alignment, frames, animal, want) -> None:
    """Reverse the image cue's sign when most informative labelled frames go against it."""
    ev = alignment.evidence()[frames, animal]
    informative = ev != 0
    if informative.sum() >= 3:
        cue_state = (ev[informative] < 0).astype(int)
        if np.mean(cue_state != want[informative]) > 0.5:
            alignment.options["cue_sign"] = -float(alignment.options.get("cue_sign", 1.0))


def _pin(alignment: Alignment, frames, animal, want) -> None:
    """Pin the labelled states; labels win over earlier hand flips on the same run of frames."""
    for f, a in zip(frames, animal, strict=True):
        start, stop = alignment.run_of(int(f), int(a))
        pins = alignment.pins.get(int(a), {})
        for p in [p for p in pins if start <= p < stop]:
            del pins[p]
    for f, a, s in zip(frames, animal, want, strict=True):
        alignment.pins.setdefault(int(a), {})[int(f)] = int(s)


def correct_with_poses(
    alignment: Alignment, poses, front="head", back="thorax", resmooth: bool = True
) -> dict:
    """:func:`correct_headings` from labelled poses (:class:`napari_leap.model.poses.Poses`).

    ``front`` and ``back``: two body parts along the body (names or indices), by
    default head and thorax; every labelled animal with both placed is used.
    """
    nodes = list(poses.skeleton.nodes)

    def index(node):
        if isinstance(node, (int, np.integer)):
            return int(node)
        if node not in nodes:
            raise LeapError(
                f"body part {node!r} is not in the skeleton ({', '.join(nodes)}); choose two "
                "parts along the body, e.g. front='head', back='thorax'."
            )
        return nodes.index(node)

    f, b = index(front), index(back)
    pts = np.asarray(poses.points, float)  # (N, A, K, 2)
    frames = np.repeat(np.asarray(poses.frames, int), pts.shape[1])
    return correct_headings(
        alignment,
        frames,
        pts[:, :, f].reshape(-1, 2),
        pts[:, :, b].reshape(-1, 2),
        resmooth=resmooth,
    )
