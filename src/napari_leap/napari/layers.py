"""The one place that turns core data into napari layer data and back.

Conventions (every widget, the reader and the writer rely on them):

* pose points live in a Points layer in **video coordinates**, data ``(frame, y, x)``,
  one point per placed body part per animal;
* the layer's features are ``node`` (categorical over the skeleton's body parts),
  ``animal`` (track name), ``status`` (``user``, ``predicted``, ``corrected``) and
  ``confidence`` (NaN for a person's points);
* ``layer.metadata`` holds ``skeleton`` (:meth:`Skeleton.to_dict`), ``tracks`` (animal
  names in order), ``tracked`` (whether the file had tracks) and ``video`` (path or None);
* colour is by body part from one fixed palette, symbol and border by status.

Sections: styling - pose points - edges - tracks - videos - alignment boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.io.labels import skeleton_to_sleap
from napari_leap.model.poses import Poses, default_tracks
from napari_leap.model.skeleton import Skeleton

LayerData = tuple  # (data, kwargs, layer_type), napari's LayerDataTuple

# -- styling ------------------------------------------------------------------------------

STATUSES = ("user", "predicted", "corrected")
STATUS_BORDER = {
    "user": [1.0, 1.0, 1.0, 1.0],
    "predicted": [1.0, 0.85, 0.0, 1.0],
    "corrected": [0.0, 1.0, 1.0, 1.0],
}
STATUS_SYMBOL = {"user": "disc", "predicted": "diamond", "corrected": "square"}

#: distinct, colour-blind-aware hues (Okabe-Ito first, then Tableau); cycled past 20 parts
PALETTE = [
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#ff595e",
    "#8ac926",
    "#6a4c93",
    "#1982c4",
    "#ffca3a",
    "#ff924c",
    "#52a675",
    "#b5179e",
    "#4cc9f0",
    "#f72585",
    "#90be6d",
    "#f9844a",
    "#277da1",
]


def _rgba(hex_color: str) -> list[float]:
    h = hex_color.lstrip("#")
    return [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)] + [1.0]


def node_colors(nodes: list[str]) -> dict[str, list[float]]:
    """RGBA per body part, fixed by its position in the skeleton (same colour in every view)."""
    return {n: _rgba(PALETTE[i % len(PALETTE)]) for i, n in enumerate(nodes)}


def is_pose_layer(layer) -> bool:
    """True for a Points layer made by :func:`points_layer_data` (or the labeling widget)."""
    md = getattr(layer, "metadata", None) or {}
    return getattr(layer, "_type_string", "") == "points" and "skeleton" in md


def is_editable_pose_layer(layer) -> bool:
    """A pose layer the Label and Skeleton docks may edit (not a read-only reference)."""
    return is_pose_layer(layer) and not layer.metadata.get("reference")


def points_style(
    skeleton: Skeleton, tracks: list[str], *, show_names: bool = False, size: float = 8.0
) -> dict:
    """Keyword arguments that colour points by body part and mark their status."""
    style = {
        "face_color": {
            "colors": "node",
            "categorical_colormap": {"colormap": node_colors(skeleton.nodes)},
        },
        "border_color": {"colors": "status", "categorical_colormap": {"colormap": STATUS_BORDER}},
        "border_width": 0.15,
        "border_width_is_relative": True,
        "size": size,
        "text": {
            "string": "{node}",
            "size": 9,
            "color": "white",
            "anchor": "upper_left",
            "visible": show_names,
        },
    }
    return style


def empty_features(skeleton: Skeleton, tracks: list[str], n: int = 0):
    import pandas as pd

    return pd.DataFrame(
        {
            "node": pd.Categorical([skeleton.nodes[0]] * n, categories=skeleton.nodes),
            "animal": pd.Categorical([tracks[0]] * n, categories=tracks),
            "status": pd.Categorical(["user"] * n, categories=STATUSES),
            "confidence": np.full(n, np.nan),
        }
    )


# -- pose points --------------------------------------------------------------------------


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
    node = _codes(features["node"][keep], skeleton.nodes)
    animal = _codes(features["animal"][keep], tracks)
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


def _codes(column, categories: list[str]) -> np.ndarray:
    """Integer index of each value in ``categories`` (values outside are a bug upstream)."""
    values = np.asarray(column.astype(str))
    lookup = {c: i for i, c in enumerate(categories)}
    try:
        return np.array([lookup[v] for v in values], dtype=np.int64)
    except KeyError as e:
        raise ValueError(f"point label {e.args[0]!r} is not one of {categories}") from None


def pose_metadata(layer_metadata: dict) -> tuple[Skeleton, list[str]]:
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
    """A Points layer of a person's labels and predictions; an animal-frame a person labelled
    hides the prediction for it."""
    import pandas as pd

    ref = user if user is not None else predicted
    skeleton, tracks = ref.skeleton, list(ref.tracks)
    parts = []
    if user is not None:
        parts.append(poses_to_points(user, "user"))
    if predicted is not None and len(predicted.frames):
        predicted = _align_tracks(predicted, tracks)
        if user is not None and len(user.frames):
            placed = np.isfinite(user.points).all(axis=-1).any(axis=-1)  # (N_user, A)
            row = np.searchsorted(user.frames, predicted.frames)
            found = (row < len(user.frames)) & (
                user.frames[np.minimum(row, len(user.frames) - 1)] == predicted.frames
            )
            hidden = np.zeros((len(predicted.frames), len(tracks)), dtype=bool)
            hidden[found] = placed[row[found]]
            points = predicted.points.copy()
            points[hidden] = np.nan
            predicted = Poses(predicted.frames, points, predicted.scores, tracks, skeleton)
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


def _align_tracks(poses: Poses, tracks: list[str]) -> Poses:
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
    animal = _codes(features["animal"], tracks)
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
    tracks = _merged_tracks(user.tracks, predicted.tracks)
    if not tracks:
        tracks = default_tracks(1)
    user, predicted = _align_tracks(user, tracks), _align_tracks(predicted, tracks)
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


def _merged_tracks(*lists: list[str]) -> list[str]:
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


# -- edges --------------------------------------------------------------------------------


def edge_vectors(data, features, skeleton: Skeleton, tracks: list[str], frame: int | None = None):
    """Skeleton edges as napari vectors ``(E, 2, 3)`` (start, offset) and their body-part colours.

    Only edges whose two ends are placed are drawn. ``frame`` limits them to one
    frame (what the labeling view needs on every drag).
    """
    data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    if frame is not None and len(data):
        sel = np.rint(data[:, 0]) == frame
        data, features = data[sel], features[sel]
    if not len(data) or not skeleton.edges:
        return np.zeros((0, 2, 3)), np.zeros((0, 4))
    node = _codes(features["node"], skeleton.nodes)
    animal = _codes(features["animal"], tracks)
    f = np.rint(data[:, 0]).astype(np.int64)
    # key of each point: (frame, animal, node); later points win (what a drag just set)
    k = len(skeleton)
    key = (f * len(tracks) + animal) * k + node
    order = np.argsort(key, kind="stable")
    uniq_rev, idx_rev = np.unique(key[order][::-1], return_index=True)
    last = order[::-1][idx_rev]
    lookup_keys, lookup_idx = uniq_rev, last
    instance = (f * len(tracks) + animal)[lookup_idx]
    inst_ids = np.unique(instance)
    src = np.array([e[0] for e in skeleton.edges])
    dst = np.array([e[1] for e in skeleton.edges])
    ka = (inst_ids[:, None] * k + src[None]).ravel()
    kb = (inst_ids[:, None] * k + dst[None]).ravel()
    pa = np.searchsorted(lookup_keys, ka)
    pb = np.searchsorted(lookup_keys, kb)
    pa_ok = (pa < len(lookup_keys)) & (lookup_keys[np.minimum(pa, len(lookup_keys) - 1)] == ka)
    pb_ok = (pb < len(lookup_keys)) & (lookup_keys[np.minimum(pb, len(lookup_keys) - 1)] == kb)
    ok = pa_ok & pb_ok
    a_pts = data[lookup_idx[pa[ok]]]
    b_pts = data[lookup_idx[pb[ok]]]
    vectors = np.stack([a_pts, b_pts - a_pts], axis=1)
    vectors[:, 1, 0] = 0.0
    colors_by_node = node_colors(skeleton.nodes)
    edge_dst = np.tile(dst, len(inst_ids))[ok]
    colors = np.array([colors_by_node[skeleton.nodes[d]] for d in edge_dst]).reshape(-1, 4)
    return vectors, colors


def edges_layer_data(data, features, metadata: dict, *, name: str = "edges") -> LayerData:
    """A Vectors layer drawing the skeleton of every placed instance."""
    skeleton, tracks = pose_metadata(metadata)
    vectors, colors = edge_vectors(data, features, skeleton, tracks)
    kwargs = {
        "name": name,
        "edge_width": 1.5,
        "vector_style": "line",
        "length": 1.0,
        "edge_color": colors if len(colors) else "white",
        "opacity": 0.8,
        "metadata": {"edges_of": metadata.get("name")},
    }
    return vectors, kwargs, "vectors"


# -- tracks -------------------------------------------------------------------------------


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


# -- videos -------------------------------------------------------------------------------


def video_layer_data(
    video, *, name: str | None = None, path: str | Path | None = None
) -> LayerData:
    """An Image layer over a lazy video ``(frames, H, W, C)``; grey videos drop the channel axis."""
    rgb = video.shape[-1] == 3
    data = video if rgb else video[..., 0]
    kwargs = {
        "name": name or (Path(path).stem if path else "video"),
        "rgb": rgb,
        "contrast_limits": [0, 255],
    }
    if path is not None:
        kwargs["metadata"] = {"video_path": str(Path(path).resolve())}
    return data, kwargs, "image"


def layer_video_path(layer) -> Path | None:
    """The video file an Image layer shows, whichever reader opened it.

    napari-leap's reader records it in ``metadata['video_path']``; napari's own
    readers (what File > Open offers first) leave only the layer's public
    ``source.path``.
    """
    if getattr(layer, "_type_string", "") != "image":
        return None
    stored = (getattr(layer, "metadata", None) or {}).get("video_path")
    if stored:
        return Path(stored)
    path = getattr(getattr(layer, "source", None), "path", None)
    if path and getattr(layer, "ndim", 0) >= 3 and Path(path).exists():
        return Path(path).resolve()
    return None


# -- alignment boxes ----------------------------------------------------------------------


def box_affine(alignment, frame: int, animal: int) -> np.ndarray:
    """napari affine ``(4, 4)`` on ``(frame, y, x)`` that maps video points into a box.

    ``Alignment.affine`` is 2x3 on ``x, y``; napari orders axes ``y, x``, so the
    matrix is permuted. Setting it on the pose layer shows video-coordinate points
    over the box image, and napari maps clicks on the box back to video pixels.
    """
    a = np.asarray(alignment.affine(frame, animal), dtype=np.float64)
    m = np.eye(4)
    m[1, 1], m[1, 2], m[1, 3] = a[1, 1], a[1, 0], a[1, 2]
    m[2, 1], m[2, 2], m[2, 3] = a[0, 1], a[0, 0], a[0, 2]
    return m


# -- skeleton edits on a live layer ------------------------------------------------------


def pose_layer_skeleton(layer) -> Skeleton:
    return Skeleton.from_dict(layer.metadata["skeleton"])


def points_of_nodes(layer, nodes: list[str]) -> np.ndarray:
    """Indices of the layer's points that belong to any of ``nodes``."""
    if not len(layer.data):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.asarray(layer.features["node"].astype(str).isin(nodes)))


