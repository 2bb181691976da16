"""Frame-exact lazy video: containers, image folders, HDF5 and zarr as dask arrays.

Every source is exposed as an array-like with ``shape (frames, height, width,
channels)`` and dtype uint8 whose ``__getitem__`` decodes only what is asked
for; :func:`open_video` wraps it in a dask array with one frame per chunk, so
napari, the aligner and the predictor all stream the same way.
"""

from __future__ import annotations

import re
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
                self.read(_check_index(int(first), len(self)))[rest]
                if rest
                else self.read(_check_index(int(first), len(self)))
            )
        indices = np.arange(len(self))[first]
        frames = np.empty((len(indices), *self.shape[1:]), dtype=np.uint8)
        for k, i in enumerate(indices):
            frames[k] = self.read(int(i))
        return frames[(slice(None), *rest)] if rest else frames


def _check_index(i: int, n: int) -> int:
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise IndexError(f"frame {i} is out of range: the video has frames 0 to {n - 1}")
    return i


class PyAVSource(FrameSource):
    """A video container decoded with PyAV, frame-exact for any codec and GOP layout.

    Frames are addressed by presentation timestamp: an index of every packet's
    pts (demuxed once, no decoding) maps frame ``i`` to its pts. A read seeks to
    the keyframe at or before that pts and decodes forward; sequential reads
    continue the running decoder without seeking. Decoders are cached per
    thread, so dask workers never share one.
    """

    #: decode forward instead of seeking when the target is at most this far ahead
    forward_window = 48

    def __init__(self, path: str | Path, grayscale: bool | None = None):
        import av

        self.path = Path(path)
        try:
            container = av.open(str(self.path))
        except av.error.InvalidDataError as e:
            raise VideoError(
                f"{self.path.name} is not a video that FFmpeg can read ({e.strerror}); "
                "check it is really a video and not truncated (an MP4 cut before its "
                "index cannot be recovered; re-export or re-record it)."
            ) from None
        except av.error.FFmpegError as e:
            raise VideoError(f"cannot open {self.path.name}: {e}") from None
        with container:
            if not container.streams.video:
                raise VideoError(f"{self.path.name} holds no video stream.")
            stream = container.streams.video[0]
            if stream.codec_context is None:  # demuxed, but FFmpeg has no decoder for it
                raise VideoError(
                    f"{self.path.name} uses a video codec FFmpeg cannot decode; re-encode it, "
                    "e.g. `ffmpeg -i in.avi -c:v libx264 -crf 15 out.mp4`."
                )
            self.codec = stream.codec_context.name
            self.fps = float(stream.average_rate) if stream.average_rate else float("nan")
            pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
        if not pts:
            raise VideoError(f"{self.path.name} holds no video frames.")
        self._pts = sorted(pts)
        self._local = threading.local()
        first = self._decode_first()
        if grayscale is None:
            grayscale = _looks_gray(first)
        self.grayscale = bool(grayscale)
        height, width = first.shape[:2]
        self.shape = (len(self._pts), height, width, 1 if self.grayscale else 3)

    def _decode_first(self) -> np.ndarray:
        import av

        try:
            with av.open(str(self.path)) as c:
                for frame in c.decode(video=0):
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise VideoError(
                f"{self.path.name}: cannot decode its first frame ({e}); the codec may be "
                "unsupported or the file damaged. Re-encode it, e.g. "
                "`ffmpeg -i in.avi -c:v libx264 -crf 15 out.mp4`."
            ) from None
        raise VideoError(f"{self.path.name}: no frame could be decoded.")

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _decoder(self):
        dec = getattr(self._local, "decoder", None)
        if dec is None:
            import av

            container = av.open(str(self.path))
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            dec = self._local.decoder = {
                "container": container,
                "stream": stream,
                "frames": None,
                "next": None,
            }
        return dec

    def close(self) -> None:
        dec = getattr(self._local, "decoder", None)
        if dec is not None:
            dec["container"].close()
            self._local.decoder = None

    def read(self, index: int) -> np.ndarray:
        index = _check_index(index, len(self))
        target = self._pts[index]
        dec = self._decoder()
        ahead = None if dec["next"] is None else index - dec["next"]
        if ahead is None or not 0 <= ahead <= self.forward_window:
            dec["container"].seek(target, stream=dec["stream"], backward=True, any_frame=False)
            dec["frames"] = dec["container"].decode(dec["stream"])
        fmt = "gray" if self.grayscale else "rgb24"
        try:
            for frame in dec["frames"]:
                pts = frame.pts
                if pts is None or pts < target:
                    continue
                if pts > target:  # the frame has no exact match (damaged stream)
                    break
                dec["next"] = index + 1
                image = frame.to_ndarray(format=fmt)
                return image[..., None] if self.grayscale else image
        except Exception as e:  # noqa: BLE001 - FFmpeg errors come in several classes
            dec["next"] = None
            raise VideoError(
                f"{self.path.name}: frame {index} cannot be decoded ({e}); the file may be "
                "truncated or damaged."
            ) from None
        dec["next"] = None
        raise VideoError(
            f"{self.path.name}: frame {index} cannot be decoded; the file may be truncated "
            f"(the last frame that decodes is before {index})."
        )


