"""Training boxes cut from the labels themselves, for the two stages of learned alignment.

No video scan and no background model: each labelled animal's box is placed
by its own anchor and heading part (centre at a fixed point of the animal's
head-up frame, see :func:`napari_leap.align.learned.box_geometry`), so
labelled frames extracted from a video (DeepLabCut's ``labeled-data/``,
``.pkg.slp``, COCO) train as well as labels on a whole video. The same pass
downscales every labelled frame for the first stage, whose targets are all the
body parts of every animal on it (it is read for two, the anchor and the heading
part; learning them all teaches it the animal's whole shape, so it does not take a
neighbour's part for one of its own).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from napari_leap.model.skeleton import Skeleton

#: labelled frames read at a time (memory stays a few frames whatever the labels' size)
READ_CHUNK = 16
#: a learned box larger than this fraction of the frame's shorter side is no gain over the frame
USEFUL_BOX = 0.75


def learned_training_data(
    per_video,
    skeleton: Skeleton,
    n_animals: int,
    shapes: set[tuple[int, ...]],
    *,
    anchor=None,
    heading_part=None,
    box_size: int | None = None,
    say: Callable[[str], None] = lambda m: None,
):
    """Second-stage boxes (a TrainingData with ``alignment`` and ``first_stage``) from labels.

    ``per_video``: ``(Poses, video)`` pairs with at least one labelled frame each;
    ``shapes``: every labelled frame's (h, w, c) (``dataset._frame_shapes``).
    """
    from napari_leap.align.alignment import _check_box_size
    from napari_leap.align.learned import (
        FIRST_STAGE_DIR,
        LearnedAlignmentError,
        box_geometry,
        choose_parts,
        first_stage_scale,
        part_poses,
        scaled_hw,
    )
    from napari_leap.pose.dataset import TrainingData

    k = len(skeleton)
    pooled = np.concatenate([p.points.reshape(-1, k, 2) for p, _ in per_video])
    pooled = pooled[np.isfinite(pooled).all(-1).any(-1)]
    parts = choose_parts(skeleton, pooled, anchor, heading_part)
    offset, auto_size = box_geometry(pooled, parts)
    anchors, angles = part_poses(pooled, parts)
    distance = float(np.nanmedian(np.linalg.norm(pooled[:, parts.heading] - anchors, axis=-1)))
    # frames of several sizes are padded (bottom, right) to the largest for the first stage
    frame_shape = tuple(max(s[i] for s in shapes) for i in range(3))
    if len(shapes) > 1:
        say(
            f"the labelled frames come in {len(shapes)} sizes "
            f"({', '.join(f'{s[1]}x{s[0]}' for s in sorted(shapes))}); the alignment stage "
            f"sees each padded to {frame_shape[1]}x{frame_shape[0]}"
        )
    if box_size is None and auto_size > USEFUL_BOX * min(frame_shape[:2]):
        raise LearnedAlignmentError(
            f"seen from {skeleton.nodes[parts.anchor]} facing {skeleton.nodes[parts.heading]}, "
            f"the labelled parts need a {auto_size} px box in {frame_shape[1]}x{frame_shape[0]} "
            "frames, so learned alignment would gain nothing; train with --align none, or "
            "choose other parts with --anchor and --heading-part."
        )
    size = _check_box_size(box_size or auto_size, *frame_shape[:2])
    scale = first_stage_scale(distance, frame_shape[:2])
    hw = scaled_hw(frame_shape[:2], scale)
    spec = {
        "method": "learned",
        "n_animals": int(n_animals),
        "box_size": int(size),
        "first_stage": FIRST_STAGE_DIR,
        "anchor": skeleton.nodes[parts.anchor],
        "heading_part": skeleton.nodes[parts.heading],
        "nodes": list(skeleton.nodes),  # the first stage's maps, one per body part
        "centre_offset": [float(v) for v in offset],
        "part_distance": distance,
        "frame_hw": [int(v) for v in frame_shape[:2]],
        "scaled_hw": [int(v) for v in hw],
    }
    say(
        f"learned alignment: {parts.reason}, {distance:.0f} px apart; "
        f"{n_animals} animal(s) per frame into {size}x{size} boxes cut from the labels; "
        f"the alignment stage sees frames at {hw[1]}x{hw[0]}"
    )
    boxes, box_points, box_groups, small, small_points, small_groups, skipped = _cut(
        per_video, parts, spec, offset
    )
    if skipped:
        say(
            f"{skipped} labelled animal(s) lack {spec['anchor']} or {spec['heading_part']} and "
            "have no box (the alignment stage still learns the part they have)"
        )
    if not boxes:
        raise LearnedAlignmentError(
            f"no labelled animal has both {spec['anchor']} and {spec['heading_part']} placed; "
            "label them or choose other parts with --anchor and --heading-part."
        )
    first = TrainingData(
        np.stack(small),
        np.stack(small_points),
        skeleton,
        np.array(small_groups),
        None,
        f"alignment stage: {spec['anchor']} and {spec['heading_part']} on frames at {hw[1]}x{hw[0]}",
    )
    data = TrainingData(
        np.stack(boxes),
        np.stack(box_points),
        skeleton,
        np.array(box_groups),
        spec,
        f"{size}x{size} boxes cut from the labels (learned alignment)",
    )
    data.first_stage = first
    return data


def _cut(per_video, parts, spec: dict, offset: np.ndarray):
    """Boxes and box points of every labelled animal, and the downscaled frames with the
    anchor and heading part of every animal (both stages' training arrays)."""
    from napari_leap.align.learned import (
        _instance_alignment,
        downscale,
        from_own_frame,
        part_poses,
        to_scaled,
    )
    from napari_leap.io.video import pad_to
    from napari_leap.pose.dataset import _read_frames

    size, hw, frame_hw = spec["box_size"], spec["scaled_hw"], spec["frame_hw"]
    n_animals = spec["n_animals"]
    boxes, box_points, box_groups = [], [], []
    small, small_points, small_groups = [], [], []
    skipped = 0
    for vi, (poses, video) in enumerate(per_video):
        for s in range(0, len(poses.frames), READ_CHUNK):
            frames = poses.frames[s : s + READ_CHUNK]
            images = _read_frames(video, frames, stack=False)
            for i, (frame, image) in enumerate(zip(frames, images, strict=True), start=s):
                pts = poses.points[i]  # (A, K, 2)
                labelled = np.isfinite(pts).all(-1).any(-1)
                pts = pts[labelled][:n_animals]
                group = vi * 10**9 + int(frame)
                targets = np.full((n_animals, *pts.shape[1:]), np.nan)
                targets[: len(pts)] = to_scaled(pts, frame_hw, hw)
                small.append(downscale(pad_to(image, frame_hw), hw))
                small_points.append(targets)
                small_groups.append(group)
                anchors, angles = part_poses(pts, parts)
                ok = np.isfinite(angles)
                skipped += int((~ok).sum())
                if not ok.any():
                    continue
                al = _instance_alignment(
                    from_own_frame(offset, anchors[ok], angles[ok]), angles[ok], size
                )
                for j, p in enumerate(pts[ok]):
                    boxes.append(al.warp(image, j, 0))
                    box_points.append(al.video_to_box(p, j, 0))
                    box_groups.append(group)
    return boxes, box_points, box_groups, small, small_points, small_groups, skipped
