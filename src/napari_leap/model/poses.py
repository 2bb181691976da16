"""Poses of one video as plain arrays: what training, prediction and evaluation compute on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_leap.model.skeleton import Skeleton, retarget


def default_tracks(n: int, start: int = 0) -> list[str]:
    """Names of animals that have no track name of their own: ``animal0``, ``animal1``, ...

    One spelling everywhere, so a file written without tracks reads back with the
    same names the layers and docks show.
    """
    return [f"animal{a}" for a in range(start, start + n)]


@dataclass
class Poses:
    """Poses of one video as arrays.

    ``points[i, a, k]`` is the ``x, y`` of body part ``k`` of animal ``a`` on frame
    ``frames[i]``, NaN where it is not placed or not visible. ``scores`` holds
    confidences for predictions (NaN for a person's labels).
    """

    frames: np.ndarray  # (N,) int
    points: np.ndarray  # (N, A, K, 2) float64
    scores: np.ndarray  # (N, A, K) float64
    tracks: list[str]
    skeleton: Skeleton

    @property
    def n_animals(self) -> int:
        """Animals per frame (tracks first, untracked ones after)."""
        return self.points.shape[1]

    def select(self, mask_or_index) -> Poses:
        """The frames picked by a mask or an index (the same animals and parts)."""
        return Poses(
            self.frames[mask_or_index],
            self.points[mask_or_index],
            self.scores[mask_or_index],
            list(self.tracks),
            self.skeleton,
        )

    def on_skeleton(self, skeleton: Skeleton) -> Poses:
        """The same points on ``skeleton``'s body parts, matched by name."""
        return Poses(
            self.frames,
            retarget(self.points, self.skeleton, skeleton),
            retarget(self.scores, self.skeleton, skeleton),
            list(self.tracks),
            skeleton,
        )
