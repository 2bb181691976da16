"""Training data as arrays: images with body-part positions, from any labels source.

Sources: a labels file (anything ``load_labels`` reads, embedded-image
``.pkg.slp`` included), a ``sleap_io.Labels``, a project (folder), a LEAP /
DeepPoseKit box file (``.h5`` with ``images`` and ``annotations``), or a
:class:`TrainingData` itself. Labels on several animals per frame, or on
animals much smaller than the frame, are aligned into egocentric boxes first
(one image per animal), which is LEAP's recipe: by background alignment of
the whole video, or by learned alignment (boxes cut from the labels and a
first-stage network, :mod:`napari_leap.pose.boxes`), which needs no video.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.labels import skeleton_from_sleap
from napari_leap.io.skeleton_files import load_skeleton
from napari_leap.io.video import pad_to
from napari_leap.model.skeleton import Skeleton


class TrainingDataError(LeapError):
    """Labels that cannot be used for training as they are."""


#: ``Labels.provenance`` key of the skeleton's alignment parts (sleap-io skeletons have no room)
PARTS_KEY = "napari_leap_alignment_parts"


@dataclass
class TrainingData:
    """Images (N, H, W, C) uint8 and points (N, K, 2) x,y in their pixels (NaN = not labelled).

    ``groups`` orders the samples in time (e.g. ``video * 1e9 + frame``) so the
    validation split takes contiguous blocks. ``alignment`` is None for full
    frames, else what predict needs to align a new video the same way.
    ``frame_sizes``: (h, w) of the videos' frames the images came from, which predict
    compares new videos with (None: the images are the frames).
    Points
    (N, A, K, 2) hold several animals per image (a learned alignment's first
    stage); ``first_stage`` is that stage's data when these are its boxes.
    """

    images: np.ndarray
    points: np.ndarray
    skeleton: Skeleton
    groups: np.ndarray | None = None
    alignment: dict | None = None
    description: str = ""
    notes: list[str] = field(default_factory=list)
    frame_sizes: list[tuple[int, int]] | None = None
    first_stage: TrainingData | None = None

    def __post_init__(self):
        self.images = np.asarray(self.images)
        if self.images.ndim == 3:
            self.images = self.images[..., None]
        self.points = np.asarray(self.points, dtype=np.float64)
        if self.groups is None:
            self.groups = np.arange(len(self.images))
        self.groups = np.asarray(self.groups)
        if len(self.skeleton) == 0:
            raise TrainingDataError(
                "the skeleton has no body parts; add body parts before training."
            )
        if self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise TrainingDataError(
                f"images must be (N, H, W, 1 or 3), got shape {self.images.shape}."
            )
        n, k = len(self.images), len(self.skeleton)
        if self.points.shape[-2:] != (k, 2) or self.points.shape[0] != n or self.points.ndim > 4:
            raise TrainingDataError(f"points must be (N={n}, K={k}, 2), got {self.points.shape}.")
        labelled = np.isfinite(self.points.reshape(n, -1, 2)).all(-1).any(-1)
        if not labelled.any():
            raise TrainingDataError(
                "there are no labelled frames to train on; label some frames first."
            )
        if not labelled.all():
            keep = labelled
            self.images, self.points, self.groups = (
                self.images[keep],
                self.points[keep],
                self.groups[keep],
            )
        if self.images.dtype != np.uint8:
            self.images = np.clip(self.images, 0, 255).astype(np.uint8)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    def subset(self, index) -> TrainingData:
        return TrainingData(
            self.images[index],
            self.points[index],
            self.skeleton,
            self.groups[index],
            self.alignment,
            self.description,
            list(self.notes),
            self.frame_sizes,
        )


def split_blocks(
    groups: np.ndarray, val_fraction: float, n_blocks: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices with validation in contiguous blocks of time.

    Samples are sorted by ``groups`` and cut into ``n_blocks`` spans; inside each
    span a contiguous stretch of ``val_fraction`` goes to validation, so held-out
    frames are never the near-duplicates of training neighbours, and the
    validation set still samples the whole recording.
    """
    n = len(groups)
    order = np.argsort(groups, kind="stable")
    n_val = int(round(n * val_fraction))
    if n < 2 or n_val == 0:
        return order, order[:0]
    n_val = min(n_val, n - 1)
    n_blocks = max(1, min(n_blocks, n_val))
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, n, n_blocks + 1).round().astype(int)
    sizes = np.diff(np.linspace(0, n_val, n_blocks + 1).round().astype(int))
    is_val = np.zeros(n, dtype=bool)
    for a, b, size in zip(edges[:-1], edges[1:], sizes, strict=True):
        start = a + int(rng.integers(0, max(1, b - a - size + 1)))
        is_val[start : start + size] = True
    return np.sort(order[~is_val]), np.sort(order[is_val])


