"""Training data as arrays: images with body-part positions, and LEAP / DeepPoseKit box files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.skeleton_files import load_skeleton
from napari_leap.model.skeleton import Skeleton


class TrainingDataError(LeapError):
    """Labels that cannot be used for training as they are."""


#: ``Labels.provenance`` key of the skeleton's alignment parts (sleap-io skeletons have no room)
PARTS_KEY = "napari_leap_alignment_parts"


@dataclass
class DataOptions:
    """How labels become training images: the alignment, its two body parts and the box."""

    align: bool | str | None = None  # see :func:`~napari_leap.pose.dataset.alignment_method`
    anchor: str | None = None
    heading_part: str | None = None
    box_size: int | None = None
    align_options: dict | None = None  # passed to background alignment


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
    groups: Any = None  # (N,) ordering in time; None: the images' order
    alignment: dict | None = None
    description: str = ""
    notes: list[str] = field(default_factory=list)
    frame_sizes: list[tuple[int, int]] | None = None
    first_stage: TrainingData | None = None
    warnings: list[str] = field(default_factory=list)  # for the user before training starts

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
        """(h, w) of the images."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def channels(self) -> int:
        """1 (grey) or 3 (colour)."""
        return int(self.images.shape[3])

    def subset(self, index) -> TrainingData:
        """The samples at ``index``, with the same skeleton and alignment."""
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
