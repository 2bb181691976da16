"""Write every box of an alignment to a zarr array, streamed, appearing only when complete."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np

from napari_leap.align.alignment.options import AlignProgress
from napari_leap.align.alignment.readers import prefetch
from napari_leap.align.alignment.store import Alignment
from napari_leap.progress import run_to_end


def iter_write_boxes(
    alignment: Alignment, path: str | Path, batch: int = 16
) -> Generator[AlignProgress, None, Path]:
    """Generator form of :func:`write_boxes`; closing it leaves no partial output."""
    import zarr

    path = Path(path)
    a = alignment
    shape = (
        a.n_frames,
        a.n_animals,
        a.box_size,
        a.box_size,
        a.frame_shape[2] if a.frame_shape else a.video.shape[3],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    ok = False
    try:
        arr = zarr.create_array(
            store=str(tmp),
            shape=shape,
            chunks=(1, *shape[1:]),
            dtype="uint8",
            attributes={
                "box_size": a.box_size,
                "video": None if a.video_path is None else str(a.video_path),
                "axes": ["frame", "animal", "y", "x", "channel"],
            },
        )
        buf = np.zeros((batch, *shape[1:]), np.uint8)
        start = 0
        yield AlignProgress(0, a.n_frames, "boxes", "writing boxes")
        last = -1
        for i, frame in prefetch(a.video, range(a.n_frames), tolerate=True):
            # an undecodable frame gets black boxes (it is flagged "unreadable")
            buf[i - start] = 0 if isinstance(frame, Exception) else a.warp(frame, i)
            last = i
            if i - start == batch - 1 or i == a.n_frames - 1:
                arr[start : i + 1] = buf[: i + 1 - start]
                start = i + 1
                yield AlignProgress(i + 1, a.n_frames, "boxes", "writing boxes")
        if last >= start:  # the video ended early (undecodable tail): the rest stays black
            arr[start : last + 1] = buf[: last + 1 - start]
        yield AlignProgress(a.n_frames, a.n_frames, "boxes", "writing boxes")
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        ok = True
    finally:
        if not ok:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_boxes(
    alignment: Alignment, path: str | Path, progress: Callable[[AlignProgress], None] | None = None
) -> Path:
    """Write every box to a zarr array ``(frames, animals, box, box, channels)`` at ``path``.

    One chunk per frame, streamed (memory does not grow with the video); the array
    appears at ``path`` only when complete.
    """
    return run_to_end(iter_write_boxes(alignment, path), progress)