def apply_skeleton(layer, skeleton: Skeleton, renames: dict[str, str] | None = None) -> int:
    """Give a pose layer a new skeleton, keeping its points: renamed body parts follow
    ``renames`` (old -> new), parts the new skeleton lacks lose their points.

    Returns how many points were removed. Colours stay tied to body-part order.
    """
    import pandas as pd

    renames = dict(renames or {})
    names = (
        layer.features["node"].astype(str).map(lambda n: renames.get(n, n))
        if len(layer.data)
        else pd.Series([], dtype=str)
    )
    gone = np.flatnonzero(~np.asarray(names.isin(skeleton.nodes))) if len(layer.data) else []
    removed = len(gone)
    features = layer.features.copy()
    features["node"] = pd.Categorical(np.asarray(names), categories=skeleton.nodes)
    # listeners see one consistent state: points, features and skeleton all changed at once
    with layer.events.data.blocker(), layer.events.features.blocker():
        layer.metadata = {**layer.metadata, "skeleton": skeleton.to_dict()}
        if removed:
            keep = np.setdiff1d(np.arange(len(layer.data)), gone)
            symbols = np.asarray(layer.symbol)[keep] if np.ndim(layer.symbol) else layer.symbol
            layer.data = np.asarray(layer.data)[keep]
            layer.features = features.iloc[keep].reset_index(drop=True)
            if np.ndim(symbols):
                layer.symbol = symbols
        else:
            layer.features = features
        defaults = layer.feature_defaults.copy()
        if str(defaults["node"].iloc[0]) not in skeleton.nodes:
            defaults["node"] = skeleton.nodes[0]
        defaults["node"] = pd.Categorical(
            [str(defaults["node"].iloc[0])], categories=skeleton.nodes
        )
        layer.feature_defaults = defaults
        layer.face_color_cycle = {"colormap": node_colors(skeleton.nodes)}
        layer.refresh_colors(update_color_mapping=True)
    layer.events.features()
    layer.events.data(value=layer.data, action="changed", data_indices=(), vertex_indices=((),))
    return removed


