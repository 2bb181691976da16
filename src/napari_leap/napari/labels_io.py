"""Labels files as napari layers: what the reader returns for .slp, DLC, LEAP .mat and NWB."""

from __future__ import annotations

from pathlib import Path

from napari_leap.napari import layers


def find_video(filename, labels_path: Path) -> Path | None:
    """The labels' video on this machine: its stored path, or a file of that name beside the labels."""
    if not isinstance(filename, (str, Path)):
        return None
    stored = Path(str(filename))
    candidates = [
        stored,
        labels_path.parent / stored,
        labels_path.parent / stored.name,
        labels_path.parent / Path(str(filename).replace("\\", "/")).name,
    ]
    for c in candidates:
        try:
            if c.exists():
                return c.resolve()
        except OSError:
            continue
    return None


def read_labels(path: str | Path) -> list[layers.LayerData]:
    """Video (when found), skeleton edges and a pose Points layer for each video of a labels file.

    Points are in video coordinates ``(frame, y, x)``; ``layer.metadata['skeleton']``
    carries the skeleton, so saving the layer writes the same file back. With several
    videos the first one's layers are shown, on top, and the others' listed hidden below:
    shown together, their frames and points would cover each other.
    """
    from napari_leap.io.labels import load_labels
    from napari_leap.io.video import VideoError, open_video

    path = Path(path)
    labels = load_labels(path)
    out: list[layers.LayerData] = []
    for vi, video in enumerate(labels.videos):
        if not any(lf.video is video for lf in labels.labeled_frames):
            continue
        group: list[layers.LayerData] = []
        video_path = find_video(video.filename, path)
        stem = f"{path.parent.name if path.suffix in ('.yaml', '.yml') else path.stem} labels"
        name = stem if len(labels.videos) == 1 else f"{stem} [{vi}]"
        if video_path is not None:
            try:
                group.append(layers.video_layer_data(open_video(video_path), path=video_path))
            except VideoError:
                video_path = None  # labels still open; the notification would hide them
        if video_path is None:
            group.extend(_own_frames_layer(video, path, name))
        points = layers.labels_to_layer_data(labels, vi, name=name, video_path=video_path)
        points[1]["metadata"].update(source=str(path.resolve()), source_video=vi)
        edges = layers.edges_layer_data(
            points[0],
            points[1]["features"],
            {**points[1]["metadata"], "name": name},
            name=f"{name} edges",
        )
        group.extend([edges, points])
        if out:  # several videos (a DeepLabCut project's folders): the first shown, on top
            for _, kwargs, _ in group:  # and active (napari makes the last added active)
                kwargs["visible"] = False
            out[:0] = group
        else:
            out.extend(group)
    if not out:
        from napari_leap.io.labels import LabelsError

        raise LabelsError(f"{path.name} has no labelled frames.")
    return out


def _own_frames_layer(video, path: Path, name: str) -> list[layers.LayerData]:
    """An Image layer of the frames the labels keep themselves (a package, a COCO set).

    Its metadata names the labels file, so the Predict dock predicts the frames it holds
    rather than the black frames between them.
    """
    from napari_leap.io.video import as_dask
    from napari_leap.io.video.labels_frames import labels_frames_source

    source = labels_frames_source(video)
    if source is None:
        return []
    data, kwargs, kind = layers.video_layer_data(as_dask(source), name=f"{name} frames")
    kwargs["metadata"] = {"labels_frames": str(path.resolve())}
    return [(data, kwargs, kind)]


def own_video(metadata: dict):
    """The video of the labels file a layer was read from, where the file keeps its frames.

    A package's embedded images or a COCO set's files (``sleap_io.Video``); else None.
    A layer of such a file has no video path: saving or training from it goes through
    this video, or its points would be written against none.
    """
    from napari_leap.io.labels import load_labels
    from napari_leap.io.video.labels_frames import keeps_own_frames

    source, index = metadata.get("source"), metadata.get("source_video")
    if metadata.get("video") or not source or index is None or not Path(source).is_file():
        return None
    videos = load_labels(source).videos
    if not 0 <= int(index) < len(videos):
        return None
    video = videos[int(index)]
    return video if keeps_own_frames(video) else None
