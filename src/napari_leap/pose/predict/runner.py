"""The threaded runner: decoder threads read and warp whole chunks ahead of the model.

Each decoder thread owns a whole chunk (sequential decoding, no seeks); at most
``n_decoders`` chunks are in flight and each holds at most two prepared batches,
so memory is bounded whatever the video length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from napari_leap.io.video import FrameSource
from napari_leap.pose.predict.inputs import Geometry, prepare
from napari_leap.pose.predict.model import PoseStage, channels_of, load_model

_DONE = object()  # a decoder's last item on its queue


class Stage(Protocol):
    """What the runner calls on each batch: :class:`PoseStage` or a two-stage runner."""

    geo: Geometry

    def __call__(self, *args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Video points ``(n, A, K, 2)`` and scores ``(n, A, K)`` of one prepared batch."""
        ...


def chunk_batches(
    source: FrameSource,
    frames: np.ndarray,
    affines: np.ndarray | None,
    geo: Geometry,
    channels: int,
    batch_frames: int,
) -> Iterator[tuple]:
    """Decode ``frames`` in order (one sequential decoder) and yield prepared batches."""
    for s in range(0, len(frames), batch_frames):
        idx = frames[s : s + batch_frames]
        aff = None if affines is None else affines[s : s + batch_frames]
        images, mats = prepare((source.read(int(i)) for i in idx), len(idx), aff, geo, channels)
        yield idx, images, mats


def run_chunks(
    model: Stage,
    source: FrameSource,
    chunks: list[tuple[np.ndarray, np.ndarray | None]],
    channels: int,
    batch_frames: int,
    n_decoders: int,
    stop: threading.Event,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(chunk_index, frames, points, scores)`` in order, decoding ahead on threads."""
    n_decoders = max(1, min(n_decoders, len(chunks)))
    queues: dict[int, queue.Queue] = {}
    halt = threading.Event()  # ends the producers when the consumer stops, for any reason
    batches = getattr(model, "batches", chunk_batches)  # a two-stage runner's own

    with ThreadPoolExecutor(n_decoders, thread_name_prefix="leap-decode") as pool:

        def submit(ci: int) -> None:
            if ci < len(chunks):
                q = queues[ci] = queue.Queue(maxsize=2)
                frames, affines = chunks[ci]
                items = batches(source, frames, affines, model.geo, channels, batch_frames)
                pool.submit(_produce, items, q, halt)

        for ci in range(n_decoders):
            submit(ci)
        try:
            for ci in range(len(chunks)):
                f, p, s = _consume(queues.pop(ci), model)
                submit(ci + n_decoders)
                _trim_heap()
                yield ci, f, p, s
                if stop.is_set():
                    return
        finally:
            halt.set()
            for q in queues.values():  # unblock producers waiting on full queues
                while not q.empty():
                    q.get_nowait()


def _produce(items: Iterator[tuple], q: queue.Queue, halt: threading.Event) -> None:
    """Put a chunk's batches on ``q``, then the end marker; an error goes on it too."""
    try:
        for item in items:
            if not _put(q, item, halt) or halt.is_set():
                return
        q.put(_DONE)
    except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
        q.put(e)


def _put(q: queue.Queue, item: tuple, halt: threading.Event) -> bool:
    """Wait for room on ``q`` unless the run halts; False when it halted first."""
    while not halt.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _consume(q: queue.Queue, model: Stage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the model on one chunk's batches as they arrive; raise a decoder's error."""
    parts_f, parts_p, parts_s = [], [], []
    while (item := q.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        idx, *inputs = item
        pts, sc = model(*inputs)
        parts_f.append(idx)
        parts_p.append(pts)
        parts_s.append(sc)
    return np.concatenate(parts_f), np.concatenate(parts_p), np.concatenate(parts_s)


@lru_cache(maxsize=1)
def _libc():
    """Glibc, looked up once.

    ``find_library`` runs ``ldconfig`` in a subprocess, and a fork per chunk beside the
    decoding threads once hung a test run (a forked child stuck on a lock).
    """
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        name = ctypes.util.find_library("c")
        return ctypes.CDLL(name) if name else None


def _trim_heap() -> None:
    """Give freed heap pages back to the OS after each chunk.

    Frames are decoded on several threads, each with its own glibc arena; the
    arenas keep freed frames as fragmented free space, so without a trim the
    resident memory creeps up with video length instead of staying flat.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def predict_chunk(
    model_dir: str,
    device: str | None,
    source: FrameSource,
    frames: np.ndarray,
    affines: np.ndarray | None,
    batch_frames: int,
    flip_average: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk, start to end, on whatever process runs it (a dask worker).

    Same batches as the single-process run, so the same numbers come out.
    """
    model = load_model(model_dir, device)
    runner = PoseStage(model, Geometry.of(model), flip_average)
    stop = threading.Event()
    for _, f, p, s in run_chunks(
        runner, source, [(frames, affines)], channels_of(model), batch_frames, 1, stop
    ):
        return f, p, s
    raise RuntimeError("chunk produced no result")  # pragma: no cover
