"""Labelled frames saved as images, for tools that train on pictures (DeepLabCut)."""

from __future__ import annotations

import shutil
from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.io.atomic import atomic_path, atomic_write_bytes


def write_frames(path, frames, folder: Path, names: list[str], progress=None) -> None:
    """Save each labelled frame in ``folder`` as ``names`` say.

    A video's frames are decoded and saved as PNG (lossless, like DLC); images of a
    folder or list are copied as they are (their own size and format), and an image
    already where it is to go is left alone.
    """
    import cv2

    from napari_leap.io.video import image_files, video_source

    files = image_files(path)
    source = video_source(path) if files is None else None
    for f, name in sorted(zip((int(f) for f in frames), names, strict=True)):
        target = Path(folder) / name
        if files is not None:
            if not (target.exists() and target.samefile(files[f])):
                with atomic_path(target) as tmp:
                    shutil.copyfile(files[f], tmp)
        elif source is not None:
            image = source.read(f)
            image = image[..., 0] if image.shape[-1] == 1 else image[..., ::-1]
            ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise LeapError(f"frame {f} could not be encoded as PNG.")
            atomic_write_bytes(target, buf.tobytes())
        if progress is not None:
            progress(f)
