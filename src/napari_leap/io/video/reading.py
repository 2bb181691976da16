"""Open any video as a frame source or a lazy dask array, and read frames from any array.

:func:`open_video` wraps a source in a dask array with one frame per chunk, so
napari, the aligner and the predictor all stream the same way;
:func:`frame_reader` gives the aligner and the frame suggester one reader for
whatever they are handed (a path, a source, a napari layer's array).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.video.arrays import ArraySource
from napari_leap.io.video.folder import ImageFolderSource, folder_images
from napari_leap.io.video.pyav import PyAVSource
from napari_leap.io.video.sources import (
    HDF5_SUFFIXES,
    IMAGE_SUFFIXES,
    ZARR_SUFFIXES,
    FrameSource,
    VideoError,
)


def video_source(path: str | Path, dataset: str | None = None) -> FrameSource:
    """The frame source for ``path``, chosen by its suffix or, for folders, its contents."""
    path = Path(path)
    text = str(path)
    if dataset is None and re.search(r"\.(h5|hdf5|zarr):", text):
        text, dataset = text.rsplit(":", 1)
        path = Path(text)
    if not path.exists():
        raise VideoError(f"{path} does not exist; check the path.")
    suffix = path.suffix.lower()
    if path.is_dir():
        if is_zarr_folder(path):
            return ArraySource(path, dataset)
        return ImageFolderSource(path)
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes).")
    if suffix in HDF5_SUFFIXES:
        return ArraySource(path, dataset)
    if suffix in IMAGE_SUFFIXES:
        raise VideoError(f"{path.name} is a single image; open the folder that holds the frames.")
    return PyAVSource(path)


def is_zarr_folder(path: Path) -> bool:
    """True for a folder that is a zarr array or group, not a folder of images."""
    markers = (".zarray", "zarr.json", ".zgroup")
    return path.suffix.lower() in ZARR_SUFFIXES or any((path / m).exists() for m in markers)


def image_files(video) -> list[Path] | None:
    """The files of a video that is a folder or a list of images, one per frame.

    None for a container, an HDF5 file or a zarr folder, whose frames have no file.
    """
    if isinstance(video, (list, tuple)):
        return [Path(str(p)) for p in video]
    path = Path(str(video))
    if path.is_dir() and not is_zarr_folder(path):
        return folder_images(path)
    return None


def as_dask(source: FrameSource, frames_per_chunk: int = 1):
    """A dask array over ``source``; each chunk is decoded only when computed."""
    import dask.array as da

    return da.from_array(
        source,
        chunks=(frames_per_chunk, *source.shape[1:]),
        lock=False,
        fancy=False,
        asarray=False,
        meta=np.empty((0, 0, 0, 0), dtype=np.uint8),
        name=f"video-{source.path.name}-{abs(hash((str(source.path), source.shape)))}",
    )


def open_video(path: str | Path, dataset: str | None = None, frames_per_chunk: int = 1):
    """Open a video, image folder, HDF5 dataset or zarr array as a lazy dask array.

    The array is ``(frames, height, width, channels)`` uint8; frame ``i`` equals
    the ``i``-th frame of a sequential decode. ``dataset`` picks the array inside
    an HDF5 or zarr file (also written ``file.h5:/images``).
    """
    return as_dask(video_source(path, dataset), frames_per_chunk)


def source_of(video) -> FrameSource | None:
    """The :class:`FrameSource` behind a dask array from :func:`open_video`, if any."""
    graph = getattr(video, "dask", None)
    if graph is None:
        return None
    for layer in graph.layers.values():
        for value in layer.values() if hasattr(layer, "values") else ():
            if isinstance(value, FrameSource):
                return value
    return None


def seekable_source(video) -> FrameSource:
    """The source of a video path or an :func:`open_video` array, for frame-exact reads.

    Prediction reads frames by number; an array napari-leap did not open has no source.
    """
    source = video_source(video) if isinstance(video, (str, Path)) else source_of(video)
    if source is None:
        raise LeapError(
            "this video cannot be read frame by frame (napari-leap did not open it); "
            "open the video file."
        )
    return source


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
        self.scale = _uint8_scale(array)

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(height, width, channels)`` uint8."""
        frame = np.asarray(self.array[int(i)])
        if self.scale is not None:
            frame = np.clip(np.rint(np.nan_to_num(frame * self.scale)), 0, 255).astype(np.uint8)
        return frame[..., None] if frame.ndim == 2 else frame


def _uint8_scale(array) -> float | None:
    """The factor that takes frames of another type to 0-255 grey levels (None for uint8).

    255 for floats from 0 to 1 (as scikit-image writes them), 1 for values already
    in 0-255. One factor for the whole video (from a few frames), so every frame
    is scaled alike.
    """
    dtype = np.dtype(array.dtype)
    if dtype == np.uint8:
        return None
    if dtype == np.bool_:
        return 255.0
    n = int(array.shape[0])
    picks = np.unique(np.linspace(0, n - 1, min(5, n)).round().astype(int))
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


def frame_reader(video) -> tuple[FrameSource | ArrayReader, Path | None]:
    """``(reader with read(i) and shape, video path or None)`` for what callers are handed.

    A path opens its source; a dask array from :func:`open_video` (also a grey
    layer's, which drops the channel axis) reads through its source, so frames
    decode once; any other array of frames is read as uint8.
    """
    if isinstance(video, (str, os.PathLike)):
        src = video_source(Path(video))
        return src, Path(src.path)
    if isinstance(video, FrameSource):
        return video, Path(video.path)
    if callable(getattr(video, "read", None)) and len(getattr(video, "shape", ())) == 4:
        path = getattr(video, "path", None)
        return video, None if path is None else Path(path)  # any frame source (duck-typed)
    found = source_of(video)
    shape = tuple(getattr(video, "shape", ()))
    if (
        found is not None
        and len(shape) in (3, 4)
        and tuple(found.shape[:3]) == shape[:3]
        and (len(shape) == 3 and found.shape[3] == 1 or tuple(found.shape) == shape)
    ):
        return found, Path(found.path)
    return ArrayReader(video), None
