"""What a prediction reports: progress events, the result, and its one error type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError


class PredictError(LeapError):
    """A prediction that cannot run as asked."""


@dataclass
class PredictProgress:
    """One step of a prediction: what is done and, for a finished chunk, its poses."""

    phase: str  # "align", "predict" or "write"
    video: int
    n_videos: int
    done: int  # frames finished in this phase over all videos
    total: int
    fps: float = float("nan")  # frames per second since the phase began (new work only)
    frames: np.ndarray | None = None  # (n,) video frame indices of the finished chunk
    points: np.ndarray | None = None  # (n, A, K, 2) x,y video pixels, NaN = missing
    scores: np.ndarray | None = None  # (n, A, K)
    resumed: bool = False  # True when the chunk came from the store of an earlier run


@dataclass
class PredictResult:
    """Predictions per video, in input order; ``path`` is the written output (if any)."""

    poses: list  # list[napari_leap.model.poses.Poses]
    videos: list  # sleap_io.Video per input video
    path: Path | None = None
    computed_chunks: int = 0  # chunks run by the model in this call (not taken from the store)
    reused_chunks: int = 0
    #: one sentence per way the input differs from the model's training data (pose/fit.py)
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_without_animals(self) -> int:
        """Predicted frames (all videos) on which no animal was found: they hold no instance."""
        return sum(_n_empty(p.points) for p in self.poses)

    def to_labels(self):
        """The predictions as ``sleap_io.Labels`` (PredictedInstances with tracks)."""
        from napari_leap.io.labels import labels_from_poses

        return labels_from_poses(self.poses, self.videos, predicted=True)


def _n_empty(points: np.ndarray | None) -> int:
    """Frames of ``points`` ``(n, A, K, 2)`` with no point of any animal."""
    if points is None or not len(points):
        return 0
    return int((~np.isfinite(points).all(-1).any((1, 2))).sum())
