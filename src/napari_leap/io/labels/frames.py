"""Labelled frames saved as images, for tools that train on pictures (DeepLabCut)."""

from __future__ import annotations

from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.io.atomic import atomic_write_bytes


def write_frames(path, frames, folder: Path, width: int, progress=None) -> None:
    """Save each labelled frame as a PNG named by its frame number (lossless, like DLC)."""
    import cv2

    from napari_leap.io.video import video_source

    source = video_source(path)
    for f in sorted(int(f) for f in frames):
        image = source.read(f)
        image = image[..., 0] if image.shape[-1] == 1 else image[..., ::-1]
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise LeapError(f"frame {f} could not be encoded as PNG.")
        atomic_write_bytes(folder / f"img{f:0{width}d}.png", buf.tobytes())
        if progress is not None:
            progress(f)
