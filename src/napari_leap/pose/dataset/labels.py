"""Labels (any source) to training data: which alignment, the checks, full frames or boxes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.io.labels import skeleton_from_sleap
from napari_leap.io.video import pad_to
from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.dataset.data import (
    PARTS_KEY,
    DataOptions,
    TrainingData,
    TrainingDataError,
    load_box_h5,
)
from napari_leap.pose.dataset.frames import (
    frame_name,
    labelled_frame_shapes,
    missing_video,
    read_frames,
    video_path,
)
from napari_leap.pose.dataset.strays import leave_out_strays, strays_text, without_strays
from napari_leap.pose.first_stage.parts import LearnedAlignmentError


def load_training_data(
    source,
    options: DataOptions | None = None,
    *,
    alignments: dict | None = None,
    progress: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> TrainingData:
    """Images and points from any supported ``source`` (see the module docstring)."""
    options = options or DataOptions()
    if isinstance(source, TrainingData):
        return source
    project, labels = None, source
    if isinstance(source, (str, Path)):
        project, labels = _open(Path(source))
        if isinstance(labels, TrainingData):
            return labels
    elif hasattr(source, "labels") and hasattr(source, "models_dir"):
        project = source
    alignments = dict(alignments or {})
    if project is not None:
        labels = project.labels
        options = replace(
            options,
            anchor=options.anchor or project.skeleton.anchor,
            heading_part=options.heading_part or project.skeleton.heading_part,
        )
        _project_alignments(project, alignments)
    if not hasattr(labels, "labeled_frames"):
        raise TrainingDataError(
            f"cannot train from {type(source).__name__}; give a labels file, "
            "a project folder or a box file."
        )
    say = progress or (lambda msg: None)
    return from_labels(labels, options, alignments=alignments, say=say, deadline=deadline)


def _open(path: Path):
    """``(project, labels)`` of a path: a project folder, a box file (its TrainingData) or labels."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path.")
    from napari_leap.io.project import MANIFEST, Project

    if path.is_dir() and (path / MANIFEST).exists():
        return Project.open(path), None
    if path.suffix.lower() in (".h5", ".hdf5") and _is_box_file(path):
        return None, without_strays(load_box_h5(path))
    from napari_leap.io.labels import load_labels

    return None, load_labels(path)


def _project_alignments(project, alignments: dict) -> None:
    """Add the project's saved alignments of the videos ``alignments`` lacks."""
    for i in range(len(project.videos)):
        if i not in alignments and project.alignment_path(i).exists():
            from napari_leap.align.alignment import Alignment

            alignments[i] = Alignment.load(project.alignment_path(i))