# -- loaders ------------------------------------------------------------------------------
def load_box_h5(path: str | Path, skeleton: Skeleton | str | Path | None = None) -> TrainingData:
    """A LEAP / DeepPoseKit box file: ``images`` (N, H, W, C), ``annotations`` (N, K, 2).

    The skeleton comes from ``skeleton`` (a Skeleton or file), else a
    ``skeleton.csv`` beside the file, else the h5's own ``skeleton`` dataset
    (parent/swap indices, node names made up).
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            if not {"images", "annotations"} <= keys:
                raise TrainingDataError(
                    f"{path.name} is not a box file: it needs 'images' and 'annotations' datasets "
                    f"(it has {', '.join(sorted(keys)) or 'none'})."
                )
            images = f["images"][:]
            points = f["annotations"][:].astype(np.float64)
            # DeepPoseKit's "annotated" flags tell human from model labels; both are training targets
            h5_skeleton = f["skeleton"][:] if "skeleton" in keys else None
    except OSError as e:
        raise TrainingDataError(f"{path.name} cannot be read as HDF5 ({e}).") from None
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # MATLAB-era channel-first boxes
    if isinstance(skeleton, (str, Path)):
        skeleton = load_skeleton(skeleton)
    if skeleton is None and (path.parent / "skeleton.csv").exists():
        skeleton = load_skeleton(path.parent / "skeleton.csv")
    if skeleton is None:
        k = points.shape[1]
        nodes = [f"node{i}" for i in range(k)]
        edges, pairs = [], []
        if h5_skeleton is not None:
            edges = [(int(p), i) for i, p in enumerate(h5_skeleton[:, 0]) if p >= 0]
            pairs = [
                (i, int(s))
                for i, s in enumerate(h5_skeleton[:, 1])
                if s >= 0 and h5_skeleton[s, 1] == i
            ]
        skeleton = Skeleton(nodes=nodes, edges=edges, symmetries=pairs, name=path.stem)
    return TrainingData(images, points, skeleton, description=f"box file {path.name}")


def load_training_data(
    source,
    *,
    align: bool | str | None = None,
    anchor: str | None = None,
    heading_part: str | None = None,
    box_size: int | None = None,
    align_options: dict | None = None,
    alignments: dict | None = None,
    progress: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> TrainingData:
    """Images and points from any supported ``source`` (see the module docstring)."""
    say = progress or (lambda msg: None)
    if isinstance(source, TrainingData):
        return source
    project = None
    labels = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; check the path.")
        from napari_leap.io.project import MANIFEST, Project

        if path.is_dir() and (path / MANIFEST).exists():
            project = Project.open(path)
        elif path.suffix.lower() in (".h5", ".hdf5") and _is_box_file(path):
            return load_box_h5(path)
        else:
            from napari_leap.io.labels import load_labels

            labels = load_labels(path)
    elif hasattr(source, "labels") and hasattr(source, "models_dir"):
        project = source
    else:
        labels = source
    alignments = dict(alignments or {})
    if project is not None:
        labels = project.labels
        anchor = anchor or project.skeleton.anchor
        heading_part = heading_part or project.skeleton.heading_part
        for i in range(len(project.videos)):
            if i not in alignments and project.alignment_path(i).exists():
                from napari_leap.align.alignment import Alignment

                alignments[i] = Alignment.load(project.alignment_path(i))
    if not hasattr(labels, "labeled_frames"):
        raise TrainingDataError(
            f"cannot train from {type(source).__name__}; give a labels file, "
            "a project folder or a box file."
        )
    return from_labels(
        labels,
        align=align,
        anchor=anchor,
        heading_part=heading_part,
        box_size=box_size,
        align_options=align_options,
        alignments=alignments,
        say=say,
        deadline=deadline,
    )


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


def decide_alignment(extent: float, frame_hw: tuple[int, int], max_animals: int) -> bool:
    """Align when several animals share a frame or one animal is small in the frame."""
    return max_animals > 1 or extent * 1.5 < 0.5 * min(frame_hw)


#: ``align`` values: background subtraction on the whole video, a learned first stage, full frames
ALIGN_METHODS = ("background", "learned", "none")
#: the automatic choice between the two alignments when the labels come with their video
AUTO_WITH_VIDEO = "background"


def alignment_method(align, aligning: bool, has_video: bool) -> tuple[str, str]:
    """``(method, how it was chosen)`` from ``align`` (None: automatic, True: background as
    ``--align`` always meant, False: full frames, or a name from :data:`ALIGN_METHODS`)."""
    if align is None:
        if not aligning:
            return "none", "chosen"
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


def from_labels(
    labels,
    *,
    align: bool | str | None = None,
    anchor: str | None = None,
    heading_part: str | None = None,
    box_size: int | None = None,
    align_options: dict | None = None,
    alignments: dict | None = None,
    say: Callable[[str], None] = lambda m: None,
    deadline: float | None = None,
) -> TrainingData:
    """Training data from ``sleap_io.Labels``: aligned boxes or full frames (see the module doc)."""
    _check_labels(labels)
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    if len(skeleton) == 0:
        raise TrainingDataError("the skeleton has no body parts; add body parts before training.")
    per_video = [(_user_poses(labels, i), video) for i, video in enumerate(labels.videos)]
    per_video = [(p, v) for p, v in per_video if len(p.frames)]
    if not per_video:
        raise TrainingDataError("the labels have no labelled frames; label some frames first.")
    for poses, video in per_video:
        _check_inside(poses, skeleton, _frame_shape(video)[:2])
    all_points = np.concatenate([p.points.reshape(-1, len(skeleton), 2) for p, _ in per_video])
    visible = np.isfinite(all_points).all(-1)
    inst = visible.any(-1)
    all_points = all_points[inst]
    extent = float(np.nanmax(np.nanmax(all_points, 1) - np.nanmin(all_points, 1)))
    centres = np.nanmean(all_points, 1)
    radius = float(np.nanmax(np.linalg.norm(all_points - centres[:, None], axis=-1)))
    max_animals = max(
        int(np.isfinite(p.points).all(-1).any(-1).sum(-1).max()) for p, _ in per_video
    )
    frame_hw = _frame_shape(per_video[0][1])[:2]
    has_video = all(_video_path(v) is not None for _, v in per_video)
    method, how = alignment_method(
        align, decide_alignment(extent, frame_hw, max_animals), has_video
    )
    why = (
        f"largest labelled animal spans {extent:.0f} px in {frame_hw[1]}x{frame_hw[0]} frames, "
        f"up to {max_animals} animal(s) per frame"
    )
    if method == "learned":
        from napari_leap.pose.boxes import learned_training_data

        say(f"learned alignment ({how}): {why}")
        parts = getattr(labels, "provenance", {}).get(PARTS_KEY) or {}
        shapes = _frame_shapes(per_video)  # decodes an image list's frames (boxes cut them again)
        data = learned_training_data(
            per_video,
            skeleton,
            max_animals,
            shapes,
            anchor=anchor or parts.get("anchor"),
            heading_part=heading_part or parts.get("heading_part"),
            box_size=box_size,
            say=say,
        )
        data.frame_sizes = sorted({tuple(s[:2]) for s in shapes})
        return data
    if method == "background":
        # one body part (or all on one spot) gives no size: the alignment measures the animal
        size = int(box_size) if box_size else (box_size_for(radius) or None)
        say(
            f"{'aligning' if how == 'chosen' else 'aligning (as asked)'}: {why}; "
            f"{max_animals} animal(s) per frame into "
            f"{f'{size}x{size}' if size else 'animal-sized'} boxes"
        )
        data = _aligned(
            per_video,
            skeleton,
            max_animals,
            size,
            align_options or {},
            alignments or {},
            say,
            deadline,
        )
        data.frame_sizes = sorted({tuple(s[:2]) for s in _frame_shapes(per_video)})  # video files
        return data
    if max_animals > 1:
        raise TrainingDataError(
            f"frames hold up to {max_animals} labelled animals; a full-frame model finds one "
            "animal per frame, so train with alignment (--align learned or background)."
        )
    align = None if how == "chosen" else align
    say(f"{'full frames' if align is None else 'full frames (as asked)'}: {why}")
    read = [_read_frames(video, poses.frames, stack=False) for poses, video in per_video]
    frame_sizes = sorted({tuple(f.shape[:2]) for frames in read for f in frames})
    # frames of several sizes (a rig's cameras) are padded at the bottom and right to the largest
    largest = tuple(max(s[i] for s in frame_sizes) for i in range(2))
    if len(frame_sizes) > 1:
        say(
            f"the labelled frames come in {len(frame_sizes)} sizes; each is padded to "
            f"{largest[1]}x{largest[0]}"
        )
    images, points, groups = [], [], []
    for vi, ((poses, _), frames) in enumerate(zip(per_video, read, strict=True)):
        images.append(np.stack([pad_to(f, largest) for f in frames]))
        a = np.isfinite(poses.points).all(-1).any(-1).argmax(1)
        points.append(poses.points[np.arange(len(a)), a])
        groups.append(vi * 10**9 + poses.frames)
    return TrainingData(
        np.concatenate(images),
        np.concatenate(points),
        skeleton,
        np.concatenate(groups),
        None,
        "full frames",
        frame_sizes=frame_sizes if len(frame_sizes) > 1 else None,
    )


def _check_labels(labels) -> None:
    """Refuse, before any alignment pass, labels no model can be trained on as they are:
    instances of several skeletons (a model learns one), or a video that has moved."""
    used: dict[int, tuple[object, int]] = {}
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
        path = _missing_video(video) if id(video) in labelled else None
        if path is not None:
            raise TrainingDataError(
                f"the labels refer to {path}, which does not exist; move the video back or "
                "re-link it in the labels file."
            )


def _missing_video(video) -> Path | None:
    """The path of a video file the labels read frames from that is not there (else None)."""
    from napari_leap.io.video import source_of

    name = getattr(video, "filename", None)
    if not isinstance(name, (str, Path)) or source_of(video) is not None:
        return None
    path = Path(name)
    meta = getattr(video, "backend_metadata", None) or {}
    embedded = meta.get("has_embedded_images") or path.suffix.lower() in (".slp", ".pkg")
    return None if embedded or path.exists() else path


def _check_inside(poses, skeleton: Skeleton, frame_hw) -> None:
    """Refuse labels placed off the frame (a slip of the mouse), naming the first one."""
    h, w = frame_hw
    x, y = poses.points[..., 0], poses.points[..., 1]
    outside = np.isfinite(x) & ((x < -0.5) | (y < -0.5) | (x > w - 0.5) | (y > h - 0.5))
    if outside.any():
        i, a, k = (int(v[0]) for v in np.nonzero(outside))
        raise TrainingDataError(
            f"{int(outside.sum())} labelled point(s) lie outside the {w}x{h} px frame, e.g. "
            f"{skeleton.nodes[k]} of {poses.tracks[a]} on frame {int(poses.frames[i])} at "
            f"({x[i, a, k]:.0f}, {y[i, a, k]:.0f}); move or delete them, then train again."
        )


def _frame_shape(video) -> tuple[int, int, int]:
    shape = getattr(video, "shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape[1:])
    return tuple(_read_frames(video, [0])[0].shape)


def _video_path(video) -> Path | None:
    """Path of a plain video file (frame-exact reader); None for embedded images."""
    from napari_leap.io.video import source_of

    name = getattr(video, "filename", video)
    if isinstance(name, (list, tuple)) or source_of(video) is not None:
        return None
    p = Path(str(name))
    backend = type(getattr(video, "backend", None)).__name__
    if not p.exists() or p.suffix.lower() in (".slp", ".pkg") or "HDF5" in backend:
        return None
    return p


def _read_frames(video, frames, stack: bool = True):
    """Frames (N, H, W, C); with ``stack=False`` a list, for labelled images of several sizes
    (DeepLabCut's ``labeled-data/`` folders mix crops of a rig's cameras)."""
    path = _video_path(video)
    if path is not None:
        from napari_leap.io.video import video_source

        src = video_source(path)
        out = [src.read(int(i)) for i in frames]
    else:
        out = [np.asarray(video[int(i)]) for i in frames]
    out = [f[..., None] if f.ndim == 2 else f for f in out]
    return np.stack(out) if stack else out


def _frame_shapes(per_video) -> set[tuple[int, ...]]:
    """Every labelled frame's shape: a video file has one, an image list may have several."""
    shapes = set()
    for poses, video in per_video:
        if _video_path(video) is not None:
            shapes.add(_frame_shape(video))
        else:
            shapes.update(f.shape for f in _read_frames(video, poses.frames, stack=False))
    return shapes


