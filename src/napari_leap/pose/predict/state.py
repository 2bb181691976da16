"""A prediction's options and the state of one run, handed to the local or distributed loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.pose.predict.inputs import Geometry, batch_frames
from napari_leap.pose.predict.jobs import VideoJob
from napari_leap.pose.predict.results import PredictProgress
from napari_leap.pose.predict.store import ChunkStore

#: frames per chunk: the unit of checkpointing, of decode-ahead and of distributed work
CHUNK_SIZE = 128


@dataclass
class PredictOptions:
    """How to predict (the keywords of :func:`~napari_leap.pose.predict.iter_predict`).

    ``batch_size`` counts model inputs (boxes), ``chunk_size`` frames per
    checkpoint. With ``out`` the chunks go to ``<out>.partial/`` and an
    interrupted call resumes from them (``resume=False`` starts over); the
    folder is removed once ``out`` is written (unless ``keep_partial``).
    ``client`` (a ``dask.distributed.Client``) computes chunks on its workers.
    Setting ``stop`` ends the run after the current chunk, keeping finished
    chunks. ``warn`` is called with each sentence of :mod:`napari_leap.pose.fit`
    as soon as it is known. ``flip_average``: average each image's maps with its
    left/right flip's (:meth:`~napari_leap.pose.trained.TrainedModel.forward_confmaps`).
    """

    frames: Any = None  # None (all), "A:B", a slice/range or frame indices
    out: str | Path | None = None
    batch_size: int = 64
    chunk_size: int = CHUNK_SIZE
    progress: Callable[[PredictProgress], None] | None = None
    resume: bool = True
    device: str | None = None
    client: Any = None
    n_decoders: int | None = None
    keep_partial: bool = False
    stop: threading.Event | None = None
    format: str | None = None
    warn: Callable[[str], None] | None = None
    flip_average: bool = False


class Rate:
    """Frames per second of new work (not chunks from the store) since the clock started."""

    def __init__(self) -> None:
        self.t0, self.frames = time.perf_counter(), 0

    def add(self, n: int) -> float:
        """Count ``n`` more frames; the rate so far."""
        self.frames += n
        return self.frames / (time.perf_counter() - self.t0)


@dataclass
class PredictRun:
    """One prediction in progress: the model, its jobs and store, and what is done so far."""

    model: Any  # napari_leap.pose.trained.TrainedModel
    geo: Geometry
    jobs: list[VideoJob]
    store: ChunkStore
    options: PredictOptions
    stop: threading.Event = field(default_factory=threading.Event)
    done: int = 0  # frames predicted (or taken from the store) over all videos
    computed: int = 0  # chunks run by the model in this call
    reused: int = 0  # chunks taken from the store of an earlier run

    @property
    def total(self) -> int:
        """Frames to predict over all videos."""
        return int(sum(len(j.frames) for j in self.jobs))

    @property
    def chunk_size(self) -> int:
        """Frames per chunk."""
        return int(self.options.chunk_size)

    @property
    def batch_frames(self) -> int:
        """Frames per model batch."""
        return batch_frames(self.options.batch_size, self.geo)

    def reuse(self, video: int, chunk: int) -> PredictProgress:
        """The event of a chunk taken from the store (an earlier run computed it)."""
        f, p, sc = self.store.read(video, chunk)
        self.done += len(f)
        self.reused += 1
        return self._event(video, f, p, sc, float("nan"), resumed=True)

    def computed_chunk(
        self, video: int, chunk: int, poses: tuple[np.ndarray, np.ndarray, np.ndarray], rate: Rate
    ) -> PredictProgress:
        """Store a chunk the model just predicted and give its event."""
        f, p, sc = poses
        self.store.write(video, chunk, f, p, sc)
        self.computed += 1
        self.done += len(f)
        return self._event(video, f, p, sc, rate.add(len(f)))

    def _event(self, video, f, p, sc, fps: float, resumed: bool = False) -> PredictProgress:
        n = len(self.jobs)
        return PredictProgress("predict", video, n, self.done, self.total, fps, f, p, sc, resumed)
