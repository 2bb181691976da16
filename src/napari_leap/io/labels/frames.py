"""Labelled frames saved as images, for tools that train on pictures (DeepLabCut, COCO)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.atomic import atomic_path, atomic_write_bytes


def write_frames(video, frames, folder: Path, names: list[str], progress=None) -> None:
    """Save each labelled frame in ``folder`` as ``names`` say.

    ``video``: a ``sleap_io.Video`` or the path of a video or a folder of images. A
    video's frames are decoded and saved as PNG (lossless, like DLC), the images of a
    ``.pkg.slp`` too; images of a folder or list are copied as they are (their own size
    and format), and an image already where it is to go is left alone.
    """
    from napari_leap.io.video import image_files

    path = getattr(video, "filename", video)
    files = image_files(path)
    read = None if files is not None else _frame_reader(video)
    for f, name in sorted(zip((int(f) for f in frames), names, strict=True)):
        target = Path(folder) / name
        if files is not None:
            if not (target.exists() and target.samefile(files[f])):
                with atomic_path(target) as tmp:
                    shutil.copyfile(files[f], tmp)
        elif read is not None:
            atomic_write_bytes(target, _png(read(f), f))
        if progress is not None:
            progress(f)


def _frame_reader(video):
    """Frame ``f`` (H, W, C) uint8 of a video file, or of images a labels file embeds."""
    from napari_leap.io.video import video_source
    from napari_leap.io.video.labels_frames import LabelsVideoSource, is_embedded

    if hasattr(video, "backend_metadata") and is_embedded(video):
        return LabelsVideoSource(video).read
    return video_source(str(getattr(video, "filename", video))).read


def _png(image: np.ndarray, frame: int) -> bytes:
    import cv2

    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    image = image[..., ::-1] if image.ndim == 3 else image  # RGB -> OpenCV's BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise LeapError(f"frame {frame} could not be encoded as PNG.")
    return buf.tobytes()