def _is_box_file(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "images" in f and "annotations" in f
    except OSError:
        return False


def _user_poses(labels, video_index: int):
    """A person's labels of one video; falls back to proofread predictions when there are none."""
    from napari_leap.io.labels import poses_from_labels

    poses = poses_from_labels(labels, video_index, user=True, predicted=False)
    if len(poses.frames) == 0:
        poses = poses_from_labels(labels, video_index, user=True, predicted=True)
    return poses


#: one animal whose box is at most this fraction of the frame's shorter side trains better in
#: learned boxes than in whole frames. fly32's flies pasted into frames, 7 minutes each side by
#: side: box 0.62 of the side 2.34 vs 6.84 px median, 0.80 3.32 vs 3.28 (benchmarks/README.md)
LEARNED_BOX = 0.7


def decide_alignment(
    extent: float, frame_hw: tuple[int, ...], max_animals: int, box: float | None = None
) -> str | None:
    """``"small"`` when several animals share a frame or one is small in it (any alignment).

    ``"boxed"`` when one animal's ``box`` is well inside the frame (learned boxes), None
    for full frames.
    """
    if max_animals > 1 or extent * 1.5 < 0.5 * min(frame_hw):
        return "small"
    if box is not None and box <= LEARNED_BOX * min(frame_hw):
        return "boxed"
    return None


#: ``align`` values: background subtraction on the whole video, a learned first stage, full frames
ALIGN_METHODS = ("background", "learned", "none")
#: the automatic choice between the two alignments when the labels come with their video
AUTO_WITH_VIDEO = "background"


def alignment_method(align, aligning: str | None, has_video: bool) -> tuple[str, str]:
    """``(method, how it was chosen)`` from ``align`` and :func:`decide_alignment`'s answer.

    None: automatic, True: background as ``--align`` always meant, False: full frames,
    or a name from :data:`ALIGN_METHODS`.
    """
    if align is None:
        if not aligning:
            return "none", "chosen"
        if aligning == "boxed":
            return "learned", "chosen, the animal's box is well inside the frame"
        return (AUTO_WITH_VIDEO, "chosen") if has_video else ("learned", "chosen, no video")
    if isinstance(align, bool):
        return ("background" if align else "none"), "as asked"
    if align not in ALIGN_METHODS:
        raise TrainingDataError(
            f"unknown alignment {align!r}; choose one of {', '.join(ALIGN_METHODS)}."
        )
    return align, "as asked"


def box_size_for(radius: float) -> int:
    """Box side that holds an animal of this radius (from its labelled centre) in any heading."""
    return int(math.ceil(2 * radius * 1.15 / 16) * 16)


@dataclass
class _Survey:
    """What the labels hold, which decides how they become training images."""

    skeleton: Skeleton
    per_video: list  # (Poses, video) of each video with labelled frames
    extent: float  # largest labelled animal's side, px
    radius: float  # farthest a part lies from its animal's centre, px
    max_animals: int  # most animals labelled on one frame
    frame_hw: tuple[int, ...]  # (h, w) of the largest frame
    shapes: set[tuple[int, ...]]  # (h, w, c) of every labelled frame
    strays: list[str]  # the points left out as slips, as the user finds them

    def why(self) -> str:
        """The figures an automatic choice of alignment is made from."""
        h, w = self.frame_hw
        return (
            f"largest labelled animal spans {self.extent:.0f} px in {w}x{h} frames, "
            f"up to {self.max_animals} animal(s) per frame"
        )


def _survey(labels) -> _Survey:
    """The labels' skeleton and labelled animals, refused when no model can learn from them."""
    _check_labels(labels)
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    if len(skeleton) == 0:
        raise TrainingDataError("the skeleton has no body parts; add body parts before training.")
    per_video = [(_user_poses(labels, i), video) for i, video in enumerate(labels.videos)]
    per_video = [(p, v) for p, v in per_video if len(p.frames)]
    if not per_video:
        raise TrainingDataError("the labels have no labelled frames; label some frames first.")
    shapes = [labelled_frame_shapes(poses, video) for poses, video in per_video]
    for (poses, video), hwc in zip(per_video, shapes, strict=True):
        _check_inside(poses, skeleton, hwc[:, :2], video)
    strays = leave_out_strays(per_video, skeleton)
    all_points = np.concatenate([p.points.reshape(-1, len(skeleton), 2) for p, _ in per_video])
    all_points = all_points[np.isfinite(all_points).all(-1).any(-1)]
    extent = float(np.nanmax(np.nanmax(all_points, 1) - np.nanmin(all_points, 1)))
    centres = np.nanmean(all_points, 1)
    radius = float(np.nanmax(np.linalg.norm(all_points - centres[:, None], axis=-1)))
    max_animals = max(
        int(np.isfinite(p.points).all(-1).any(-1).sum(-1).max()) for p, _ in per_video
    )
    every = {tuple(int(v) for v in row) for row in np.concatenate(shapes)}
    # the largest frame, which full frames are padded to, whichever image comes first
    frame_hw = tuple(max(s[i] for s in every) for i in range(2))
    return _Survey(skeleton, per_video, extent, radius, max_animals, frame_hw, every, strays)


def from_labels(
    labels,
    options: DataOptions | None = None,
    *,
    alignments: dict | None = None,
    say: Callable[[str], None] = lambda m: None,
    deadline: float | None = None,
) -> TrainingData:
    """Training data from ``sleap_io.Labels``: aligned boxes or full frames (see the module doc)."""
    options = options or DataOptions()
    s = _survey(labels)
    data = _from_survey(labels, s, options, alignments, say, deadline)
    if s.strays:
        data.warnings.append(strays_text(s.strays))
    return data


def _from_survey(
    labels, s: _Survey, options: DataOptions, alignments, say, deadline
) -> TrainingData:
    """The training data of surveyed labels, by the alignment chosen or asked for."""
    has_video = all(video_path(v) is not None for _, v in s.per_video)
    aligning = decide_alignment(s.extent, s.frame_hw, s.max_animals, box_size_for(s.radius))
    method, how = alignment_method(options.align, aligning, has_video)
    if method == "learned" and aligning == "boxed" and options.align is None:
        try:  # chosen by the animal's size: its heading parts may still need a larger box
            return _learned(labels, s, options, how, say)
        except LearnedAlignmentError as e:
            say(f"{e} So: full frames.")
            return _full_frames(s, say)
    if method == "learned":
        return _learned(labels, s, options, how, say)
    if method == "background":
        # one body part (or all on one spot) gives no size: the alignment measures the animal
        size = int(options.box_size) if options.box_size else (box_size_for(s.radius) or None)
        say(
            f"{'aligning' if how == 'chosen' else 'aligning (as asked)'}: {s.why()}; "
            f"{s.max_animals} animal(s) per frame into "
            f"{f'{size}x{size}' if size else 'animal-sized'} boxes"
        )
        from napari_leap.pose.dataset.background import aligned_boxes

        data = aligned_boxes(
            s.per_video,
            s.skeleton,
            s.max_animals,
            size,
            options.align_options or {},
            alignments or {},
            say,
            deadline,
        )
        data.frame_sizes = sorted({f[:2] for f in s.shapes})  # video files
        return data
    if s.max_animals > 1:
        raise TrainingDataError(
            f"frames hold up to {s.max_animals} labelled animals; a full-frame model finds one "
            "animal per frame, so train with alignment (--align learned or background)."
        )
    asked = how != "chosen"
    say(f"{'full frames (as asked)' if asked else 'full frames'}: {s.why()}")
    return _full_frames(s, say)


def _learned(labels, s: _Survey, options: DataOptions, how: str, say) -> TrainingData:
    """Boxes cut from the labels and the first stage's frames (learned alignment)."""
    from napari_leap.pose.boxes import learned_training_data

    say(f"learned alignment ({how}): {s.why()}")
    parts = getattr(labels, "provenance", {}).get(PARTS_KEY) or {}
    shapes = s.shapes
    data = learned_training_data(
        s.per_video,
        s.skeleton,
        s.max_animals,
        shapes,
        anchor=options.anchor or parts.get("anchor"),
        heading_part=options.heading_part or parts.get("heading_part"),
        box_size=options.box_size,
        say=say,
    )
    data.frame_sizes = sorted({tuple(f[:2]) for f in shapes})
    return data


def _full_frames(s: _Survey, say) -> TrainingData:
    """Each labelled frame whole, with its one animal."""
    read = [read_frames(video, poses.frames, stack=False) for poses, video in s.per_video]
    frame_sizes = sorted({tuple(f.shape[:2]) for frames in read for f in frames})
    # frames of several sizes (a rig's cameras) are padded at the bottom and right to the largest
    largest = tuple(max(f[i] for f in frame_sizes) for i in range(2))
    if len(frame_sizes) > 1:
        say(
            f"the labelled frames come in {len(frame_sizes)} sizes; each is padded to "
            f"{largest[1]}x{largest[0]}"
        )
    images, points, groups = [], [], []
    for vi, ((poses, _), frames) in enumerate(zip(s.per_video, read, strict=True)):
        images.append(np.stack([pad_to(f, largest) for f in frames]))
        a = np.isfinite(poses.points).all(-1).any(-1).argmax(1)
        points.append(poses.points[np.arange(len(a)), a])
        groups.append(vi * 10**9 + poses.frames)
    return TrainingData(
        np.concatenate(images),
        np.concatenate(points),
        s.skeleton,
        np.concatenate(groups),
        None,
        "full frames",
        frame_sizes=frame_sizes if len(frame_sizes) > 1 else None,
    )


def _check_labels(labels) -> None:
    """Refuse, before any alignment pass, labels no model can be trained on as they are.

    That is instances of several skeletons (a model learns one), or a video that has moved.
    """
    used: dict[int, tuple[Any, int]] = {}
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            sk, n = used.get(id(inst.skeleton), (inst.skeleton, 0))
            used[id(inst.skeleton)] = (sk, n + 1)
    if len(used) > 1:
        counts = ", ".join(f"{sk.name or 'unnamed'} ({n} instances)" for sk, n in used.values())
        raise TrainingDataError(
            f"the labels hold instances of {len(used)} skeletons: {counts}; a model learns one "
            "skeleton, so keep one skeleton's instances (or save each in its own labels file)."
        )
    labelled = {id(lf.video) for lf in labels.labeled_frames}
    for video in labels.videos:
        path = missing_video(video) if id(video) in labelled else None
        if path is not None:
            raise TrainingDataError(
                f"the labels refer to {path}, which does not exist; move the video back or "
                "re-link it in the labels file."
            )


def _check_inside(poses, skeleton: Skeleton, frame_hw: np.ndarray, video) -> None:
    """Refuse labels placed off their frame (a slip of the mouse), naming the first one.

    ``frame_hw`` (N, 2): each labelled frame's own size.
    """
    h, w = frame_hw[:, 0, None, None], frame_hw[:, 1, None, None]
    x, y = poses.points[..., 0], poses.points[..., 1]
    outside = np.isfinite(x) & ((x < -0.5) | (y < -0.5) | (x > w - 0.5) | (y > h - 0.5))
    if outside.any():
        i, a, k = (int(v[0]) for v in np.nonzero(outside))
        raise TrainingDataError(
            f"{int(outside.sum())} labelled point(s) lie outside their frame, e.g. "
            f"{skeleton.nodes[k]} of {poses.tracks[a]} on {frame_name(video, poses.frames[i])} "
            f"({int(frame_hw[i, 1])}x{int(frame_hw[i, 0])} px) at ({x[i, a, k]:.0f}, "
            f"{y[i, a, k]:.0f}); move or delete them, then train again."
        )
