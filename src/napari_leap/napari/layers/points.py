"""A pose layer's points and features from core data, and back to labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.io.labels import skeleton_to_sleap
from napari_leap.model.labeling import hidden_by_person
from napari_leap.model.poses import Poses, default_tracks
from napari_leap.model.skeleton import Skeleton
from napari_leap.napari.layers.style import (
    STATUS_SYMBOL,
    STATUSES,
    LayerData,
    empty_features,
    points_style,
)


def poses_to_points(poses: Poses, status: str = "user"):
    """Points ``(frame, y, x)`` and features of every placed body part, in frame order."""
    import pandas as pd

    valid = np.isfinite(poses.points).all(axis=-1)  # (N, A, K)
    i, a, k = np.nonzero(valid)
    xy = poses.points[i, a, k]
    data = np.column_stack([poses.frames[i].astype(np.float64), xy[:, 1], xy[:, 0]])
    features = pd.DataFrame(
        {
            "node": pd.Categorical.from_codes(k, categories=poses.skeleton.nodes),
            "animal": pd.Categorical.from_codes(a, categories=poses.tracks),
            "status": pd.Categorical([status] * len(i), categories=STATUSES),
            "confidence": poses.scores[i, a, k] if status != "user" else np.full(len(i), np.nan),
        }
    )
    return data.reshape(-1, 3), features


def points_to_poses(
    data, features, skeleton: Skeleton, tracks: list[str], statuses=STATUSES
) -> Poses:
    """Arrays of the points whose status is in ``statuses`` (a body part placed twice keeps the last)."""
    data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    keep = (
        np.asarray(features["status"].astype(str).isin(list(statuses)))
        if len(data)
        else np.zeros(0, bool)
    )
    data = data[keep]
    node = category_codes(features["node"][keep], skeleton.nodes)
    animal = category_codes(features["animal"][keep], tracks)
    conf = (
        np.asarray(features["confidence"][keep], dtype=np.float64)
        if "confidence" in features
        else np.full(len(data), np.nan)
    )
    frame = np.rint(data[:, 0]).astype(np.int64)
    frames = np.unique(frame)
    row = np.searchsorted(frames, frame)
    points = np.full((len(frames), len(tracks), len(skeleton), 2), np.nan)
    scores = np.full((len(frames), len(tracks), len(skeleton)), np.nan)
    points[row, animal, node] = data[:, [2, 1]]
    scores[row, animal, node] = conf
    return Poses(
        frames=frames, points=points, scores=scores, tracks=list(tracks), skeleton=skeleton
    )


def category_codes(column, categories: list[str]) -> np.ndarray:
    """Integer index of each value in ``categories`` (values outside are a bug upstream)."""
    values = np.asarray(column.astype(str))
    lookup = {c: i for i, c in enumerate(categories)}
    try:
        return np.array([lookup[v] for v in values], dtype=np.int64)
    except KeyError as e:
        raise ValueError(f"point label {e.args[0]!r} is not one of {categories}") from None


def pose_metadata(layer_metadata: dict) -> tuple[Skeleton, list[str]]:
    """Skeleton and track names a pose layer's metadata holds."""
    return Skeleton.from_dict(layer_metadata["skeleton"]), list(layer_metadata["tracks"])


def points_layer_data(
    user: Poses | None,
    predicted: Poses | None = None,
    *,
    name: str = "poses",
    video: str | Path | None = None,
    tracked: bool = True,
    show_names: bool = False,
) -> LayerData:
    """A Points layer of a person's labels and predictions.

    An animal-frame a person labelled hides the prediction for it.
    """
    import pandas as pd

    ref = user if user is not None else predicted
    if ref is None:
        raise ValueError("points_layer_data needs a person's labels or predictions")
    skeleton, tracks = ref.skeleton, list(ref.tracks)
    parts = []
    if user is not None:
        parts.append(poses_to_points(user, "user"))
    if predicted is not None and len(predicted.frames):
        predicted = align_tracks(predicted, tracks)
        if user is not None and len(user.frames):
            predicted = _hide_labelled(predicted, user)
        parts.append(poses_to_points(predicted, "predicted"))
    if parts:
        data = np.concatenate([p[0] for p in parts])
        features = pd.concat([p[1] for p in parts], ignore_index=True)
        for col, cats in (("node", skeleton.nodes), ("animal", tracks), ("status", STATUSES)):
            features[col] = pd.Categorical(features[col].astype(str), categories=cats)
    else:
        data, features = np.zeros((0, 3)), empty_features(skeleton, tracks)
    order = np.argsort(data[:, 0], kind="stable")
    data, features = data[order], features.iloc[order].reset_index(drop=True)
    kwargs = {
        "name": name,
        "features": features,
        "symbol": [STATUS_SYMBOL[s] for s in features["status"].astype(str)] or "disc",
        "metadata": {
            "skeleton": skeleton.to_dict(),
            "tracks": tracks,
            "tracked": tracked,
            "video": None if video is None else str(video),
        },
        **points_style(skeleton, tracks, show_names=show_names),
    }
    return data, kwargs, "points"


def _hide_labelled(predicted: Poses, user: Poses) -> Poses:
    """``predicted`` without the animal-frames a person labelled (same tracks in both).

    The result takes ``user``'s skeleton: the layer's body parts are the person's.
    """
    points = predicted.points.copy()
    points[hidden_by_person(predicted.frames, user.frames, user.points)] = np.nan
    return Poses(predicted.frames, points, predicted.scores, predicted.tracks, user.skeleton)