def _looks_gray(rgb: np.ndarray) -> bool:
    """True when a colour-coded frame carries no colour (common for behaviour rigs)."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return int(max(np.abs(r - g).max(), np.abs(g - b).max())) <= 2


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class ImageFolderSource(FrameSource):
    """A folder of images, one frame per file in natural sort order (img2 after img1)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        files = sorted(
            (p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
            key=lambda p: _natural_key(p.name),
        )
        if not files:
            raise VideoError(f"{self.path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        self.files = files
        first = self._imread(files[0])
        sizes = {}
        for f in files:
            shape = _image_size(f)
            sizes.setdefault(shape, []).append(f.name)
        if len(sizes) > 1:
            desc = "; ".join(
                f"{w}x{h}: {len(n)} files (e.g. {n[0]})" for (h, w), n in sizes.items()
            )
            raise VideoError(
                f"{self.path.name}: images have different sizes ({desc}); "
                "every frame must be the same size."
            )
        self.shape = (len(files), first.shape[0], first.shape[1], first.shape[2])

    @staticmethod
    def _imread(path: Path) -> np.ndarray:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise VideoError(f"{path.name} cannot be read as an image.")
        if image.dtype != np.uint8:
            image = _to_uint8(image)
        if image.ndim == 2:
            return image[..., None]
        if image.shape[2] == 4:
            image = image[..., :3]
        return image[..., ::-1].copy()  # BGR -> RGB

    def read(self, index: int) -> np.ndarray:
        image = self._imread(self.files[_check_index(index, len(self))])
        channels = self.shape[3]
        if image.shape[2] != channels:
            image = (
                image.mean(axis=2, keepdims=True).astype(np.uint8)
                if channels == 1
                else (np.repeat(image, 3, axis=2))
            )
        return image


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image, read from the file header where PIL is available."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except ImportError:  # pragma: no cover - PIL ships with napari
        return ImageFolderSource._imread(path).shape[:2]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.integer):
        shift = max(int(np.iinfo(image.dtype).bits) - 8, 0)
        return (image >> shift).astype(np.uint8)
    lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
    return np.clip((image - lo) / max(hi - lo, 1e-12) * 255, 0, 255).astype(np.uint8)


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
        index = _check_index(index, len(self))
        with self._lock:  # h5py handles are not safe to share across threads
            frame = np.asarray(self._array()[index])
        frame = _apply_layout_frame(frame, self._layout)
        return frame if frame.dtype == np.uint8 else _to_uint8(frame)


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
        if (
            suffix in ZARR_SUFFIXES
            or (path / ".zarray").exists()
            or (path / "zarr.json").exists()
            or (path / ".zgroup").exists()
        ):
            return ArraySource(path, dataset)
        return ImageFolderSource(path)
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes).")
    if suffix in HDF5_SUFFIXES:
        return ArraySource(path, dataset)
    if suffix in IMAGE_SUFFIXES:
        raise VideoError(f"{path.name} is a single image; open the folder that holds the frames.")
    return PyAVSource(path)


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


def pad_to(frame: np.ndarray, frame_hw) -> np.ndarray:
    """A smaller frame padded with black at the bottom and right to ``frame_hw``: the
    video-pixel coordinates of what it shows stay as they were."""
    dh, dw = int(frame_hw[0]) - frame.shape[0], int(frame_hw[1]) - frame.shape[1]
    if dh <= 0 and dw <= 0:
        return frame
    pad = [(0, max(dh, 0)), (0, max(dw, 0))] + [(0, 0)] * (frame.ndim - 2)
    return np.pad(frame, pad)
