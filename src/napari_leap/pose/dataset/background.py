"""Background alignment's training boxes: the whole video aligned, labels mapped into its boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.pose.dataset.data import TrainingData, TrainingDataError
from napari_leap.pose.dataset.frames import video_path


def aligned_boxes(per_video, skeleton, n_animals, box_size, options, alignments, say, deadline):
    """Boxes of every labelled animal, labels mapped into them through the alignment.

    ``alignments``: video index -> Alignment already made; the other videos are aligned
    here (with ``options``), within ``deadline``.
    """
    images, points, groups = [], [], []
    alignment = None
    n_dropped = 0
    for vi, (poses, video) in enumerate(per_video):
        alignment = alignments.get(vi)
        if alignment is None:
            alignment = _align_video(video, n_animals, box_size, options, say, deadline)
        box_size = box_size or alignment.box_size
        if alignment.box_size != box_size:  # boxes, points and the model's config agree
            alignment = alignment.with_box_size(box_size)
        centres = np.asarray(alignment.centers)
        for i, frame in enumerate(poses.frames):
            matched, dropped = _matched(alignment, centres[frame], poses.points[i], int(frame))
            n_dropped += dropped
            if not matched:
                continue
            frame_boxes = np.asarray(alignment.boxes[int(frame)])
            for b, box_pts in matched:
                images.append(frame_boxes[b])
                points.append(box_pts)
                groups.append(vi * 10**9 + int(frame))
    if n_dropped:
        say(f"{n_dropped} labelled animal(s) had no aligned animal nearby and were left out")
    if not images:
        raise TrainingDataError(
            "no labelled animal matched an aligned animal; check the alignment "
            "settings or train with --no-align."
        )
    info = {
        "n_animals": int(n_animals),
        "box_size": int(box_size),
        "options": dict(getattr(alignment, "options", {}) or {}),
        # how the animals were found: prediction reuses it (see trained.alignment_config)
        "animal_length": _finite_or_none(getattr(alignment, "animal_length", None)),
        "background": getattr(alignment, "background", None),
    }
    return TrainingData(
        np.stack(images),
        np.stack(points),
        skeleton,
        np.array(groups),
        info,
        f"aligned {box_size}x{box_size} boxes",
    )


def _align_video(video, n_animals: int, box_size, options: dict, say, deadline):
    """The alignment of a labelled video file (embedded images cannot be aligned)."""
    path = video_path(video)
    if path is None:
        raise TrainingDataError(
            "these labels embed their images without the video, which background "
            "alignment needs; train with --align learned or give the labels with their video."
        )
    say(
        f"aligning {path.name} ({n_animals} animal(s), box {box_size or 'from its size'}): "
        "the whole video is scanned once so identities and headings are tracked"
    )
    return _run_align(path, n_animals, box_size, options, deadline)


def _matched(alignment, centres: np.ndarray, pts: np.ndarray, frame: int):
    """``([(aligned animal, its points in the box)], dropped)`` of one frame.

    Each labelled animal is matched to the aligned animal nearest it, none farther
    than half a box.
    """
    from scipy.optimize import linear_sum_assignment

    labelled = np.isfinite(pts).all(-1).any(-1)  # pts (A, K, 2)
    inst_centre = np.array(
        [np.nanmean(p, 0) if ok else (np.nan, np.nan) for p, ok in zip(pts, labelled, strict=True)]
    )
    ok_a = np.flatnonzero(labelled)
    ok_b = np.flatnonzero(np.isfinite(centres).all(-1))  # centres (animals, 2)
    if not len(ok_a) or not len(ok_b):
        return [], 0
    cost = np.linalg.norm(inst_centre[ok_a, None] - centres[None, ok_b], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    matched, dropped = [], 0
    for r, cidx in zip(rows, cols, strict=True):
        a, b = ok_a[r], ok_b[cidx]
        if cost[r, cidx] > alignment.box_size / 2:
            dropped += 1
            continue
        box_pts = np.asarray(alignment.video_to_box(pts[a], frame, int(b)), dtype=np.float64)
        matched.append((int(b), box_pts))
    return matched, dropped


def _finite_or_none(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _run_align(
    path: Path, n_animals: int, box_size: int | None, options: dict, deadline: float | None
):
    """``align`` on a video, stopping with a clear error if the time budget runs out."""
    import time

    from napari_leap.align.alignment import iter_align

    gen = iter_align(str(path), n_animals=n_animals, box_size=box_size, **options)
    try:
        while True:
            next(gen)
            if deadline is not None and time.monotonic() > deadline:
                raise TrainingDataError(
                    "the time limit ran out while aligning the video; "
                    "give more time or align the project first."
                )
    except StopIteration as done:
        return done.value
    finally:
        gen.close()
