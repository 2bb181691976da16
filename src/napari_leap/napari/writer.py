"""napari writer: a pose Points layer saved as a SLEAP .slp or a DeepLabCut CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.model.poses import default_tracks
from napari_leap.napari import layers


def _skeleton_metadata(data, attributes: dict) -> dict:
    """The layer's pose metadata; a Points layer with only ``node`` features gets a bare skeleton."""
    metadata = dict(attributes.get("metadata") or {})
    features = attributes.get("features")
    if "skeleton" in metadata and "tracks" in metadata:
        return metadata
    if features is None or "node" not in features:
        raise LeapError(
            "this Points layer has no body-part labels (feature 'node'); label it "
            "with the Label widget or open a labels file, then save."
        )
    nodes = list(dict.fromkeys(features["node"].astype(str)))
    tracks = (
        list(dict.fromkeys(features["animal"].astype(str)))
        if "animal" in features
        else default_tracks(1)
    )
    metadata.setdefault("skeleton", {"nodes": nodes, "edges": [], "symmetries": []})
    metadata.setdefault("tracks", tracks)
    metadata.setdefault("tracked", "animal" in features)
    return metadata


def _complete_features(features, metadata: dict, n: int):
    import pandas as pd

    features = pd.DataFrame(features).copy()
    if "animal" not in features:
        features["animal"] = metadata["tracks"][0]
    if "status" not in features:
        features["status"] = "user"
    if "confidence" not in features:
        features["confidence"] = np.nan
    if len(features) != n:
        raise LeapError("the layer's points and features differ in length; re-open the labels.")
    return features


def write_points(path: str, data, attributes: dict) -> list[str]:
    """Write exactly the layer's points with its skeleton; ``.slp`` keeps predictions as such."""
    from napari_leap.io.labels import save_labels

    path = Path(path)
    data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    metadata = _skeleton_metadata(data, attributes)
    features = _complete_features(attributes.get("features"), metadata, len(data))
    suffix = path.suffix.lower()
    if suffix == ".slp":
        from napari_leap.io.video.labels_frames import is_embedded
        from napari_leap.napari.labels_io import own_video

        video = own_video(metadata)  # a package's images go into the file, not "unknown.mp4"
        labels = layers.layer_to_labels(data, features, metadata, video=video)
        embed = {"embed": True} if video is not None and is_embedded(video) else {}
        save_labels(labels, path, **embed)
        return [str(path)]
    if suffix == ".csv":
        from napari_leap.io.labels.dlc import frame_image_names, write_dlc_csv
        from napari_leap.io.labels.frames import write_frames

        skeleton, tracks = layers.pose_metadata(metadata)
        poses = layers.points_to_poses(data, features, skeleton, tracks)
        video = metadata.get("video")
        n_frames = None
        if video and Path(video).exists():
            from napari_leap.io.video import video_source

            n_frames = video_source(video).shape[0]
        name = Path(video).stem if video else path.parent.name
        write_dlc_csv(
            poses,
            path,
            video_name=name,
            scorer=_scorer(path),
            tracked=bool(metadata.get("tracked", True)),
            n_frames=n_frames,
            video_path=video,
        )
        if n_frames is not None and len(poses.frames):
            names = frame_image_names(video, poses.frames, n_frames)
            write_frames(video, poses.frames, path.parent, names)
        elif len(poses.frames) and (package := _package_video(metadata)) is not None:
            names = frame_image_names(None, poses.frames)  # as the rows name them
            write_frames(package, poses.frames, path.parent, names)
        return [str(path)]
    raise LeapError(
        f"pose points are saved as .slp or .csv (DeepLabCut), not {suffix or 'no suffix'}."
    )


def _package_video(metadata: dict):
    """The video of the ``.pkg.slp`` a layer was read from, whose images it embeds; else None."""
    from napari_leap.io.video.labels_frames import is_embedded
    from napari_leap.napari.labels_io import own_video

    video = own_video(metadata)
    return video if video is not None and is_embedded(video) else None


def _scorer(path: Path) -> str:
    stem = path.stem
    return stem.split("_", 1)[1] if stem.startswith("CollectedData_") else "napari-leap"
