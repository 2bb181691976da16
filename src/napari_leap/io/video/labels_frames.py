"""Frames that labels keep themselves: images a ``.pkg.slp`` embeds, or a list of image files.

Most labelled data in the field has no video beside it (SLEAP packages, COCO sets,
DeepLabCut's ``labeled-data``); prediction and the napari reader read its frames here.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from napari_leap.io.video.folder import ImageFolderSource
from napari_leap.io.video.sources import FrameSource, PerThreadSource, to_uint8


class LabelsVideoSource(PerThreadSource):
    """Frames of a ``sleap_io.Video`` (embedded ``.pkg.slp`` images included), picklable.

    Frame indices are the video's own (``read(700)`` works on a package that embeds
    frames 0, 10 and 700). With ``blank_missing`` a frame the package does not embed
    reads as black (a viewer scrubbing through it), else it raises. The backend is
    reopened per thread.
    """

    def __init__(self, video, blank_missing: bool = False):
        self.path = Path(video.filename)
        self.backend_metadata = dict(video.backend_metadata)
        shape = video.shape
        frame_map = getattr(video.backend, "frame_map", None) or {}
        self.held = frozenset(int(k) for k in frame_map) or None
        n = max([int(k) for k in frame_map] + [shape[0] - 1]) + 1
        self.shape = (n, int(shape[1]), int(shape[2]), int(shape[3]))
        self.blank_missing = blank_missing
        self._local = threading.local()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W, C)`` uint8."""
        if self.blank_missing and self.held is not None and int(index) not in self.held:
            return np.zeros(self.shape[1:], np.uint8)
        video = getattr(self._local, "video", None)
        if video is None:
            import sleap_io as sio

            video = self._local.video = sio.Video(
                filename=str(self.path), backend_metadata=dict(self.backend_metadata)
            )
        frame = np.asarray(video[int(index)])
        if frame.ndim == 2:
            frame = frame[..., None]
        return frame if frame.dtype == np.uint8 else to_uint8(frame)


def is_embedded(video) -> bool:
    """True for a video whose frames a SLEAP package holds."""
    meta = video.backend_metadata
    return bool(meta.get("has_embedded_images")) or bool(
        meta.get("dataset") and str(video.filename).endswith(".slp")
    )


def keeps_own_frames(video) -> bool:
    """True where a labels file holds its frames itself (no video file to look for).

    Embedded images, or a list of image files that are all there.
    """
    if is_embedded(video):
        return True
    names = video.filename
    return (
        isinstance(names, (list, tuple))
        and bool(names)
        and all(Path(str(f)).exists() for f in names)
    )


def labels_frames_source(video) -> FrameSource | None:
    """The frames ``video`` of a labels file keeps itself, to show; None for a video file.

    Embedded images (frames a package does not hold are black) or a list of image
    files (a SLEAP or COCO file's images), read frame-exact by their places.
    """
    if not keeps_own_frames(video):
        return None
    if is_embedded(video):
        if video.backend is None:
            video.open()
        return LabelsVideoSource(video, blank_missing=True)
    files = [Path(str(f)) for f in video.filename]
    return ImageFolderSource(files[0].parent, files)


def frames_not_held(source) -> set[int]:
    """Frames a package's source shows black because it does not hold them; none for others."""
    if not isinstance(source, LabelsVideoSource) or source.held is None:
        return set()
    return set(range(len(source))) - source.held
