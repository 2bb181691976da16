"""What every frame source shares: the array-like base, its errors and the file kinds.

Every source is exposed as an array-like with ``shape (frames, height, width,
channels)`` and dtype uint8 whose ``__getitem__`` decodes only what is asked
for (see :mod:`napari_leap.io.video.reading`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
HDF5_SUFFIXES = {".h5", ".hdf5"}
ZARR_SUFFIXES = {".zarr"}


class VideoError(LeapError):
    """A video that cannot be opened or read; the message says why and what to do."""


class FrameSource:
    """Base of the array-likes behind :func:`open_video`: shape, dtype and frame reads."""

    dtype = np.dtype(np.uint8)
    path: Path
    shape: tuple[int, int, int, int]

    @property
    def ndim(self) -> int:
        """Always 4 (frames, height, width, channels), as dask expects of an array."""
        return 4

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(height, width, channels)`` uint8."""
        raise NotImplementedError

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            return (
                self.read(check_index(int(first), len(self)))[rest]
                if rest
                else self.read(check_index(int(first), len(self)))
            )
        indices = np.arange(len(self))[first]
        frames = np.empty((len(indices), *self.shape[1:]), dtype=np.uint8)
        for k, i in enumerate(indices):
            frames[k] = self.read(int(i))
        return frames[(slice(None),) + rest] if rest else frames


class PerThreadSource(FrameSource):
    """A FrameSource with one decoder per thread (``self._local``), left out when pickled.

    Decoders are not thread-safe and cannot be pickled; a dask worker opens its own.
    """

    _local: threading.local

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()


def check_index(i: int, n: int) -> int:
    """``i`` as a frame number of ``n`` frames (negative counts from the end); IndexError outside."""
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"frame {i} is out of range: the video has frames 0 to {n - 1}")
    return i


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Frames of another type as 8-bit: the top byte of integers, floats stretched to 0-255."""
    if np.issubdtype(image.dtype, np.integer):
        shift = max(int(np.iinfo(image.dtype).bits) - 8, 0)
        return (image >> shift).astype(np.uint8)
    lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
    return np.clip((image - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.uint8)


def same_video(a: str | Path, b: str | Path) -> bool:
    """True when two stored paths name one video file (relative and absolute spellings alike)."""
    return Path(a).resolve() == Path(b).resolve()


def pad_to(frame: np.ndarray, frame_hw) -> np.ndarray:
    """A smaller frame padded with black at the bottom and right to ``frame_hw``.

    The video-pixel coordinates of what it shows stay as they were.
    """
    dh, dw = int(frame_hw[0]) - frame.shape[0], int(frame_hw[1]) - frame.shape[1]
    if dh <= 0 and dw <= 0:
        return frame
    pad = [(0, max(dh, 0)), (0, max(dw, 0))] + [(0, 0)] * (frame.ndim - 2)
    return np.pad(frame, pad)