def align_tracks(poses: Poses, tracks: list[str]) -> Poses:
    """Reorder (and pad) a Poses' animals to ``tracks``."""
    if list(poses.tracks) == list(tracks):
        return poses
    points = np.full((len(poses.frames), len(tracks), len(poses.skeleton), 2), np.nan)
    scores = np.full(points.shape[:3], np.nan)
    for a, name in enumerate(poses.tracks):
        if name in tracks:
            points[:, tracks.index(name)] = poses.points[:, a]
            scores[:, tracks.index(name)] = poses.scores[:, a]
    return Poses(poses.frames, points, scores, list(tracks), poses.skeleton)


def layer_to_labels(data, features, metadata: dict, video=None):
    """``sleap_io.Labels`` holding exactly the layer's points.

    An animal-frame with any point a person placed or corrected is a person's
    instance (its untouched predicted points were accepted); otherwise it stays
    a prediction with its confidences.
    """
    import sleap_io as sio

    skeleton, tracks = pose_metadata(metadata)
    poses = points_to_poses(data, features, skeleton, tracks)
    status = _status_grid(data, features, poses, skeleton, tracks)
    sk = skeleton_to_sleap(skeleton)
    tracked = metadata.get("tracked", True)
    track_objs = [sio.Track(name=t) for t in tracks] if tracked else []
    if video is None:
        video = metadata.get("video") or "unknown.mp4"
    if isinstance(video, (str, Path)):
        video = sio.Video(filename=str(video), open_backend=False)
    frames = []
    for i, frame in enumerate(poses.frames):
        instances = []
        for a in range(len(tracks)):
            pts = poses.points[i, a]
            if not np.isfinite(pts).any():
                continue
            track = track_objs[a] if tracked else None
            if status[i, a]:
                instances.append(sio.Instance.from_numpy(pts, skeleton=sk, track=track))
            else:
                sc = poses.scores[i, a]
                finite = np.isfinite(sc)
                instances.append(
                    sio.PredictedInstance.from_numpy(
                        points_data=pts,
                        point_scores=np.nan_to_num(sc, nan=0.0),
                        score=float(sc[finite].mean()) if finite.any() else 0.0,
                        skeleton=sk,
                        track=track,
                    )
                )
        frames.append(sio.LabeledFrame(video=video, frame_idx=int(frame), instances=instances))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk], tracks=track_objs)
    if skeleton.anchor or skeleton.heading_part:  # sleap-io skeletons have no room for them
        from napari_leap.pose.dataset import PARTS_KEY

        labels.provenance[PARTS_KEY] = {
            "anchor": skeleton.anchor,
            "heading_part": skeleton.heading_part,
        }
    return labels


def _status_grid(data, features, poses: Poses, skeleton, tracks) -> np.ndarray:
    """(frames, animals) True where a person placed or corrected a point."""
    grid = np.zeros((len(poses.frames), len(tracks)), dtype=bool)
    if not len(poses.frames):
        return grid
    human = np.asarray(features["status"].astype(str) != "predicted")
    frame = np.rint(np.asarray(data, dtype=np.float64).reshape(-1, 3)[:, 0]).astype(np.int64)
    animal = category_codes(features["animal"], tracks)
    row = np.searchsorted(poses.frames, frame[human])
    grid[row, animal[human]] = True
    return grid


def labels_to_layer_data(
    labels,
    video: int = 0,
    *,
    name: str | None = None,
    video_path: str | Path | None = None,
    tracked: bool | None = None,
    show_names: bool = False,
) -> LayerData:
    """A Points layer from ``sleap_io.Labels`` (one video): a person's points and predictions."""
    from napari_leap.io.labels import poses_from_labels

    user = poses_from_labels(labels, video, user=True, predicted=False)
    predicted = poses_from_labels(labels, video, user=False, predicted=True)
    tracks = merged_tracks(user.tracks, predicted.tracks)
    if not tracks:
        tracks = default_tracks(1)
    user, predicted = align_tracks(user, tracks), align_tracks(predicted, tracks)
    if tracked is None:
        tracked = bool(labels.tracks)
    return points_layer_data(
        user,
        predicted if len(predicted.frames) else None,
        name=name or "labels",
        video=video_path,
        tracked=tracked,
        show_names=show_names,
    )


def merged_tracks(*lists: list[str]) -> list[str]:
    """Track names of all ``lists`` in first-seen order, each once."""
    out: list[str] = []
    for names in lists:
        out.extend(n for n in names if n not in out)
    return out


def frame_counts(data, features, frame: int | None = None) -> dict[int, int]:
    """Placed body parts per frame (all animals), or only for ``frame``."""
    frames = np.rint(np.asarray(data, dtype=np.float64).reshape(-1, 3)[:, 0]).astype(np.int64)
    if frame is not None:
        return {frame: int((frames == frame).sum())}
    values, counts = np.unique(frames, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def prediction_points_layer_data(
    poses: Poses, *, name: str = "predictions", video: str | Path | None = None
) -> LayerData:
    """A Points layer of predictions (status ``predicted``), coloured by body part."""
    data, kwargs, kind = points_layer_data(None, poses, name=name, video=video)
    kwargs["border_color"] = "transparent"
    kwargs["size"] = 6.0
    return data, kwargs, kind
