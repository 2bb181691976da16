"""Which frames to label next: cluster sampling, uniform picks, least-confident predictions.

With a trained model, ``model`` picks the frames where it is unsure
(:mod:`napari_leap.pose.model_suggest`).

Cluster sampling (LEAP, Pereira et al. 2019): shrink every frame (or every aligned
box), project onto the main principal components, group with k-means and take
frames from every group, so rare postures get labelled as well as common ones.
Frames are decoded one at a time and only their thumbnails are kept, so a long
video never has to fit in memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.video import frame_reader

METHODS = ("kmeans", "uniform", "confidence", "model")


def thumbnails(
    video,
    frames: Iterable[int] | None = None,
    *,
    size: int = 48,
    alignment=None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk grey frames (or boxes) as rows ``(n, size*size)`` float32 with their frame numbers.

    With ``alignment`` each row is one animal's box (so animals are clustered by
    posture, not by where they stand); the frame numbers repeat per animal.
    Frames are split into contiguous runs decoded in parallel threads (each
    thread keeps its own sequential decoder).
    """
    import cv2

    src = frame_reader(video)[0]
    n_total = src.shape[0]
    frames = np.arange(n_total) if frames is None else np.asarray(sorted(set(map(int, frames))))
    if len(frames) and (frames[0] < 0 or frames[-1] >= n_total):
        raise LeapError(f"frame numbers must be within 0..{n_total - 1}.")
    n_animals = alignment.n_animals if alignment is not None else 1
    out = np.zeros((len(frames), n_animals, size * size), dtype=np.float32)
    workers = max(1, min(workers or os.cpu_count() or 1, 8, len(frames) or 1))
    runs = np.array_split(np.arange(len(frames)), workers)
    done = [0]
    lock = threading.Lock()

    def shrink(image: np.ndarray) -> np.ndarray:
        grey = image.mean(axis=-1) if image.shape[-1] > 1 else image[..., 0]
        return cv2.resize(
            np.ascontiguousarray(grey, dtype=np.float32), (size, size), interpolation=cv2.INTER_AREA
        ).ravel()

    def work(rows: np.ndarray) -> None:
        try:
            for r in rows:
                f = int(frames[r])
                image = src.read(f)
                if alignment is None:
                    out[r, 0] = shrink(image)
                else:
                    for a, box in enumerate(alignment.warp(image, f)):
                        out[r, a] = shrink(box)
                if progress is not None:
                    with lock:
                        done[0] += 1
                        progress(done[0], len(frames))
        finally:
            close = getattr(src, "close", None)
            if close is not None:
                close()  # this thread's decoder

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, [r for r in runs if len(r)]))
    return out.reshape(-1, size * size), np.repeat(frames, n_animals)


