"""Who is who, frame by frame: the online tracker both one-pass prediction and alignment use."""

from __future__ import annotations

import numpy as np

#: confidence a track must see against its heading, frame after frame, before it turns round
FLIP_AFTER = 4.0
#: what :meth:`Tracker.state` saves (a state saved before the windows lacks the last three)
_STATE = (
    "centres",
    "angles",
    "velocity",
    "seen",
    "against",
    "window_group",
    "window_frame",
    "window_from",
)


class Tracker:
    """Who is who and which way each faces, frame by frame (online, so one pass suffices).

    Animals are matched to last frame's tracks by Hungarian matching on their
    positions extrapolated with their velocity and on their orientation
    (:func:`napari_leap.align.identity.assign`). An animal does not turn round
    between two frames: a heading more than 90 degrees from its track's is
    taken as the first stage confusing head and tail, and turned back, unless
    the network insists: its confidence on frames that disagree, less that on
    frames that agree, summed (and never below 0), reaches :data:`FLIP_AFTER`
    (a few frames). So a track that started the wrong way round is put right as
    soon as the network is right more often than not. ``keep_heading=False`` (unrelated frames, such
    as a package's labelled frames) takes every heading as found. A lost animal
    keeps its last position and heading.
    """

    def __init__(self, n_animals: int, length: float, keep_heading: bool = True):
        self.length, self.keep_heading = float(length), keep_heading
        self.centres = np.full((n_animals, 2), np.nan)
        self.angles = np.full(n_animals, np.nan)
        self.velocity = np.zeros((n_animals, 2))
        self.seen = np.zeros(n_animals, bool)
        self.against = np.zeros(n_animals)
        # where the first stage's windows go in the current group of frames
        # (:mod:`~napari_leap.pose.first_stage.windows`): the group, the frame its tracks
        # were taken before, and per track x, y, velocity x, y and heading (NaN: lost)
        self.window_group = np.array(-1)
        self.window_frame = np.array(-1)
        self.window_from = np.full((n_animals, 5), np.nan)

    def update(self, centres: np.ndarray, angles: np.ndarray, scores: np.ndarray):
        """One frame's animals (from ``pair_parts``) to tracks.

        Returns per track ``(anchors (A, 2), headings (A,), found (A,), confidence (A,))``;
        NaN for a track never seen.
        """
        from napari_leap.align.identity import assign

        n = len(self.seen)
        predicted = self.centres + np.where(self.seen[:, None], self.velocity, 0.0)
        found, confidence = np.zeros(n, bool), np.zeros(n)
        if len(centres):
            none = np.full(len(centres), np.nan)
            match = assign(
                predicted,
                np.nan_to_num(self.angles),
                np.full(n, np.nan),
                centres,
                np.nan_to_num(angles),
                none,
                self.length,
            )
            for a, j in enumerate(match):
                if j < 0:
                    continue
                moved = centres[j] - self.centres[a]
                self.velocity[a] = 0.6 * self.velocity[a] + 0.4 * moved if self.seen[a] else 0.0
                self.angles[a] = self._heading(a, angles[j], scores[j])
                self.centres[a] = centres[j]
                found[a] = True
                confidence[a] = scores[j] if np.isfinite(angles[j]) else 0.0
        self.seen = found
        return self.centres.copy(), self.angles.copy(), found, confidence

    def track(self, detections) -> tuple[np.ndarray, ...]:
        """:meth:`update` over consecutive frames' detections (``LearnedAligner.detect``).

        Returns ``(anchors (n, A, 2), headings (n, A), found (n, A), confidence (n, A))``.
        """
        per_frame = [self.update(*found) for found in detections]
        if not per_frame:
            a_n = len(self.seen)
            empty = np.zeros((0, a_n))
            return np.zeros((0, a_n, 2)), empty, empty.astype(bool), empty
        return tuple(np.stack(parts) for parts in zip(*per_frame, strict=True))

    def place_windows(self, group: int, frame: int) -> None:
        """Keep the tracks as they are now for the windows of frame group ``group``.

        From ``frame`` on; unless they were kept for this group already (by its first batch).
        """
        if int(self.window_group) == group:
            return
        self.window_group, self.window_frame = np.array(group), np.array(frame)
        known = self.seen.all() and np.isfinite(self.angles).all()
        now = np.column_stack([self.centres, self.velocity, self.angles])
        self.window_from = now if known else np.full_like(now, np.nan)

    def _heading(self, a: int, heading: float, score: float) -> float:
        from napari_leap.align.identity import wrap

        previous = self.angles[a]
        if not np.isfinite(heading):  # no heading part found: keep the track's
            return previous if np.isfinite(previous) else 0.0
        if not self.keep_heading or not np.isfinite(previous):
            return heading
        if abs(wrap(heading - previous)) <= np.pi / 2:  # agrees: weighs against a turn
            self.against[a] = max(0.0, self.against[a] - score)
            return heading
        self.against[a] += score
        if self.against[a] >= FLIP_AFTER:
            self.against[a] = 0.0
            return heading
        return float(wrap(heading + np.pi))

    def state(self) -> dict:
        """The arrays to save so that another process continues these tracks."""
        return {k: getattr(self, k).copy() for k in _STATE}

    def set_state(self, state: dict) -> None:
        """Continue the tracks :meth:`state` saved."""
        for k, v in state.items():
            setattr(self, k, np.asarray(v).copy())
