"""The animal's own frame and the first stage's downscaled frame: where boxes go, and scales."""

from __future__ import annotations

import math

import numpy as np

from napari_leap.pose.first_stage.parts import LearnedAlignmentError, Parts

#: distance of anchor and heading part in the first stage's downscaled frame, pixels. On the
#: clip (3-minute budget, 1 thread) 8 px left the first stage unconverged (centre 25 px off,
#: 132 head/tail flips in 3000 animal-frames), 12 px gave 5.7 px and 5 flips, 16 px 5.9 px and
#: 8 flips at 1.6x the pixels, 24 px 16 px and 56 flips (benchmarks/README.md)
PART_PX = 12.0
#: the first stage's input is at most this many pixels on its longer side
MAX_SIDE = 384
#: ... and at least this many on its shorter one (where the frame is that large)
MIN_SIDE = 112
#: first-stage network: a U-Net narrower than the pose model's (it runs on every frame), one
#: convolution per decoder level: on the clip's 176x176 first-stage frames 5.0-5.6 vs 6.7-7.2
#: ms a frame (2 threads) and no worse (heading 0.99 vs 4.0 deg median, centre 5.4 vs 5.7 px,
#: 12 vs 5 flips of 3000); 4 filters lost the heading (1085 flips); output stride 4, as
#: cheap, missed a fly after the tests' 8 epochs (benchmarks/README.md)
FIRST_STAGE_ARCH = {
    "filters": 8,
    "depth": 4,
    "max_filters": 64,
    "output_stride": 2,
    "decoder_convs": 1,
}
#: folder of the first stage inside a model folder
FIRST_STAGE_DIR = "align"


def part_poses(points: np.ndarray, parts: Parts) -> tuple[np.ndarray, np.ndarray]:
    """Anchors (..., 2) and headings (...) of labelled instances (..., K, 2); NaN where unknown."""
    a = points[..., parts.anchor, :]
    h = points[..., parts.heading, :]
    angles = np.arctan2(h[..., 1] - a[..., 1], h[..., 0] - a[..., 0])
    ok = np.isfinite(a).all(-1) & np.isfinite(h).all(-1)
    return np.where(ok[..., None], a, np.nan), np.where(ok, angles, np.nan)


def instance_alignment(centres: np.ndarray, angles: np.ndarray, box_size: int):
    """An Alignment with one 'frame' per instance: its transforms map instances to boxes."""
    from napari_leap.align.alignment import Alignment

    return Alignment(
        centers=np.asarray(centres, float).reshape(-1, 1, 2),
        angles=np.nan_to_num(np.asarray(angles, float)).reshape(-1, 1),
        box_size=box_size,
    )


def to_own_frame(points: np.ndarray, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Instances (N, K, 2) in their own head-up frame: anchor at 0, heading towards -y."""
    al = instance_alignment(anchors, angles, 1)
    idx = np.arange(len(points))[:, None]
    return al.video_to_box(points, idx, np.zeros_like(idx))


def from_own_frame(offset: np.ndarray, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Video position (N, 2) of the own-frame point ``offset`` (2,) of each animal."""
    al = instance_alignment(anchors, angles, 1)
    n = len(anchors)
    return al.box_to_video(np.broadcast_to(offset, (n, 2)), np.arange(n), np.zeros(n, int))


def box_geometry(points: np.ndarray, parts: Parts, margin: float = 1.2) -> tuple[np.ndarray, int]:
    """``(offset, box_size)``: box centre in the animal's own frame, and a side holding it.

    The centre is the middle of the range (2nd to 98th percentile) of the
    labelled parts once head-up; the side is ``margin`` times twice the
    farthest a part lies from it on either axis (99th percentile), so the
    first stage's shift and turn errors still leave the animal inside,
    rounded up to a multiple of 16.
    """
    anchors, angles = part_poses(points, parts)
    ok = np.isfinite(angles)
    own = to_own_frame(points[ok], anchors[ok], angles[ok]).reshape(-1, 2)
    own = own[np.isfinite(own).all(-1)]
    if not len(own):
        raise LearnedAlignmentError(
            "no labelled animal has both alignment parts placed; label them or choose "
            "other parts with --anchor and --heading-part."
        )
    lo, hi = np.percentile(own, 2, axis=0), np.percentile(own, 98, axis=0)
    offset = (lo + hi) / 2
    half = float(np.percentile(np.abs(own - offset).max(-1), 99))
    return offset, int(max(32, math.ceil(2 * margin * half / 16) * 16))


# -- the first stage's frame scale -----------------------------------------------------------
def first_stage_scale(part_distance: float, frame_hw) -> float:
    """Downscale putting anchor and heading part :data:`PART_PX` apart.

    Or more when that leaves less than :data:`MIN_SIDE` pixels on the frame's shorter side
    (large animals in a small frame: their headings come finer for the same cost per
    frame), the input at most :data:`MAX_SIDE` pixels long, never upscaled.
    """
    s = max(PART_PX / max(float(part_distance), 1.0), MIN_SIDE / min(frame_hw[:2]))
    return float(min(1.0, s, MAX_SIDE / max(frame_hw[:2])))


def scaled_hw(frame_hw, scale: float) -> tuple[int, int]:
    """The first stage's frame size: ``scale`` times the frame, rounded for the network.

    Rounded to what the network takes without padding (a 115 px side would be padded to
    128: 24 % more work).
    """
    m = 2 ** FIRST_STAGE_ARCH["depth"]
    return tuple(max(m, int(round(v * scale / m)) * m) for v in frame_hw[:2])


def _area_factor(frame_hw, hw) -> int:
    """The integer part of the downscale, done first by OpenCV's fast area averaging."""
    return max(1, min(int(frame_hw[0]) // int(hw[0]), int(frame_hw[1]) // int(hw[1])))


def downscale(frame: np.ndarray, hw) -> np.ndarray:
    """A frame resized to ``hw`` by area averaging (the same at training and prediction).

    First by the integer factor ``k`` (OpenCV's fast path, on the frame cut to a
    multiple of ``k``: its last ``< k`` rows and columns are left out), then by
    what remains: 0.5 ms for a 1024x1024 frame instead of 2.6 ms in one go.
    """
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[..., None]
    c = frame.shape[2]
    k = _area_factor(frame.shape, hw)
    if k > 1:
        h, w = frame.shape[0] // k * k, frame.shape[1] // k * k
        frame = cv2.resize(frame[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
        frame = frame.reshape(h // k, w // k, c)
    if tuple(frame.shape[:2]) != tuple(hw):
        frame = cv2.resize(frame, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_AREA)
    return frame.reshape(int(hw[0]), int(hw[1]), c)


def frame_ratio(frame_hw, hw) -> np.ndarray:
    """x, y downscaled pixels per frame pixel (of the part of the frame :func:`downscale` uses)."""
    k = _area_factor(frame_hw, hw)
    used = [int(frame_hw[0]) // k * k, int(frame_hw[1]) // k * k]
    return np.array([hw[1] / used[1], hw[0] / used[0]])


def to_scaled(points: np.ndarray, frame_hw, hw) -> np.ndarray:
    """Frame pixels to downscaled pixels (pixel centres at integers in both)."""
    return (np.asarray(points, float) + 0.5) * frame_ratio(frame_hw, hw) - 0.5


def to_frame(points: np.ndarray, frame_hw, hw) -> np.ndarray:
    """Downscaled pixels to frame pixels (the inverse of :func:`to_scaled`)."""
    return (np.asarray(points, float) + 0.5) / frame_ratio(frame_hw, hw) - 0.5