def _aligned(per_video, skeleton, n_animals, box_size, options, alignments, say, deadline):
    """Boxes of every labelled animal, labels mapped into them through the alignment."""
    from scipy.optimize import linear_sum_assignment

    images, points, groups = [], [], []
    alignment = None
    n_dropped = 0
    for vi, (poses, video) in enumerate(per_video):
        alignment = alignments.get(vi)
        if alignment is None:
            path = _video_path(video)
            if path is None:
                raise TrainingDataError(
                    "these labels embed their images without the video, which background "
                    "alignment needs; train with --align learned or give the labels with their video."
                )
            say(
                f"aligning {path.name} ({n_animals} animal(s), box {box_size or 'from its size'}): "
                "the whole video is scanned once so identities and headings are tracked"
            )
            alignment = _run_align(path, n_animals, box_size, options, deadline)
        box_size = box_size or alignment.box_size
        if alignment.box_size != box_size:  # boxes, points and the model's config agree
            alignment = alignment.with_box_size(box_size)
        centres = np.asarray(alignment.centers)
        for i, frame in enumerate(poses.frames):
            pts = poses.points[i]  # (A, K, 2)
            labelled = np.isfinite(pts).all(-1).any(-1)
            inst_centre = np.array(
                [
                    np.nanmean(p, 0) if ok else (np.nan, np.nan)
                    for p, ok in zip(pts, labelled, strict=True)
                ]
            )
            c = centres[frame]  # (animals, 2)
            ok_a = np.flatnonzero(labelled)
            ok_b = np.flatnonzero(np.isfinite(c).all(-1))
            if not len(ok_a) or not len(ok_b):
                continue
            cost = np.linalg.norm(inst_centre[ok_a, None] - c[None, ok_b], axis=-1)
            rows, cols = linear_sum_assignment(cost)
            frame_boxes = None
            for r, cidx in zip(rows, cols, strict=True):
                a, b = ok_a[r], ok_b[cidx]
                if cost[r, cidx] > box_size / 2:
                    n_dropped += 1
                    continue
                box_pts = np.asarray(
                    alignment.video_to_box(pts[a], int(frame), int(b)), dtype=np.float64
                )
                if frame_boxes is None:
                    frame_boxes = np.asarray(alignment.boxes[int(frame)])
                images.append(frame_boxes[int(b)])
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
