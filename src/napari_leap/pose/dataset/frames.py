"""Reading the labelled frames: from the video file (frame-exact) or the labels' own images."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def missing_video(video) -> Path | None:
    """The path of a video file the labels read frames from that is not there (else None)."""
    from napari_leap.io.video import source_of

    name = getattr(video, "filename", None)
    if not isinstance(name, (str, Path)) or source_of(video) is not None:
        return None
    path = Path(name)
    meta = getattr(video, "backend_metadata", None) or {}
    embedded = meta.get("has_embedded_images") or path.suffix.lower() in (".slp", ".pkg")
    return None if embedded or path.exists() else path


def frame_shape(video) -> tuple[int, ...]:
    """(h, w, c) of the video's frames (decoding one where the video does not say)."""
    shape = getattr(video, "shape", None)
    if shape is not None:
        return tuple(int(s) for s in shape[1:])
    return tuple(read_frames(video, [0])[0].shape)


def video_path(video) -> Path | None:
    """Path of a plain video file (frame-exact reader); None for embedded images."""
    from napari_leap.io.video import source_of

    name = getattr(video, "filename", video)
    if isinstance(name, (list, tuple)) or source_of(video) is not None:
        return None
    p = Path(str(name))
    backend = type(getattr(video, "backend", None)).__name__
    if not p.exists() or p.suffix.lower() in (".slp", ".pkg") or "HDF5" in backend:
        return None
    return p


def read_frames(video, frames, stack: bool = True):
    """Frames (N, H, W, C); with ``stack=False`` a list, for images of several sizes.

    DeepLabCut's ``labeled-data/`` folders mix crops of a rig's cameras.
    """
    path = video_path(video)
    if path is not None:
        from napari_leap.io.video import video_source

        src = video_source(path)
        out = [src.read(int(i)) for i in frames]
    else:  # sleap-io's images keep their type: 16-bit ones as predict converts them
        from napari_leap.io.video.sources import to_uint8

        out = [np.asarray(video[int(i)]) for i in frames]
        out = [f if f.dtype == np.uint8 else to_uint8(f) for f in out]
    out = [f[..., None] if f.ndim == 2 else f for f in out]
    return np.stack(out) if stack else out


def labelled_frame_shapes(poses, video) -> np.ndarray:
    """(h, w, c) of each labelled frame: a video file has one shape, images may have several.

    The images of a ``.pkg.slp`` or a DeepLabCut folder come from a rig's cameras, and the
    shape their video reports is only its first image's.
    """
    if video_path(video) is not None:
        return np.tile(frame_shape(video), (len(poses.frames), 1))
    shapes = [f.shape for f in read_frames(video, poses.frames, stack=False)]
    return np.array(shapes, dtype=np.int64).reshape(-1, 3)


def frame_name(video, frame) -> str:
    """A frame as the user knows it: its image's name where the video is a list of images."""
    names = getattr(video, "filename", None)
    if isinstance(names, (list, tuple)) and 0 <= int(frame) < len(names):
        return f"image {Path(str(names[int(frame)])).name}"
    return f"frame {int(frame)}"
