"""Frames for the alignment: a prefetching decode and the sampled frames.

Readers come from :func:`napari_leap.io.video.frame_reader` (any video a user
hands in); :func:`prefetch` decodes one step ahead in a thread so detection and
decoding overlap.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterable

import numpy as np

from napari_leap.align.detect import sample_indices
from napari_leap.errors import LeapError
from napari_leap.io.video import keyframe_indices

#: consecutive undecodable frames after which the rest of a video is taken as unreadable
MAX_BAD_RUN = 8


def prefetch(reader, indices: Iterable[int], depth: int = 6, tolerate: bool = False) -> Generator:
    """``(i, frame)`` for each index, decoded one step ahead in a thread; closing stops it.

    ``tolerate``: a frame that cannot be decoded (a :class:`LeapError` such as a
    truncated file) comes as ``(i, error)`` instead of ending the stream; after
    :data:`MAX_BAD_RUN` such frames in a row the stream ends early.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        try:
            for item in _decoded(reader, indices, tolerate, stop):
                _put(q, item, stop)
        except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
            q.put(e)
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()  # this thread's decoder
            q.put(done)

    thread = threading.Thread(target=work, name="napari-leap-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        thread.join()


def _decoded(reader, indices: Iterable[int], tolerate: bool, stop: threading.Event) -> Generator:
    """``(i, frame or error)`` until ``stop`` is set or :data:`MAX_BAD_RUN` frames in a row fail."""
    bad = 0
    for i in indices:
        if stop.is_set():
            return
        try:
            frame = reader.read(int(i))
            bad = 0
        except LeapError as e:
            if not tolerate:
                raise
            frame, bad = e, bad + 1
        yield i, frame
        if bad >= MAX_BAD_RUN:
            return


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    """Put ``item`` unless the consumer stopped first (a full queue must not hang the thread)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def sample_frames(reader, n: int = 40, run: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, frames)``: about ``n`` frames spread over the video, cheap to decode.

    Seeking in a compressed video decodes from the previous keyframe, so when
    keyframes are sparse the samples are taken at keyframes plus a few frames
    decoded forward (``run`` at most), instead of evenly.
    """
    n_frames = int(reader.shape[0])
    idx = sample_indices(n_frames, n)
    keys = keyframe_indices(reader)
    if keys is not None and len(keys) and n_frames / len(keys) > 2 * run and len(keys) < n:
        per = int(np.ceil(n / len(keys)))
        step = max(1, run // per)
        idx = np.unique(np.clip(keys[:, None] + step * np.arange(per)[None], 0, n_frames - 1))
    good, frames, error = [], [], None
    for i in idx:
        try:
            frames.append(reader.read(int(i)))
            good.append(int(i))
        except LeapError as e:  # a damaged frame is no reason to give up: sample the others
            error = error or e
    if not frames:
        raise error if error is not None else LeapError("the video has no frames.")
    return np.asarray(good), np.stack(frames)
