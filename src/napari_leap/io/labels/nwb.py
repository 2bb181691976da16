"""NWB with ndx-pose: a person's labels as ``PoseTraining``, predictions as ``PoseEstimation``."""

from __future__ import annotations

from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.io.labels.sleap import LabelsError, read_sleap, write_sleap


def read_nwb(path: Path):
    """Labels from an NWB file (through sleap-io, which needs ndx-pose for it)."""
    _need_ndx_pose()
    return read_sleap(path, "nwb")


def write_nwb(labels, path: Path) -> Path:
    """Write NWB; NWB links the video file, so every labelled video must be readable."""
    _need_ndx_pose()
    for video in labels.videos:
        if video.backend is None:
            if not Path(str(video.filename)).exists():
                raise LabelsError(
                    f"NWB export needs the labelled video, and {video.filename} "
                    "cannot be found; put it back or re-link it, then export."
                )
            video.open()
    return write_sleap(labels, path, "nwb")


def _need_ndx_pose() -> None:
    try:
        import ndx_pose  # noqa: F401
        import pynwb  # noqa: F401
    except ImportError:
        raise LeapError(
            "NWB needs the 'ndx-pose' and 'pynwb' packages; `pip install ndx-pose pynwb`."
        ) from None
