"""Training boxes cut from the labels themselves, for the two stages of learned alignment.

No video scan and no background model: each labelled animal's box is placed
by its own anchor and heading part (centre at a fixed point of the animal's
head-up frame, see :func:`napari_leap.pose.first_stage.geometry.box_geometry`), so
labelled frames extracted from a video (DeepLabCut's ``labeled-data/``,
``.pkg.slp``, COCO) train as well as labels on a whole video. The same pass
downscales every labelled frame for the first stage, whose targets are all the
body parts of every animal on it (it is read for two, the anchor and the heading
part; learning them all teaches it the animal's whole shape, so it does not take a
neighbour's part for one of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    ``shapes``: every labelled frame's (h, w, c) (``dataset.frames.labelled_frame_shapes``).
    """
    from napari_leap.pose.dataset.data import TrainingData
    from napari_leap.pose.first_stage.parts import LearnedAlignmentError, choose_parts

    k = len(skeleton)
    pooled = np.concatenate([p.points.reshape(-1, k, 2) for p, _ in per_video])
    pooled = pooled[np.isfinite(pooled).all(-1).any(-1)]
    parts = choose_parts(skeleton, pooled, anchor, heading_part)
    # frames of several sizes are padded (bottom, right) to the largest for the first stage
    frame_shape = tuple(max(s[i] for s in shapes) for i in range(3))
    if len(shapes) > 1:
        say(
            f"the labelled frames come in {len(shapes)} sizes "
            f"({', '.join(f'{s[1]}x{s[0]}' for s in sorted(shapes))}); the alignment stage "
            f"sees each padded to {frame_shape[1]}x{frame_shape[0]}"
        )
    spec, offset = _spec(skeleton, pooled, parts, n_animals, frame_shape, box_size)
    size, (h, w) = spec["box_size"], spec["scaled_hw"]
    say(
        f"learned alignment: {parts.reason}, {spec['part_distance']:.0f} px apart; "
        f"{n_animals} animal(s) per frame into {size}x{size} boxes cut from the labels; "
        f"the alignment stage sees frames at {w}x{h}"
    )
    cut = _cut(per_video, parts, spec, offset)
    named = f"{spec['anchor']} and {spec['heading_part']}"
    if cut.skipped:
        say(
            f"{cut.skipped} labelled animal(s) lack {spec['anchor']} or {spec['heading_part']} "
            "and have no box (the alignment stage still learns the part they have)"
        )
    if not cut.boxes:
        raise LearnedAlignmentError(
            f"no labelled animal has both {named} placed; "
            "label them or choose other parts with --anchor and --heading-part."
        )
    first = TrainingData(
        np.stack(cut.small),
        np.stack(cut.small_points),
        skeleton,
        np.array(cut.small_groups),
        None,
        f"alignment stage: {named} on frames at {w}x{h}",
    )
    data = TrainingData(
        np.stack(cut.boxes),
        np.stack(cut.box_points),
        skeleton,
        np.array(cut.box_groups),
        spec,
        f"{size}x{size} boxes cut from the labels (learned alignment)",
    )
    data.first_stage = first
    return data


def _spec(skeleton: Skeleton, pooled: np.ndarray, parts, n_animals: int, frame_shape, box_size):
    """``(spec, offset)``: what predict needs to align a new video as these boxes were cut."""
    from napari_leap.align.alignment import check_box_size
    from napari_leap.pose.first_stage.geometry import (
        FIRST_STAGE_DIR,
        PART_PX,
        box_geometry,
        first_stage_scale,
        part_poses,
        scaled_hw,
    )
    from napari_leap.pose.first_stage.parts import LearnedAlignmentError

    offset, auto_size = box_geometry(pooled, parts)
    anchors, _ = part_poses(pooled, parts)
    distance = float(np.nanmedian(np.linalg.norm(pooled[:, parts.heading] - anchors, axis=-1)))
    if box_size is None and auto_size > USEFUL_BOX * min(frame_shape[:2]):
        raise LearnedAlignmentError(
            f"seen from {skeleton.nodes[parts.anchor]} facing {skeleton.nodes[parts.heading]}, "
            f"the labelled parts need a {auto_size} px box in {frame_shape[1]}x{frame_shape[0]} "
            "frames, so learned alignment would gain nothing; train with --align none, or "
            "choose other parts with --anchor and --heading-part."
        )
    size = check_box_size(box_size or auto_size, *frame_shape[:2])
    hw = scaled_hw(frame_shape[:2], first_stage_scale(distance, frame_shape[:2]))
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
        "part_px": PART_PX,
    }
    return spec, offset


@dataclass
class _Cut:
    """Both stages' training arrays: boxes of every animal, downscaled frames of all."""

    boxes: list = field(default_factory=list)
    box_points: list = field(default_factory=list)
    box_groups: list = field(default_factory=list)
    small: list = field(default_factory=list)
    small_points: list = field(default_factory=list)
    small_groups: list = field(default_factory=list)
    skipped: int = 0  # labelled animals without both parts: no box


def _cut(per_video, parts, spec: dict, offset: np.ndarray) -> _Cut:
    """Both stages' training arrays from every labelled frame.

    Boxes and box points of every labelled animal, and the downscaled frames with the
    parts of every animal.
    """
    from napari_leap.pose.dataset.frames import read_frames

    cut = _Cut()
    for vi, (poses, video) in enumerate(per_video):
        for s in range(0, len(poses.frames), READ_CHUNK):
            frames = poses.frames[s : s + READ_CHUNK]
            images = read_frames(video, frames, stack=False)
            for i, (frame, image) in enumerate(zip(frames, images, strict=True), start=s):
                group = vi * 10**9 + int(frame)
                _cut_frame(cut, image, poses.points[i], group, parts, spec, offset)
    return cut


def _cut_frame(cut: _Cut, image, pts, group: int, parts, spec: dict, offset) -> None:
    """One labelled frame's share of :func:`_cut`; ``pts`` (A, K, 2)."""
    from napari_leap.io.video import pad_to
    from napari_leap.pose.first_stage.geometry import (
        downscale,
        from_own_frame,
        instance_alignment,
        part_poses,
        to_scaled,
    )

    size, hw, frame_hw = spec["box_size"], spec["scaled_hw"], spec["frame_hw"]
    n_animals = spec["n_animals"]
    labelled = np.isfinite(pts).all(-1).any(-1)
    pts = pts[labelled][:n_animals]
    targets = np.full((n_animals, *pts.shape[1:]), np.nan)
    targets[: len(pts)] = to_scaled(pts, frame_hw, hw)
    cut.small.append(downscale(pad_to(image, frame_hw), hw))
    cut.small_points.append(targets)
    cut.small_groups.append(group)
    anchors, angles = part_poses(pts, parts)
    ok = np.isfinite(angles)
    cut.skipped += int((~ok).sum())
    if not ok.any():
        return
    al = instance_alignment(from_own_frame(offset, anchors[ok], angles[ok]), angles[ok], size)
    for j, p in enumerate(pts[ok]):
        cut.boxes.append(al.warp(image, j, 0))
        cut.box_points.append(al.video_to_box(p, j, 0))
        cut.box_groups.append(group)
