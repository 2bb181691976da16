"""COCO keypoints: labels together with the images they are on.

COCO names images, not videos, and tools that train from it (MMPose, Detectron2,
Ultralytics' converters) open each ``file_name`` from the JSON's folder. sleap-io writes
``<video>_frame_<n>.png`` for a video's frames without writing the images, and 0 for
sizes it does not know, so its file on its own points at nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_leap.io.atomic import atomic_write_text
from napari_leap.io.labels.dlc_images import image_width, video_folder_name
from napari_leap.io.labels.frames import write_frames
from napari_leap.io.labels.sleap import write_sleap


def write_coco(labels, path: str | Path, progress=None) -> Path:
    """A COCO keypoints JSON whose every image exists, named from the JSON's folder.

    Images of a folder (DeepLabCut's labelled frames, a COCO set read in) are named
    where they are: from the JSON's folder when under it, else by their full path. The
    labelled frames of a video or of a ``.pkg.slp`` are saved as PNG in
    ``<json name>_images/<video>/img<frame>.png`` beside the JSON.
    """
    from napari_leap.io.video import image_files
    from napari_leap.io.video.folder import image_size

    path = Path(path)
    files_of: dict[tuple[int, int], Path] = {}
    taken: list[str] = []
    for index, video in enumerate(labels.videos):
        frames = sorted({lf.frame_idx for lf in labels.labeled_frames if lf.video is video})
        if not frames:
            continue
        listed = image_files(video.filename)
        if listed is not None:
            files = {f: listed[f] for f in frames}
        else:
            taken.append(video_folder_name(video, index, taken))
            folder = path.parent / f"{path.stem}_images" / taken[-1]
            width = image_width(max(frames) + 1)
            names = [f"img{f:0{width}d}.png" for f in frames]
            folder.mkdir(parents=True, exist_ok=True)
            write_frames(video, frames, folder, names, progress)
            files = {f: folder / n for f, n in zip(frames, names, strict=True)}
        for f in frames:
            files_of[id(video), f] = files[f]
    chosen = [files_of[id(lf.video), lf.frame_idx] for lf in labels.labeled_frames]
    names = [_name_from(path.parent, p) for p in chosen]
    write_sleap(labels, path, "coco", image_filenames=names)
    data = json.loads(path.read_text())
    for entry, image in zip(data["images"], chosen, strict=True):
        entry["height"], entry["width"] = (int(v) for v in image_size(image))
    atomic_write_text(path, json.dumps(data, indent=2))
    return path


def _name_from(folder: Path, image: Path) -> str:
    """The image's path from ``folder`` where it lies under it, else its absolute path."""
    image, folder = image.resolve(), folder.resolve()
    return (image.relative_to(folder) if image.is_relative_to(folder) else image).as_posix()


def is_coco_keypoints(path: str | Path) -> bool:
    """True for a COCO JSON with keypoint categories (not another tool's JSON)."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    categories = data.get("categories") if isinstance(data, dict) else None
    return (
        isinstance(categories, list)
        and "images" in data
        and any(isinstance(c, dict) and c.get("keypoints") for c in categories)
    )
