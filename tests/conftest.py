"""Shared fixtures: the bundled real data and small synthetic videos made on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import napari_leap

# napari's builtin video reader starts ffmpeg through imageio-ffmpeg, whose preexec_fn runs
# Python in the forked child; beside Qt's and the predictor's threads that child can hang on
# a lock before exec (imageio-ffmpeg issue #58), and the suite with it. Twice seen here.
os.environ.setdefault("IMAGEIO_FFMPEG_NO_PREVENT_SIGINT", "1")

SAMPLE_DIR = Path(napari_leap.__file__).resolve().parent / "sample_data"
CLIP = SAMPLE_DIR / "flies13" / "clip.mp4"
CLIP_LABELS = SAMPLE_DIR / "flies13" / "clip.slp"
FLY32 = SAMPLE_DIR / "fly32" / "example_annotation_set.h5"
FLY32_SKELETON = SAMPLE_DIR / "fly32" / "skeleton.csv"
LEAP_MAT = SAMPLE_DIR / "leap_mat" / "labels.mat"


def some_frames(labels, frames):
    """``labels`` (``sleap_io.Labels`` or a path) keeping only the labelled ``frames``."""
    import sleap_io as sio

    if not isinstance(labels, sio.Labels):
        labels = sio.load_slp(str(labels))
    keep = {int(f) for f in frames}
    return sio.Labels(
        labeled_frames=[lf for lf in labels.labeled_frames if lf.frame_idx in keep],
        videos=labels.videos,
        skeletons=labels.skeletons,
        tracks=labels.tracks,
    )


def synthetic_frames(
    n: int = 40, height: int = 48, width: int = 64, color: bool = False
) -> np.ndarray:
    """Frames that differ from each other everywhere, so a wrong frame index is caught."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width]
    frames = []
    for i in range(n):
        base = (xx * 3 + yy * 2 + i * 11) % 256
        blob = 200 * np.exp(-((xx - (10 + i) % width) ** 2 + (yy - 20) ** 2) / 30.0)
        img = np.clip(base * 0.5 + blob + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
        frames.append(np.stack([img, img[::-1], 255 - img], -1) if color else img[..., None])
    return np.stack(frames)


def write_video(
    path: Path,
    frames: np.ndarray,
    codec: str = "libx264",
    fps: int = 25,
    options: dict | None = None,
) -> Path:
    """Encode ``frames`` with PyAV (H.264 with B-frames and a short GOP by default)."""
    import av

    color = frames.shape[-1] == 3
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = {"mjpeg": "yuvj420p", "ffv1": "bgr0" if color else "gray"}.get(
            codec, "yuv420p"
        )
        if codec == "libx264":
            stream.options = {"bf": "3", "g": "12", "crf": "18", **(options or {})}
        for f in frames:
            img = f if color else np.repeat(f, 3, axis=-1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def sequential_decode(path: Path, fmt: str = "gray") -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format=fmt) for f in c.decode(video=0)])


@pytest.fixture
def small_video(tmp_path) -> Path:
    return write_video(tmp_path / "small.mp4", synthetic_frames())
