"""Trajectories as napari Tracks layers.

Mirrors movement's napari layers: one Tracks row ``(track_id, frame, y, x)`` per
animal and body part, with the animal, body part and confidence as features.
"""

from __future__ import annotations

import numpy as np

from napari_leap.model.poses import Poses
from napari_leap.napari.layers.style import LayerData, node_colormap


def tracks_layer_data(poses: Poses, node: str | int, *, name: str | None = None) -> LayerData:
    """A Tracks layer of one body part's trajectory per animal: rows ``(track_id, frame, y, x)``."""
    k = poses.skeleton.index(node) if isinstance(node, str) else int(node)
    rows = []
    for a in range(poses.n_animals):
        xy = poses.points[:, a, k]
        ok = np.isfinite(xy).all(axis=1)
        rows.append(np.column_stack([np.full(ok.sum(), a), poses.frames[ok], xy[ok, 1], xy[ok, 0]]))
    data = np.concatenate(rows) if rows else np.zeros((0, 4))
    return (
        data,
        {
            "name": name or f"track {poses.skeleton.nodes[k]}",
            "tail_length": 50,
            "properties": {"animal": np.asarray(data[:, 0], dtype=int)},
        },
        "tracks",
    )


def prediction_tracks(poses: Poses) -> tuple[np.ndarray, dict]:
    """Tracks rows ``(track_id, frame, y, x)`` for every animal and body part, with features.

    ``track_id = animal * K + node`` so ids are stable while predictions stream in;
    features ``animal``, ``node`` (names), ``node_index`` and ``node_color`` (the index
    scaled to 0..1, what the colour follows).
    """
    k = len(poses.skeleton)
    valid = np.isfinite(poses.points).all(axis=-1)  # (N, A, K)
    i, a, n = np.nonzero(valid)
    track = a * k + n
    order = np.lexsort((poses.frames[i], track))  # napari wants rows by track, then time
    i, a, n, track = i[order], a[order], n[order], track[order]
    xy = poses.points[i, a, n]
    data = np.column_stack([track, poses.frames[i], xy[:, 1], xy[:, 0]]).astype(np.float64)
    features = {
        "animal": np.asarray(poses.tracks, dtype=object)[a] if len(a) else np.zeros(0, object),
        "node": np.asarray(poses.skeleton.nodes, dtype=object)[n]
        if len(n)
        else np.zeros(0, object),
        "node_index": n.astype(np.float64),
        # napari maps a colormaps_dict property without rescaling: 0..1 here
        "node_color": n / max(k - 1, 1),
        "confidence": poses.scores[i, a, n],
    }
    return data.reshape(-1, 4), features


def prediction_tracks_layer_data(
    poses: Poses, *, name: str = "tracks", tail_length: int = 25
) -> LayerData:
    """A Tracks layer: one track per animal and body part, coloured like its points."""
    data, features = prediction_tracks(poses)
    kwargs = {
        "name": name,
        "features": features,
        "tail_length": int(tail_length),
        "tail_width": 1.5,
        "color_by": "node_color",
        "colormaps_dict": {"node_color": node_colormap(poses.skeleton.nodes)},
        "blending": "translucent",
    }
    return data, kwargs, "tracks"
