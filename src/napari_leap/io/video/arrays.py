"""HDF5 datasets and zarr arrays of frames as videos, opened lazily."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from napari_leap.io.video.sources import (
    ZARR_SUFFIXES,
    FrameSource,
    VideoError,
    check_index,
    to_uint8,
)


class ArraySource(FrameSource):
    """An HDF5 dataset or a zarr array of frames, opened lazily (and re-opened per process)."""

    def __init__(self, path: str | Path, dataset: str | None = None):
        self.path = Path(path)
        self.kind = (
            "zarr"
            if self.path.suffix.lower() in ZARR_SUFFIXES
            or (
                self.path.is_dir()
                and (self.path / ".zarray").exists()
                or (self.path / "zarr.json").exists()
            )
            else "hdf5"
        )
        self.dataset = dataset if dataset is not None else self._find_dataset()
        self._lock = threading.Lock()
        self._handle = None
        raw = self._array()
        self._layout = _frame_layout(raw.shape, self.path.name)
        self.shape = _apply_layout_shape(raw.shape, self._layout)
        if raw.dtype != np.uint8 and not np.issubdtype(raw.dtype, np.number):
            raise VideoError(f"{self.path.name}:{self.dataset} is not numeric ({raw.dtype}).")
        self._raw_dtype = raw.dtype

    def _open(self):
        if self.kind == "zarr":
            import zarr

            return zarr.open(str(self.path), mode="r")
        import h5py

        return h5py.File(self.path, "r")

    def _find_dataset(self) -> str:
        handle = self._open()
        try:
            found = []
            if self.kind == "zarr":
                import zarr

                if isinstance(handle, zarr.Array):
                    return ""
                for name, arr in handle.arrays():
                    if arr.ndim in (3, 4):
                        found.append((arr.size, name))
            else:
                import h5py

                def visit(name, obj):
                    if isinstance(obj, h5py.Dataset) and obj.ndim in (3, 4):
                        found.append((obj.size, name))

                handle.visititems(visit)
        finally:
            if self.kind == "hdf5":
                handle.close()
        if not found:
            raise VideoError(
                f"{self.path.name} holds no 3-D or 4-D array of frames "
                "(frames, height, width[, channels])."
            )
        preferred = [
            n for _, n in found if n.split("/")[-1] in ("images", "box", "frames", "video")
        ]
        return preferred[0] if preferred else max(found)[1]

    def _array(self):
        if self._handle is None:
            self._handle = self._open()
        return self._handle if self.dataset == "" else self._handle[self.dataset]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handle"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(height, width, channels)`` uint8."""
        index = check_index(index, len(self))
        with self._lock:  # h5py handles are not safe to share across threads
            frame = np.asarray(self._array()[index])
        frame = _apply_layout_frame(frame, self._layout)
        return frame if frame.dtype == np.uint8 else to_uint8(frame)


def _frame_layout(shape: tuple[int, ...], name: str) -> str:
    if len(shape) == 3:
        return "thw"
    if len(shape) == 4:
        if shape[3] in (1, 3, 4):
            return "thwc"
        if shape[1] in (1, 3, 4):
            return "tchw"
    raise VideoError(f"{name}: cannot read an array of shape {shape} as frames.")


def _apply_layout_shape(shape, layout) -> tuple[int, int, int, int]:
    if layout == "thw":
        return (shape[0], shape[1], shape[2], 1)
    if layout == "thwc":
        return (shape[0], shape[1], shape[2], min(shape[3], 3))
    return (shape[0], shape[2], shape[3], min(shape[1], 3))


def _apply_layout_frame(frame: np.ndarray, layout: str) -> np.ndarray:
    if layout == "thw":
        return frame[..., None]
    if layout == "tchw":
        frame = np.moveaxis(frame, 0, -1)
    return frame[..., :3]
