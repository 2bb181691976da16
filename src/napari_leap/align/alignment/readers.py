"""Frames for the alignment: one reader over any video, a prefetching decode, sampled frames.

:func:`frame_reader` is the one adapter from what a user hands in (a path, a
:class:`~napari_leap.io.video.FrameSource`, a napari layer's dask array, any
array) to a reader with ``read(i)`` and ``shape``; :func:`prefetch` decodes one
step ahead in a thread so detection and decoding overlap.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Generator, Iterable
from pathlib import Path

import numpy as np

from napari_leap.align.detect import sample_indices
from napari_leap.errors import LeapError

#: consecutive undecodable frames after which the rest of a video is taken as unreadable
MAX_BAD_RUN = 8


class ArrayReader:
    """``read(i)`` over any array of frames (dask, numpy, zarr), as uint8 frames."""

    def __init__(self, array):
        self.array = array
        shape = tuple(array.shape)
        if len(shape) == 3:
            shape = (*shape, 1)
        if len(shape) != 4:
            raise LeapError(
                f"a video must be an array (frames, height, width[, channels]); got shape {shape}."
            )
        self.shape = shape
        self.path = None
        self.scale = _to_uint8_scale(array)

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(height, width, channels)`` uint8."""
        frame = np.asarray(self.array[int(i)])
        if self.scale is not None:
            frame = np.clip(np.rint(np.nan_to_num(frame * self.scale)), 0, 255).astype(np.uint8)
        return frame[..., None] if frame.ndim == 2 else frame


def _to_uint8_scale(array) -> float | None:
    """The factor that takes frames of another type to 0-255 grey levels (None for uint8).

    255 for floats from 0 to 1 (as scikit-image writes them), 1 for values already
    in 0-255. One factor for the whole video (from a few frames), so every frame is
    scaled alike.
    """
    dtype = np.dtype(array.dtype)
    if dtype == np.uint8:
        return None
    if dtype == np.bool_:
        return 255.0
    picks = sample_indices(int(array.shape[0]), 5)
    sample = np.stack([np.asarray(array[int(i)], dtype=np.float64) for i in picks])
    lo, hi = float(np.nanmin(sample)), float(np.nanmax(sample))
    if dtype.kind == "f" and lo >= 0 and hi <= 1:
        return 255.0
    if lo >= 0 and hi <= 255:
        return 1.0
    raise LeapError(
        f"the frames are {dtype} with values from {lo:g} to {hi:g}; convert them to 8-bit "
        "grey levels (0 to 255) or to floats from 0 to 1."
    )


def frame_reader(video) -> tuple:
    """``(reader with read(i) and shape, video path or None)`` for any video a user hands in."""
    from napari_leap.io.video import FrameSource, source_of, video_source

    if isinstance(video, (str, os.PathLike)):
        src = video_source(os.fspath(video))
        return src, Path(src.path)
    if isinstance(video, FrameSource):
        return video, Path(video.path)
    if callable(getattr(video, "read", None)) and len(getattr(video, "shape", ())) == 4:
        path = getattr(video, "path", None)
        return video, None if path is None else Path(path)  # any frame source (duck-typed)
    source = source_of(video)
    shape = tuple(getattr(video, "shape", ()))
    # the layer of a grey video drops the channel axis: same frames, same source
    if (
        source is not None
        and len(shape) in (3, 4)
        and tuple(source.shape[:3]) == shape[:3]
        and (len(shape) == 3 and source.shape[3] == 1 or tuple(source.shape) == shape)
    ):
        return source, Path(source.path)
    return ArrayReader(video), None


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


def _keyframes(reader) -> np.ndarray | None:
    """Frame indices of the keyframes of a container video (cheap to seek to), or None."""
    pts = getattr(reader, "_pts", None)
    path = getattr(reader, "path", None)
    if pts is None or path is None:
        return None
    try:
        import av

        with av.open(str(path)) as c:
            keys = sorted(
                p.pts for p in c.demux(c.streams.video[0]) if p.is_keyframe and p.pts is not None
            )
    except Exception:  # noqa: BLE001 - fall back to even sampling
        return None
    idx = np.searchsorted(np.asarray(pts), keys)
    return np.unique(idx[idx < len(pts)])


def sample_frames(reader, n: int = 40, run: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, frames)``: about ``n`` frames spread over the video, cheap to decode.

    Seeking in a compressed video decodes from the previous keyframe, so when
    keyframes are sparse the samples are taken at keyframes plus a few frames
    decoded forward (``run`` at most), instead of evenly.
    """
    n_frames = int(reader.shape[0])
    idx = sample_indices(n_frames, n)
    keys = _keyframes(reader)
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
