"""SLEAP files and the bridge to sleap-io: labels to arrays and back.

Labels on disk are always in video coordinates. The core computes on
:class:`~napari_leap.model.poses.Poses` (plain arrays per video);
:func:`poses_from_labels` and :func:`labels_from_poses` convert, so training,
prediction and evaluation never walk sleap-io objects point by point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.atomic import atomic_path
from napari_leap.io.video import same_video
from napari_leap.model.labeling import person_animals
from napari_leap.model.poses import Poses, default_tracks
from napari_leap.model.skeleton import Skeleton


class LabelsError(LeapError):
    """A labels file that cannot be read or written as asked."""


def read_sleap(path: Path, fmt: str | None = None):
    """Labels from any file sleap-io reads (SLEAP, LEAP .mat, NWB, COCO, analysis HDF5, CSV).

    ``fmt`` is sleap-io's format name (None: from the extension).
    """
    import sleap_io as sio

    try:
        if fmt == "leap":
            labels = sio.load_leap(str(path))
        elif fmt == "csv":
            labels = sio.load_csv(str(path))
        elif fmt == "slp":  # by name: load_file would take a file without extension for a video
            labels = sio.load_slp(str(path))
        else:
            labels = sio.load_file(str(path), format=fmt)
    except LeapError:
        raise
    except Exception as e:  # noqa: BLE001 - readers raise many kinds for a foreign file
        raise LabelsError(
            f"{path.name} cannot be read as pose labels ({type(e).__name__}: {e}); "
            "napari-leap reads SLEAP .slp, DeepLabCut CSV/H5, LEAP .mat, NWB and COCO files."
        ) from None
    if not hasattr(labels, "labeled_frames"):
        raise LabelsError(f"{path.name} holds a video, not pose labels.")
    return labels


def write_sleap(labels, path: Path, fmt: str, **kwargs) -> Path:
    """Write through sleap-io, atomically (the temporary file keeps the suffix it picks by)."""
    import sleap_io as sio

    if fmt == "csv":
        kwargs.setdefault("csv_format", "dlc")
    if fmt == "slp":
        kwargs.setdefault("verbose", False)
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + path.suffix)
        try:
            sio.save_file(labels, str(named), format=fmt, **kwargs)
            named.replace(tmp)
        except (ValueError, IndexError, KeyError) as e:  # sleap-io refusing this content
            raise LabelsError(
                f"{path.name} cannot be written as {fmt} ({e}); save as .slp, which holds any labels."
            ) from None
        finally:
            named.unlink(missing_ok=True)
    return path


def skeleton_to_sleap(skeleton: Skeleton):
    """The ``sleap_io.Skeleton`` of a skeleton (parts, edges and left/right pairs)."""
    import sleap_io as sio

    nodes = [sio.Node(n) for n in skeleton.nodes]
    edges = [sio.Edge(nodes[a], nodes[b]) for a, b in skeleton.edges]
    symmetries = [sio.Symmetry({nodes[a], nodes[b]}) for a, b in skeleton.symmetries]
    return sio.Skeleton(nodes=nodes, edges=edges, symmetries=symmetries, name=skeleton.name)


def skeleton_from_sleap(skeleton) -> Skeleton:
    """A :class:`Skeleton` from a ``sleap_io.Skeleton``."""
    names = list(skeleton.node_names)
    edges = [(names.index(e.source.name), names.index(e.destination.name)) for e in skeleton.edges]
    symmetries = []
    for s in skeleton.symmetries:
        a, b = (n.name for n in s.nodes)
        symmetries.append((names.index(a), names.index(b)))
    return Skeleton(
        nodes=names, edges=edges, symmetries=symmetries, name=skeleton.name or "skeleton"
    )


def video_index(labels, path: str | Path) -> int | None:
    """Index in ``labels.videos`` of the video stored for file ``path`` (None: not there)."""
    for i, video in enumerate(labels.videos):
        if isinstance(video.filename, str) and same_video(video.filename, path):
            return i
    return None


def poses_from_labels(labels, video=0, *, user: bool = True, predicted: bool = True) -> Poses:
    """Arrays of the labelled frames of one video; animals by track, untracked ones after them.

    A frame with both a person's instance and a prediction for the same track
    keeps the person's (what a proofreader meant).
    """
    if isinstance(video, int) and not 0 <= video < max(len(labels.videos), 1):
        raise LabelsError(
            f"the labels have {len(labels.videos)} video(s); there is no video {video}."
        )
    video_obj = (
        (labels.videos[video] if labels.videos else None) if isinstance(video, int) else video
    )
    skeleton = labels.skeletons[0]
    node_names = list(skeleton.node_names)
    frames = sorted(
        (lf for lf in labels.labeled_frames if lf.video is video_obj),
        key=lambda lf: lf.frame_idx,
    )
    tracks = [t.name for t in labels.tracks]
    per_frame = []
    max_untracked = 0
    for lf in frames:
        chosen: tuple[dict, dict] = ({}, {})  # by track: a person's, predicted
        untracked = []
        for inst in lf.instances:
            is_user = not hasattr(inst, "score")
            if (is_user and not user) or (not is_user and not predicted):
                continue
            pts = _instance_points(inst, node_names)
            if np.isnan(pts).all():
                continue
            scores = (
                np.full(len(node_names), np.nan) if is_user else _instance_scores(inst, node_names)
            )
            if inst.track is not None and inst.track.name in tracks:
                chosen[0 if is_user else 1][tracks.index(inst.track.name)] = (pts, scores)
            else:
                untracked.append((pts, scores))
        max_untracked = max(max_untracked, len(untracked))
        per_frame.append((lf.frame_idx, chosen, untracked))
    per_frame = [f for f in per_frame if f[1][0] or f[1][1] or f[2]]
    n_animals = len(tracks) + max_untracked
    n = len(per_frame)
    points = np.full((2, n, n_animals, len(node_names), 2), np.nan)  # a person's, predicted
    scores = np.full((2, n, n_animals, len(node_names)), np.nan)
    for i, (_, chosen, untracked) in enumerate(per_frame):
        for kind in (0, 1):
            for a, (p, s) in chosen[kind].items():
                points[kind, i, a], scores[kind, i, a] = p, s
        for j, (p, s) in enumerate(untracked):
            points[1, i, len(tracks) + j], scores[1, i, len(tracks) + j] = p, s
    person = person_animals(points[0])  # their instance hides the prediction of its track
    points = np.where(person[..., None, None], points[0], points[1])
    scores = np.where(person[..., None], scores[0], scores[1])
    names = tracks + default_tracks(max_untracked)
    return Poses(
        frames=np.array([f[0] for f in per_frame], dtype=np.int64),
        points=points,
        scores=scores,
        tracks=names,
        skeleton=skeleton_from_sleap(skeleton),
    )


def _instance_points(inst, node_names: list[str]) -> np.ndarray:
    own = list(inst.skeleton.node_names)
    pts = np.asarray(inst.numpy(), dtype=np.float64)[:, :2]
    if own == node_names:
        return pts.copy()
    out = np.full((len(node_names), 2), np.nan)
    for j, name in enumerate(node_names):
        if name in own:
            out[j] = pts[own.index(name)]
    return out


def _instance_scores(inst, node_names: list[str]) -> np.ndarray:
    own = list(inst.skeleton.node_names)
    s = np.asarray(inst.numpy(scores=True), dtype=np.float64)[:, 2]
    if own == node_names:
        return s.copy()
    return np.array([s[own.index(n)] if n in own else np.nan for n in node_names])


def labels_from_poses(poses: Poses | list[Poses], videos, *, predicted: bool, labels=None):
    """Build (or extend) ``sleap_io.Labels`` from arrays; one :class:`Poses` per video.

    ``videos`` are ``sleap_io.Video`` objects or paths. NaN points become
    invisible; animals with no visible point on a frame are left out.
    """
    import sleap_io as sio

    poses_list = [poses] if isinstance(poses, Poses) else list(poses)
    videos = [videos] if not isinstance(videos, (list, tuple)) else list(videos)
    if len(videos) != len(poses_list):
        raise ValueError("one video per Poses is needed")
    skeleton = poses_list[0].skeleton
    if labels is None:
        labels = sio.Labels(skeletons=[skeleton_to_sleap(skeleton)])
    sk = labels.skeletons[0]
    track_by_name = {t.name: t for t in labels.tracks}
    for p, video in zip(poses_list, videos, strict=True):
        if isinstance(video, (str, Path)):
            video = sio.Video(filename=str(video), open_backend=False)
        if video not in labels.videos:
            labels.videos.append(video)
        for name in p.tracks:
            if name not in track_by_name:
                track_by_name[name] = sio.Track(name=name)
                labels.tracks.append(track_by_name[name])
        for i, frame in enumerate(p.frames):
            instances = []
            for a, name in enumerate(p.tracks):
                if not np.isnan(p.points[i, a]).all():
                    instances.append(_instance(p, i, a, sk, track_by_name[name], predicted))
            if instances:
                labels.append(
                    sio.LabeledFrame(video=video, frame_idx=int(frame), instances=instances),
                    update=False,
                )
    return labels


def _instance(poses: Poses, i: int, a: int, skeleton, track, predicted: bool):
    """Animal ``a`` of row ``i`` as a sleap-io instance (a prediction keeps its scores)."""
    import sleap_io as sio

    pts = poses.points[i, a]
    if not predicted:
        return sio.Instance.from_numpy(pts, skeleton=skeleton, track=track)
    scores = poses.scores[i, a]
    return sio.PredictedInstance.from_numpy(
        points_data=pts,
        point_scores=np.nan_to_num(scores, nan=0.0),
        score=float(np.nanmean(scores)) if np.isfinite(scores).any() else 0.0,
        skeleton=skeleton,
        track=track,
    )