# -- predictions (issue 6: the Predict widget) --------------------------------------------
# Mirrors movement's napari layers: Points ``(frame, y, x)`` with one feature per
# animal/body part/confidence (movement: individual/keypoint/confidence), and one
# Tracks row ``(track_id, frame, y, x)`` per animal and body part.


def prediction_points_layer_data(
    poses: Poses, *, name: str = "predictions", video: str | Path | None = None
) -> LayerData:
    """A Points layer of predictions (status ``predicted``), coloured by body part."""
    data, kwargs, kind = points_layer_data(None, poses, name=name, video=video)
    kwargs["border_color"] = "transparent"
    kwargs["size"] = 6.0
    return data, kwargs, kind


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


def node_colormap(nodes: list[str]):
    """A napari colormap giving body part ``k`` of ``K`` its palette colour at ``k / (K - 1)``."""
    from napari.utils.colormaps import Colormap

    colors = np.array([node_colors(nodes)[n] for n in nodes])
    if len(nodes) == 1:
        colors = np.repeat(colors, 2, axis=0)
    return Colormap(colors=colors, controls=np.linspace(0, 1, len(colors)), name="leap-nodes")


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


# -- alignment preview and boxes (owned by the align widget) --------------------------------


def oriented_boxes(centers, headings, box_size: float):
    """Outlines and heading arrows of boxes in video coordinates, as napari data.

    ``centers`` ``(n, 2)`` x, y and ``headings`` ``(n,)`` radians (atan2(dy, dx)) give,
    in napari order: ``(n, 4, 2)`` polygon corners ``y, x`` (the box's top edge is in
    front of the animal) and ``(n, 2, 2)`` vectors ``[[y, x], [dy, dx]]`` from the
    centre towards the head, 0.4 box long. Rows with NaN are left out.
    """
    c = np.asarray(centers, float).reshape(-1, 2)
    h = np.asarray(headings, float).reshape(-1)
    ok = np.all(np.isfinite(c), axis=1) & np.isfinite(h)
    c, h = c[ok], h[ok]
    u = np.stack([np.cos(h), np.sin(h)], -1)  # forward, x y
    v = np.stack([-np.sin(h), np.cos(h)], -1)  # sideways
    r = box_size / 2.0
    corners = np.stack(
        [c + r * (s * u + t * v) for s, t in ((1, -1), (1, 1), (-1, 1), (-1, -1))], 1
    )
    vectors = np.stack([c, 0.4 * box_size * u], 1)
    return corners[..., ::-1].copy(), vectors[..., ::-1].copy()


