"""How the Predict dock shows poses: tracks, skeleton and points over the video.

The layers come from :mod:`napari_leap.napari.layers`: predicted points coloured
by body part, one track per animal and body part, and the skeleton between them.
"""

from __future__ import annotations

import time

import numpy as np

from napari_leap.napari import layers


def frames_with_animals(poses) -> np.ndarray:
    """(frames,) True where at least one body part of one animal was found."""
    return np.isfinite(poses.points).all(axis=-1).any(axis=(1, 2))


class DisplayMixin:
    """The layers half of :class:`~napari_leap.napari.widgets.predict.PredictWidget`."""

    def show_poses(self, poses) -> None:
        """Replace the prediction layers with ``poses`` (over the video layer's coordinates)."""
        self._last_refresh = time.monotonic()
        if not frames_with_animals(poses).any():  # napari cannot draw empty tracks: no layers
            for key in ("tracks", "skeleton", "points"):
                old = self._layers.pop(key, None)
                if old is not None and old in self.viewer.layers:
                    self.viewer.layers.remove(old)
            self._poses_shown = None
            return
        tag = f" [{self._video_name}]"
        # tracks first, then skeleton, then points: the current pose stays on top of the tails
        tdata, tkw, _ = layers.prediction_tracks_layer_data(
            poses, name="tracks" + tag, tail_length=self.tail_spin.value()
        )
        self._replace("tracks", tdata, tkw, "tracks")
        data, kwargs, _ = layers.prediction_points_layer_data(poses, name="predictions" + tag)
        self._poses_shown = poses
        vec, vkw, _ = layers.edges_layer_data(
            data, kwargs["features"], kwargs["metadata"], name="skeleton" + tag
        )
        self._replace("skeleton", vec, vkw, "vectors")
        points = self._replace("points", data, kwargs, "points")
        self._apply_threshold(points=points)

    def _replace(self, key: str, data, kwargs: dict, kind: str):
        """Update the layer in place when it exists (same index, same user settings)."""
        old = self._layers.get(key)
        if old is not None and old in self.viewer.layers:
            index = self.viewer.layers.index(old)
            self.viewer.layers.remove(old)
        else:
            index = None
        layer = getattr(self.viewer, f"add_{kind}")(data, **kwargs)
        if index is not None:
            self.viewer.layers.move(self.viewer.layers.index(layer), index)
        self._layers[key] = layer
        return layer

    @property
    def threshold(self) -> float:
        """Confidence below which predicted points are hidden."""
        return self.threshold_slider.value() / 100.0

    def _apply_threshold(self, *_, points=None) -> None:
        """Hide predicted points (and their skeleton edges) below the confidence threshold."""
        self.threshold_label.setText(f"{self.threshold:.2f}")
        points = points or self._layers.get("points")
        if points is None or points not in self.viewer.layers or not len(points.data):
            return
        conf = np.asarray(points.features["confidence"], dtype=float)
        shown = np.nan_to_num(conf, nan=0.0) >= self.threshold
        points.shown = shown
        edges = self._layers.get("skeleton")
        if edges is not None and edges in self.viewer.layers:
            vec, colors = layers.edge_vectors(
                np.asarray(points.data)[shown],
                points.features[shown].reset_index(drop=True),
                *layers.pose_metadata(points.metadata),
            )
            edges.data = vec
            if len(colors):
                edges.edge_color = colors

    def _apply_tail(self, value: int) -> None:
        tracks = self._layers.get("tracks")
        if tracks is not None and tracks in self.viewer.layers:
            tracks.tail_length = int(value)
