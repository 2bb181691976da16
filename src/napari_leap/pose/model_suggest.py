"""Frames where a trained model is unsure: predict with and without a left/right flip, rank.

The model runs once over the candidate frames (and their neighbours, for the temporal
measure) through the ordinary prediction pipeline, so every kind of model folder works
(whole frames, background alignment, learned two-stage alignment). Each model input (a
frame or an animal's box) goes through the network twice in one batch: as it is and
mirrored left/right (:class:`FlipTwin`); the mirrored answer is mapped back and its
symmetric parts swapped. :mod:`napari_leap.pose.uncertainty` turns the predictions into
ranked, spread-out :class:`~napari_leap.pose.uncertainty.Suggestion` s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.trained import model_flip_permutation
from napari_leap.pose.uncertainty import Suggestion, flip_back, measures, rank_frames

FLIPPED = " (flipped)"


class FlipTwin:
    """A trained model that answers every input twice: as given and mirrored (mapped back).

    Its skeleton has the model's parts followed by the same parts of the mirrored input
    (``"<part> (flipped)"``), so the prediction pipeline carries both through alignment,
    boxes and identities unchanged. Everything else is the wrapped model's.
    """

    def __init__(self, model):
        self.model = model
        skeleton = dict(model.config["skeleton"])
        nodes = list(skeleton["nodes"])
        self.n_nodes = len(nodes)
        self.perm = model_flip_permutation(model.config)
        skeleton.update(nodes=nodes + [n + FLIPPED for n in nodes], edges=[], symmetries=[])
        self.config = {**model.config, "skeleton": skeleton}
        self.skeleton = Skeleton.from_dict(skeleton)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def predict_images(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Points ``(B, 2K, 2)`` and scores ``(B, 2K)``: the input's, then the mirrored input's."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        width = images.shape[2]
        both = np.concatenate([images, images[:, :, ::-1]])
        pts, sc = self.model.predict_images(np.ascontiguousarray(both))
        b = len(images)
        back = flip_back(pts[b:], width, self.perm)
        return (
            np.concatenate([pts[:b], back], axis=1),
            np.concatenate([sc[:b], sc[b:][:, self.perm]], axis=1),
        )

    def split(self, points: np.ndarray, scores: np.ndarray):
        """``(points, scores, flipped points)`` from a twin prediction (parts on the last axes)."""
        k = self.n_nodes
        return points[..., :k, :], scores[..., :k], points[..., k:, :]


@dataclass
class ModelSuggestOptions:
    """How to look for unsure frames.

    ``frames``: candidate frames (None: all; a range for long videos); ``stride``: every
    so-many frame of those; ``neighbours``: also predict frame-1 and frame+1 of each
    candidate for the temporal measure (a stride of 1 has them anyway); ``flip``: the
    mirrored input measure; ``exclude``: labelled frames; ``min_gap``: spread (default
    :func:`~napari_leap.pose.uncertainty.default_gap`); ``alignment``: the video's alignment
    (else the model aligns as ``predict`` does); ``progress(done, total)``.
    """

    frames: Iterable[int] | None = None
    stride: int = 1
    neighbours: bool = True
    flip: bool = True
    exclude: Iterable[int] = ()
    min_gap: int | None = None
    alignment: Any = None
    batch_size: int = 32
    device: str | None = None
    progress: Callable[[int, int], None] | None = None


def candidate_frames(n_total: int, frames=None, stride: int = 1) -> np.ndarray:
    """The frames to rank: ``frames`` (default all) within the video, every ``stride``-th.

    ``frames`` as ``predict`` takes them: ``"A:B"`` text or a slice (end excluded), or
    frame numbers.
    """
    from napari_leap.pose.predict.jobs import parse_frames

    if stride < 1:
        raise LeapError(f"the stride must be at least 1, not {stride}.")
    if isinstance(frames, (str, slice)):
        return parse_frames(frames, n_total)[::stride]
    chosen = np.arange(n_total) if frames is None else np.unique(np.asarray(list(frames), int))
    if len(chosen) and (chosen[0] < 0 or chosen[-1] >= n_total):
        raise LeapError(f"frame numbers must be within 0..{n_total - 1} (the video's frames).")
    return chosen[::stride]


def predict_twin(model, source, frames, options: ModelSuggestOptions):
    """The model's twin predictions on ``frames`` of ``source``: ``(frames, points, scores, flipped)``."""
    from napari_leap.pose.predict import VideoJob, load_model, predict

    twin = FlipTwin(load_model(model, options.device))
    job = VideoJob(source, np.asarray(frames, np.int64), None, options.alignment, "video")

    def progress(ev) -> None:
        if options.progress is not None and ev.phase == "predict":
            options.progress(int(ev.done), int(ev.total))

    result = predict(twin, job, batch_size=options.batch_size, progress=progress)
    poses = result.poses[0]
    pts, sc, flipped = twin.split(poses.points, poses.scores)
    return poses.frames, pts, sc, flipped


def suggest_from_model(
    model, video, n: int = 20, options: ModelSuggestOptions | None = None
) -> list[Suggestion]:
    """The ``n`` frames of ``video`` where ``model`` is least sure, spread out, with reasons."""
    from napari_leap.io.video import seekable_source
    from napari_leap.pose.predict import load_model

    o = options or ModelSuggestOptions()
    if n <= 0:
        raise LeapError(f"the number of frames to suggest must be positive, not {n}.")
    model = load_model(model, o.device)
    source = seekable_source(video)
    n_total = len(source)
    candidates = candidate_frames(n_total, o.frames, o.stride)
    excluded = {int(f) for f in o.exclude}
    if not len([f for f in candidates if int(f) not in excluded]):
        raise LeapError("every candidate frame is labelled already; nothing left to suggest.")
    to_predict = candidates
    if o.neighbours and o.stride > 1:
        near = np.concatenate([candidates - 1, candidates, candidates + 1])
        to_predict = np.unique(near[(near >= 0) & (near < n_total)])
    frames, pts, sc, flipped = predict_twin(model, source, to_predict, o)
    found = measures(frames, pts, sc, flipped if o.flip else None, jumps=o.neighbours)
    keep = np.isin(frames, candidates)
    found = {k: v[keep] for k, v in found.items()}
    return rank_frames(
        frames[keep], found, n, model.skeleton.nodes, min_gap=o.min_gap, exclude=excluded
    )


def images_measures(model, images, batch_size: int = 32, frames=None, flip: bool = True):
    """The measures on model inputs already cut (e.g. aligned boxes ``(N, A, H, W, C)``).

    ``images`` with an animal axis give one row per frame (the worst animal counts);
    ``frames`` (default ``0..N-1``) are the frame numbers for the temporal measure.
    Points are in the inputs' pixels.
    """
    from napari_leap.pose.predict import load_model

    twin = FlipTwin(load_model(model))
    images = np.asarray(images)
    shape = images.shape
    flat = images.reshape(-1, *shape[-3:]) if images.ndim == 5 else images
    pts_all, sc_all = [], []
    for s in range(0, len(flat), batch_size):
        p, c = twin.predict_images(flat[s : s + batch_size])
        pts_all.append(p)
        sc_all.append(c)
    pts = np.concatenate(pts_all)
    sc = np.concatenate(sc_all)
    a = shape[1] if images.ndim == 5 else 1
    pts = pts.reshape(shape[0], a, *pts.shape[1:])
    sc = sc.reshape(shape[0], a, -1)
    p, c, f = twin.split(pts, sc)
    frames = np.arange(shape[0]) if frames is None else np.asarray(frames, np.int64)
    return frames, p, c, measures(frames, p, c, f if flip else None)