def alignment_boxes_layer_data(
    alignment, *, name: str = "aligned boxes", video_width: int | None = None, gap: int = 16
) -> LayerData:
    """An Image layer of every animal's box, lazily warped from the video.

    Data ``(frames, box, animals * box[, 3])``: the animals side by side. It stays 3-D
    like the video layer, so both share the frame slider (napari aligns trailing
    axes: a 4-D ``(frames, animals, box, box)`` layer would put its animal axis
    against the video's frame axis). Placed right of the video (``video_width``).
    Metadata: ``alignment`` (the :class:`~napari_leap.align.alignment.Alignment`),
    ``box_size``, ``n_animals`` and ``layout``.
    """
    boxes = alignment.boxes  # (frames, animals, box, box, channels), one frame per chunk
    f, a, b, _, ch = boxes.shape
    tiled = boxes.transpose(0, 2, 1, 3, 4).reshape(f, b, a * b, ch)
    rgb = ch == 3
    data = tiled if rgb else tiled[..., 0]
    width = video_width if video_width is not None else (alignment.frame_shape or (0, 0))[1]
    kwargs = {
        "name": name,
        "rgb": rgb,
        "contrast_limits": [0, 255],
        "translate": (0, 0, int(width) + gap),
        "metadata": {
            "alignment": alignment,
            "box_size": b,
            "n_animals": a,
            "layout": "frame, y, animal * box_size + x",
        },
    }
    return data, kwargs, "image"
