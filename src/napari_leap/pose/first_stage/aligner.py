"""The first stage at work: frames in, animals (anchors and headings) out, and a whole video."""

from __future__ import annotations

import math
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

import napari_leap.pose.first_stage.windows as windows
from napari_leap.pose.first_stage.geometry import (
    downscale,
    frame_ratio,
    from_own_frame,
    to_frame,
    to_scaled,
)
from napari_leap.pose.first_stage.parts import LearnedAlignmentError, spec_parts
from napari_leap.pose.first_stage.tracker import Tracker

#: a peak lower than this is not an animal (a model's own, lower one: :func:`calibrated_threshold`)
PEAK_THRESHOLD = 0.2
#: how far a heading-part peak may lie from its anchor, in labelled anchor-to-head distances
HEAD_REACH = (0.3, 2.5)


def pair_parts(
    anchors: np.ndarray,
    anchor_scores: np.ndarray,
    heads: np.ndarray,
    head_scores: np.ndarray,
    distance: float,
    n_animals: int,
    threshold: float = PEAK_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Animals of one frame from its anchor and heading-part peaks.

    The animals are the ``n_animals`` strongest anchors above ``threshold``, those with
    a heading-part peak within :data:`HEAD_REACH` of the labelled ``distance`` from them
    first: a speck that the first stage takes for an anchor, with no heading part near it,
    does not push out a real animal whose anchor is weaker (on the clip a bright speck in
    a corner took the place of one of two touching flies). Each animal takes the
    heading-part peak whose distance from it is closest to ``distance`` (Hungarian
    matching, so two animals never share one), within those bounds. Returns ``centres``
    (n, 2), ``angles`` (n,) (NaN when no heading part fits) and ``scores`` (n,), the
    anchor's confidence, for the ``n <= n_animals`` animals found (those with a heading
    part first, each group strongest first).
    """
    keep = np.flatnonzero(np.isfinite(anchors).all(-1) & (anchor_scores >= threshold))
    hk = np.flatnonzero(np.isfinite(heads).all(-1) & (head_scores >= threshold / 2))
    d = np.linalg.norm(heads[hk][None] - anchors[keep][:, None], axis=-1)  # (anchors, heads)
    reach = (d >= HEAD_REACH[0] * distance) & (d <= HEAD_REACH[1] * distance)
    order = np.lexsort((-anchor_scores[keep], ~reach.any(-1)))[:n_animals]
    chosen = keep[order]
    angles = _match_heads(
        anchors[chosen], heads[hk], head_scores[hk], d[order], reach[order], distance
    )
    return anchors[chosen], angles, anchor_scores[chosen]


def calibrated_threshold(heights) -> float:
    """The peak height that tells an animal: half the 10th percentile of labelled animals'.

    ``heights``: the anchor peak at each labelled animal of held-out frames
    (:meth:`LearnedAligner.anchor_heights`). Never stricter than :data:`PEAK_THRESHOLD`:
    a first stage trained a few minutes places its peaks well but low (a fly's abdomen
    at 0.13 on every frame, so 0.2 found none of the animals it had placed within 2 px).
    """
    h = np.asarray(heights, float)
    low = float(np.percentile(h, 10)) if len(h) else 0.0
    return min(PEAK_THRESHOLD, 0.5 * low) if low > 0 else PEAK_THRESHOLD


def _match_heads(anchors, heads, head_scores, d, reach, distance: float) -> np.ndarray:
    """Per anchor the angle to its heading-part peak (NaN: none within reach).

    ``d`` and ``reach``: anchor-to-head distances and which lie within :data:`HEAD_REACH`.
    """
    from scipy.optimize import linear_sum_assignment

    angles = np.full(len(anchors), np.nan)
    if not reach.any():
        return angles
    cost = np.abs(d - distance) / max(distance, 1e-6) + 0.1 * (1 - head_scores)[None]
    cost[~reach] = 1e6
    for r, c in zip(*linear_sum_assignment(cost), strict=True):
        if reach[r, c]:
            v = heads[c] - anchors[r]
            angles[r] = math.atan2(v[1], v[0])
    return angles


class LearnedAligner:
    """The first stage of a model folder: frames in, animals (anchors, headings) out."""

    def __init__(self, spec: dict, model_dir: str | Path, device=None):
        from napari_leap.pose.trained import Preprocessor, TrainedModel

        self.spec = spec
        self.net = TrainedModel.load(Path(model_dir) / spec["first_stage"], device=device)
        self.frame_hw = tuple(spec["frame_hw"])
        self.hw = tuple(spec["scaled_hw"])
        self.n_animals = int(spec["n_animals"])
        self.distance = float(spec["part_distance"])
        self.offset = np.asarray(spec["centre_offset"], float)
        self.threshold = float(spec.get("peak_threshold", PEAK_THRESHOLD))
        parts = spec_parts(spec)
        self.parts = [parts.anchor, parts.heading]  # of the first stage's maps, the two read
        # fully convolutional: trained on crops, it takes whole downscaled frames
        p = self.net.preprocessor
        multiple = int(self.net.config["size_multiple"])
        self.net.preprocessor = Preprocessor(self.hw, 1.0, p.channels, multiple, p.device)
        stride = self.net.output_stride
        # folders made before ``part_px`` was kept were trained at 8 px
        self.radius = max(1, int(round(0.3 * float(spec.get("part_px", 8.0)) / stride)))
        box_px = float(spec["box_size"]) * float(frame_ratio(self.frame_hw, self.hw).mean())
        side = windows.window_side(box_px, multiple)
        #: side of the windows round tracked animals (0: whole frames only, as cheap)
        self.side = side if windows.windows_pay(side, self.hw, self.n_animals) else 0
        self._window_pre = Preprocessor((side, side), 1.0, p.channels, multiple, p.device)

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """One decoded frame as the first stage takes it (runs on decoder threads)."""
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = frame[..., None]
        if frame.shape[0] > self.frame_hw[0] or frame.shape[1] > self.frame_hw[1]:
            raise LearnedAlignmentError(
                f"the frames are {frame.shape[1]}x{frame.shape[0]} px but the model's first stage "
                f"was trained on frames of at most {self.frame_hw[1]}x{self.frame_hw[0]} px; use "
                "a model trained on frames of this size."
            )
        from napari_leap.io.video import pad_to

        return downscale(pad_to(frame, self.frame_hw), self.hw)

    def detect(self, small: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per frame of a batch of prepared frames: ``(anchors, angles, scores)`` in video px."""
        return self._animals(*self._peaks(small, self.net.preprocessor))

    def track(self, small: np.ndarray, frames, tracker: Tracker) -> tuple[np.ndarray, ...]:
        """``tracker.track(self.detect(small))`` for consecutive video ``frames``, cheaper.

        The first stage runs on windows round the tracked animals where that pays and
        can be trusted, on whole frames elsewhere (:mod:`~napari_leap.pose.first_stage.windows`).
        Windows are placed per group of :data:`~windows.WINDOW_FRAMES` frame indices, from the
        tracks before the group's first frame, so the boxes do not depend on how the
        frames come in batches (an alignment pass and a one-pass prediction cut the same).
        """
        frames = np.asarray(frames, int)
        if not (self.side and tracker.keep_heading and (np.diff(frames) > 0).all()):
            return tracker.track(self.detect(small))
        groups = frames // windows.WINDOW_FRAMES
        parts = []
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            part, idx = small[rows], frames[rows]
            tracker.place_windows(int(g), int(idx[0]))
            found = self._detect_windows(part, idx - int(tracker.window_frame) + 1, tracker)
            whole = [
                i
                for i, f in enumerate(found)
                if f is None
                or idx[i] % windows.WHOLE_EVERY == 0
                or len(f[0]) < self.n_animals
                or not np.isfinite(f[1]).all()
            ]
            if whole:
                for i, f in zip(whole, self.detect(part[whole]), strict=True):
                    found[i] = f
            parts.append(tracker.track(found))
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))

    def _detect_windows(self, part: np.ndarray, ahead: np.ndarray, tracker: Tracker) -> list:
        """Per frame ``(anchors, angles, scores)`` found in windows, or None for all.

        The windows go where the tracks kept for the group predict the animals ``ahead``
        frames on; None while one of them was lost.
        """
        kept = tracker.window_from
        if not np.isfinite(kept).all():
            return [None] * len(part)
        anchors = kept[None, :, :2] + kept[None, :, 2:4] * ahead[:, None, None]
        angles = np.broadcast_to(kept[:, 4], anchors.shape[:2])
        at = to_scaled(self.box_centres(anchors, angles), self.frame_hw, self.hw)
        origins = windows.window_origins(at, self.side, self.hw)
        pts, sc = self._peaks(windows.crop_windows(part, origins, self.side), self._window_pre)
        f_n, a_n = origins.shape[:2]
        pts = pts.reshape(f_n, a_n, 2, -1, 2) + origins[:, :, None, None, :]
        pts = pts.transpose(0, 2, 1, 3, 4).reshape(f_n, 2, -1, 2)  # (frame, part, peak, xy)
        sc = sc.reshape(f_n, a_n, 2, -1).transpose(0, 2, 1, 3).reshape(f_n, 2, -1)
        return self._animals(*windows.merge_peaks(pts, sc, self.radius * self.net.output_stride))

    def _animals(self, pts: np.ndarray, sc: np.ndarray) -> list:
        """Per frame ``(anchors, angles, scores)`` in video px from its peaks in downscaled px."""
        pts = to_frame(pts, self.frame_hw, self.hw)
        return [
            pair_parts(p[0], s[0], p[1], s[1], self.distance, self.n_animals, self.threshold)
            for p, s in zip(pts, sc, strict=True)
        ]

    def _peaks(self, images: np.ndarray, pre) -> tuple[np.ndarray, np.ndarray]:
        """Anchor and heading-part peaks (B, 2, P, 2) in ``images``' pixels, and scores."""
        import torch

        from napari_leap.pose.confmaps import find_local_peaks

        n = 2 * self.n_animals + 2
        with torch.inference_mode():
            cm = self.net.forward_confmaps(self.net.preprocess(images, pre))[:, self.parts]
            pts, sc = find_local_peaks(cm, self.net.output_stride, n, self.radius)
        return pts.double().cpu().numpy(), sc.double().cpu().numpy()

    def anchor_heights(self, small: np.ndarray, anchors: np.ndarray) -> np.ndarray:
        """Per labelled animal the height of the anchor peak near it (0: none within reach).

        ``small``: prepared frames; ``anchors`` (N, A, 2): the labelled anchors, video px.
        """
        heights = []
        for s in range(0, len(small), 32):
            pts, sc = self._peaks(small[s : s + 32], self.net.preprocessor)
            pts = to_frame(pts, self.frame_hw, self.hw)[:, 0]  # anchor peaks (B, P, 2)
            for found, score, truth in zip(pts, sc[:, 0], anchors[s : s + 32], strict=True):
                for t in truth[np.isfinite(truth).all(-1)]:
                    d = np.linalg.norm(found - t, axis=-1)
                    near = np.isfinite(d) & (d <= 0.5 * self.distance)
                    heights.append(float(score[near].max()) if near.any() else 0.0)
        return np.asarray(heights)

    def box_centres(self, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """Box centres (..., 2) of animals at ``anchors`` (..., 2) facing ``angles`` (...)."""
        shape = anchors.shape
        a = anchors.reshape(-1, 2)
        ang = angles.reshape(-1)
        out = np.full_like(a, np.nan)
        ok = np.isfinite(a).all(-1) & np.isfinite(ang)
        if ok.any():
            out[ok] = from_own_frame(self.offset, a[ok], ang[ok])
        return out.reshape(shape)


def animal_length(spec: dict) -> float:
    """The length used to weigh distances when matching tracks (twice the parts' distance)."""
    return 2.0 * float(spec["part_distance"])


class _Prepared:
    """A frame source whose ``read`` returns frames as the first stage takes them."""

    def __init__(self, reader, aligner: LearnedAligner):
        self.reader, self.aligner, self.shape = reader, aligner, reader.shape

    def read(self, i: int) -> np.ndarray:
        return self.aligner.prepare(self.reader.read(int(i)))

    def close(self) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


def iter_align_learned(
    video,
    aligner: LearnedAligner,
    box_size: int,
    keep_heading: bool = True,
    batch: int = 32,
    numbers=None,
) -> Generator[object, None, Any]:
    """Align ``video`` with the first stage; yields :class:`AlignProgress`, returns the Alignment.

    The same tracking (:class:`Tracker`) as a one-pass prediction, so the boxes
    are the ones that prediction cuts. ``keep_heading``: see :class:`Tracker`.
    ``numbers``: the frames' numbers in their video when ``video`` holds some of its
    frames (where the first stage's windows go depends on them); default 0, 1, ...
    """
    from napari_leap.align.alignment import Alignment, AlignProgress, Measures, prefetch
    from napari_leap.io.video import frame_reader

    reader, path = frame_reader(video)
    n_frames, height, width, channels = (int(v) for v in reader.shape)
    a_n = aligner.n_animals
    anchors = np.full((n_frames, a_n, 2), np.nan)
    angles = np.full((n_frames, a_n), np.nan)
    scores = np.zeros((n_frames, a_n))
    found = np.zeros((n_frames, a_n), bool)
    unreadable = np.ones(n_frames, bool)
    tracker = Tracker(a_n, animal_length(aligner.spec), keep_heading)
    every = max(1, n_frames // 100)
    errors: list[str] = []
    yield AlignProgress(0, n_frames, "align", "finding animals (learned)")
    pending_i: list[int] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            rows = np.asarray(pending_i)
            anchors[rows], angles[rows], found[rows], scores[rows] = aligner.track(
                np.stack(pending), rows if numbers is None else np.asarray(numbers)[rows], tracker
            )
            pending_i.clear()
            pending.clear()

    for i, small in prefetch(_Prepared(reader, aligner), range(n_frames), tolerate=True):
        if isinstance(small, Exception):
            flush()
            errors.append(str(small))
            tracker.seen[:] = False
            continue
        unreadable[i] = False
        pending_i.append(i)
        pending.append(small)
        if len(pending) == batch:
            flush()
            if i % every < batch or i == n_frames - 1:
                yield AlignProgress(i + 1, n_frames, "align", "finding animals (learned)")
    flush()
    result = Alignment(
        centers=aligner.box_centres(anchors, angles),
        angles=np.nan_to_num(angles),
        box_size=box_size,
        options={"method": "learned"},
        video=reader,
        video_path=path,
        frame_shape=(height, width, channels),
        measures=Measures(cues=scores, found=found, animal_length=animal_length(aligner.spec)),
    )
    result.unreadable = unreadable
    result.read_errors = errors[:5]
    result.update_flags()
    yield AlignProgress(n_frames, n_frames, "done", "aligned (learned)")
    return result