def cluster_frames(
    features: np.ndarray,
    frame_ids: np.ndarray,
    n: int,
    *,
    n_clusters: int | None = None,
    n_components: int = 32,
    min_gap: int = 0,
    exclude: Iterable[int] = (),
    seed: int = 0,
) -> np.ndarray:
    """PCA + k-means on thumbnail rows, then the same number of frames from every cluster.

    Within a cluster frames are drawn at random, at least ``min_gap`` frames apart
    from frames already picked (nearly identical neighbours teach a network
    nothing new). Returns sorted unique frame numbers.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    excluded = set(int(f) for f in exclude)
    keep = np.array([int(f) not in excluded for f in frame_ids], dtype=bool)
    features, frame_ids = features[keep], frame_ids[keep]
    n = min(int(n), len(np.unique(frame_ids)))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    n_clusters = int(n_clusters or max(1, min(n, 10)))
    n_clusters = min(n_clusters, len(features))
    x = features - features.mean(axis=0)
    comps = max(1, min(n_components, x.shape[0] - 1, x.shape[1]))
    z = (
        PCA(n_components=comps, svd_solver="randomized", random_state=seed).fit_transform(x)
        if x.shape[0] > 2
        else x
    )
    labels = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed).fit_predict(z)
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(n_clusters)]
    picked: list[int] = []

    def far_enough(f: int) -> bool:
        return all(abs(f - p) >= min_gap for p in picked) if min_gap else f not in picked

    # round-robin over clusters: each gives one frame per round
    while len(picked) < n and any(pools):
        for pool in pools:
            while pool:
                f = int(frame_ids[pool.pop()])
                if far_enough(f):
                    picked.append(f)
                    break
            if len(picked) >= n:
                break
    if len(picked) < n:  # the gap was too strict for this many: fill with the nearest misses
        rest = [int(f) for f in np.unique(frame_ids) if int(f) not in picked]
        picked.extend(rng.choice(rest, size=min(n - len(picked), len(rest)), replace=False))
    return np.sort(np.asarray(picked, dtype=np.int64))


@dataclass
class SuggestOptions:
    """How to suggest frames (the keywords of :func:`suggest_frames`).

    ``exclude``: frames never suggested (e.g. already labelled); ``predictions``: a
    :class:`napari_leap.model.poses.Poses` of predictions (for ``confidence``); ``model``:
    a trained model or its folder (for ``model``: where it is unsure, among ``frames``,
    default all, every ``stride``-th);
    ``alignment``: cluster animals' boxes instead of whole frames; ``progress(done,
    total)`` while frames are read. The rest tune cluster sampling: thumbnail ``size``,
    PCA ``n_components``, ``n_clusters`` (default ``min(n, 10)``), ``max_frames`` read
    (evenly strided beyond), decoder ``workers``.
    """

    exclude: Iterable[int] = ()
    predictions: Any = None
    alignment: Any = None
    seed: int = 0
    progress: Callable[[int, int], None] | None = None
    n_clusters: int | None = None
    size: int = 48
    n_components: int = 32
    max_frames: int = 3000
    workers: int | None = None
    model: Any = None
    frames: Iterable[int] | None = None
    stride: int = 1


def suggest_kmeans(
    video, n: int = 20, options: SuggestOptions | None = None, **kwargs: Any
) -> np.ndarray:
    """LEAP's cluster sampling over the video (every frame up to ``max_frames``, evenly strided after)."""
    o = replace(options or SuggestOptions(), **kwargs)
    n_total = frame_reader(video)[0].shape[0]
    stride = max(1, int(np.ceil(n_total / o.max_frames)))
    frames = np.arange(0, n_total, stride)
    feats, ids = thumbnails(
        video, frames, size=o.size, alignment=o.alignment, workers=o.workers, progress=o.progress
    )
    min_gap = max(1, n_total // (4 * max(n, 1)))
    return cluster_frames(
        feats,
        ids,
        n,
        n_clusters=o.n_clusters,
        n_components=o.n_components,
        min_gap=min_gap,
        exclude=o.exclude,
        seed=o.seed,
    )


def suggest_uniform(n_frames: int, n: int = 20, *, exclude: Iterable[int] = ()) -> np.ndarray:
    """``n`` frames evenly spread over the video (skipping excluded ones)."""
    excluded = set(int(f) for f in exclude)
    candidates = np.array([f for f in range(n_frames) if f not in excluded], dtype=np.int64)
    if not len(candidates) or n <= 0:
        return np.zeros(0, dtype=np.int64)
    n = min(n, len(candidates))
    idx = np.round(np.linspace(0, len(candidates) - 1, n)).astype(int)
    return np.unique(candidates[idx])


def suggest_low_confidence(
    frames, scores, n: int = 20, *, exclude: Iterable[int] = ()
) -> np.ndarray:
    """The ``n`` predicted frames whose worst animal has the lowest mean body-part confidence.

    ``scores`` is ``(frames, animals, nodes)`` (missing parts NaN, counted as 0:
    a part the model could not find is exactly what needs a label).
    """
    frames = np.asarray(frames, dtype=np.int64)
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if scores.ndim == 2:
        scores = scores[:, None]
    per_frame = scores.mean(axis=2).min(axis=1) if len(frames) else np.zeros(0)
    excluded = set(int(f) for f in exclude)
    order = [i for i in np.argsort(per_frame, kind="stable") if int(frames[i]) not in excluded]
    return np.sort(frames[order[:n]])


def suggest_frames(
    video, n: int = 20, method: str = "kmeans", options: SuggestOptions | None = None, **kwargs: Any
) -> np.ndarray:
    """Frame numbers to label: ``kmeans`` (cluster sampling), ``uniform``, ``confidence``, ``model``.

    The keywords are the fields of :class:`SuggestOptions` (they override ``options``);
    ``confidence`` needs ``predictions``, ``model`` a ``model``.
    """
    picks = suggest_with_reasons(video, n, method, options, **kwargs)
    return np.asarray([s.frame for s in picks], dtype=np.int64)


def suggest_with_reasons(
    video, n: int = 20, method: str = "kmeans", options: SuggestOptions | None = None, **kwargs: Any
) -> list:
    """Like :func:`suggest_frames`, as :class:`~napari_leap.pose.uncertainty.Suggestion` s.

    Each says why its frame was picked (for ``model``: what the model is unsure about).
    """
    from napari_leap.pose.uncertainty import Suggestion

    o = replace(options or SuggestOptions(), **kwargs)
    if method not in METHODS:
        raise LeapError(f"unknown suggestion method {method!r}; use one of {', '.join(METHODS)}.")
    if n <= 0:
        raise LeapError(f"the number of frames to suggest must be positive, not {n}.")
    if method == "model":
        return _suggest_by_model(video, n, o)
    if method == "confidence":
        if o.predictions is None or not len(o.predictions.frames):
            raise LeapError(
                "suggesting by confidence needs predictions; run a trained model first."
            )
        frames = suggest_low_confidence(
            o.predictions.frames, o.predictions.scores, n, exclude=o.exclude
        )
        why = "low mean confidence of the predictions"
    elif method == "uniform":
        frames = suggest_uniform(frame_reader(video)[0].shape[0], n, exclude=o.exclude)
        why = "evenly spread over the video"
    else:
        frames = suggest_kmeans(video, n, o)
        why = "appearance: one of the postures k-means found"
    return [Suggestion(int(f), 0.0, why) for f in frames]


def _suggest_by_model(video, n: int, o: SuggestOptions) -> list:
    from napari_leap.pose.model_suggest import ModelSuggestOptions, suggest_from_model

    if o.model is None:
        raise LeapError("suggesting where the model is unsure needs a trained model; train one.")
    options = ModelSuggestOptions(
        frames=o.frames,
        stride=o.stride,
        exclude=o.exclude,
        alignment=o.alignment,
        progress=o.progress,
    )
    return suggest_from_model(o.model, video, n, options)


def save_suggestions(frames, path: str | Path) -> Path:
    """One frame number per line (what ``--out`` writes and the labeling widget can load)."""
    from napari_leap.io.atomic import atomic_write_text

    atomic_write_text(path, "".join(f"{int(f)}\n" for f in frames))
    return Path(path)
