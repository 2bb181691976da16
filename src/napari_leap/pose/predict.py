"""Pose estimation over whole videos: decode ahead, warp boxes, batch through the model, stream out.

One video (or the labelled frames of a labels file) is cut into chunks of
consecutive frames. Decoder threads read and warp whole chunks ahead of the
model (each thread decodes its chunk sequentially, so no seek per frame), the
model runs batch after batch under ``torch.inference_mode`` on the GPU when
there is one, and every finished chunk is written at once to a chunk store
beside the output (``<out>.partial/``). Memory therefore stays flat in video
length, a killed prediction resumes from the chunks already on disk, and a
``dask.distributed`` cluster can compute chunks anywhere: the result is
assembled from the same store in the same order either way.

Aligned models see boxes warped with the alignment's affine (head up) and
their points are mapped back to video pixels with its inverse; identities come
from the alignment, so animal ``a`` is the same track on every frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.io.video import FrameSource, keyframe_indices
from napari_leap.model.poses import default_tracks

#: frames per chunk: the unit of checkpointing, of decode-ahead and of distributed work
CHUNK_SIZE = 128
LABELS_SUFFIXES = {".slp", ".mat", ".nwb", ".json"}
OUTPUT_FORMATS = {"slp": ".slp", "h5": ".h5", "csv": ".csv", "nwb": ".nwb"}


class PredictError(LeapError):
    """A prediction that cannot run as asked."""


# -- events and results ------------------------------------------------------------------
@dataclass
class PredictProgress:
    """One step of a prediction: what is done and, for a finished chunk, its poses."""

    phase: str  # "align", "predict" or "write"
    video: int
    n_videos: int
    done: int  # frames finished in this phase over all videos
    total: int
    fps: float = float("nan")  # frames per second since the phase began (new work only)
    frames: np.ndarray | None = None  # (n,) video frame indices of the finished chunk
    points: np.ndarray | None = None  # (n, A, K, 2) x,y video pixels, NaN = missing
    scores: np.ndarray | None = None  # (n, A, K)
    resumed: bool = False  # True when the chunk came from the store of an earlier run


@dataclass
class PredictResult:
    """Predictions per video, in input order; ``path`` is the written output (if any)."""

    poses: list  # list[napari_leap.model.poses.Poses]
    videos: list  # sleap_io.Video per input video
    path: Path | None = None
    computed_chunks: int = 0  # chunks run by the model in this call (not taken from the store)
    reused_chunks: int = 0
    #: one sentence per way the input differs from the model's training data (pose/fit.py)
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_without_animals(self) -> int:
        """Predicted frames (all videos) on which no animal was found: they hold no instance."""
        return sum(_n_empty(p.points) for p in self.poses)

    def to_labels(self):
        """The predictions as ``sleap_io.Labels`` (PredictedInstances with tracks)."""
        from napari_leap.io.labels import labels_from_poses

        return labels_from_poses(self.poses, self.videos, predicted=True)


# -- inputs ------------------------------------------------------------------------------
class LabelsVideoSource(FrameSource):
    """Frames of a ``sleap_io.Video`` (embedded ``.pkg.slp`` images included), picklable.

    Frame indices are the video's own (``read(700)`` works on a package that
    embeds frames 0, 10 and 700). The backend is reopened per thread.
    """

    def __init__(self, video):
        self.path = Path(video.filename)
        self.backend_metadata = dict(video.backend_metadata)
        shape = video.shape
        frame_map = getattr(video.backend, "frame_map", None) or {}
        n = max([int(k) for k in frame_map] + [shape[0] - 1]) + 1
        self.shape = (n, int(shape[1]), int(shape[2]), int(shape[3]))
        self._local = threading.local()

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_local"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def read(self, index: int) -> np.ndarray:
        video = getattr(self._local, "video", None)
        if video is None:
            import sleap_io as sio

            video = self._local.video = sio.Video(
                filename=str(self.path), backend_metadata=dict(self.backend_metadata)
            )
        frame = np.asarray(video[int(index)])
        if frame.ndim == 2:
            frame = frame[..., None]
        return frame.astype(np.uint8, copy=False)


@dataclass
class VideoJob:
    """One video to predict: where its frames come from, which frames, what to call it."""

    source: FrameSource
    frames: np.ndarray  # (n,) int64, increasing
    video: object = None  # sleap_io.Video written into the output
    alignment: object = None  # napari_leap.align.alignment.Alignment, or None to align here
    name: str = ""
    #: the video holds only the requested frames (an image package): align those frames alone
    align_subset: bool = False
    #: video frame of each alignment frame when the alignment covers part of the video
    align_frames: np.ndarray | None = None

    def spans(self, chunk_size: int) -> list[tuple[int, int]]:
        """Chunks as ``(start, stop)`` positions in ``frames`` (cached; see :func:`chunk_spans`)."""
        cache = self.__dict__.setdefault("_spans", {})
        if chunk_size not in cache:
            cache[chunk_size] = chunk_spans(self.frames, chunk_size, keyframe_indices(self.source))
        return cache[chunk_size]

    def frames_to_align(self) -> np.ndarray:
        """The frames an alignment made here covers: the requested ones for a package,
        else the whole span between the first and last requested frame (tracks stay whole)."""
        if self.align_subset or not len(self.frames):
            return self.frames
        return np.arange(self.frames[0], self.frames[-1] + 1)


class _SubsetSource(FrameSource):
    """The frames ``frames`` of ``source`` as a dense video (aligning a package's frames)."""

    def __init__(self, source: FrameSource, frames: np.ndarray):
        self.source, self.frames, self.path = source, np.asarray(frames), source.path
        self.shape = (len(self.frames), *source.shape[1:])

    def read(self, index: int) -> np.ndarray:
        return self.source.read(int(self.frames[index]))


def _parse_frames(frames, n: int) -> np.ndarray:
    """``None`` (all), a slice/range, ``"A:B"`` text or an index array -> sorted unique indices."""
    if frames is None:
        return np.arange(n, dtype=np.int64)
    if isinstance(frames, str):
        try:
            parts = [int(p) if p.strip() else None for p in frames.split(":")]
        except ValueError:
            raise PredictError(
                f"cannot read the frame range {frames!r}; write it as A:B."
            ) from None
        if len(parts) != 2:
            raise PredictError(f"cannot read the frame range {frames!r}; write it as A:B.")
        frames = slice(*parts)
    if isinstance(frames, range):
        frames = slice(frames.start, frames.stop, frames.step)
    if isinstance(frames, slice):
        start, stop = frames.start or 0, n if frames.stop is None else frames.stop
        if start < 0 or stop > n or start >= stop:
            raise PredictError(
                f"frames {start}:{stop} are out of range: the video has frames 0 to {n - 1}."
            )
        return np.arange(start, stop, frames.step or 1, dtype=np.int64)
    out = np.unique(np.asarray(frames, dtype=np.int64))
    if out.size and (out[0] < 0 or out[-1] >= n):
        raise PredictError(
            f"frame {out[-1] if out[-1] >= n else out[0]} is out of range: "
            f"the video has frames 0 to {n - 1}."
        )
    return out


def _sleap_video_for(path: Path, source: FrameSource):
    import sleap_io as sio

    return sio.Video(
        filename=str(Path(path).resolve()),
        open_backend=False,
        backend_metadata={"shape": list(source.shape), "grayscale": source.shape[3] == 1},
    )


def jobs_from_inputs(inputs, frames=None) -> tuple[list[VideoJob], object]:
    """Normalise inputs to jobs; returns ``(jobs, project or None)``.

    Each input is a video path, a labels file (its labelled frames), a
    ``sleap_io.Labels``, a :class:`FrameSource`, a dask array from
    ``open_video``, a :class:`VideoJob` or a :class:`~napari_leap.io.project.Project`
    (all its videos, with their alignments).
    """
    from napari_leap.io.project import MANIFEST, Project
    from napari_leap.io.video import source_of, video_source

    if (
        isinstance(inputs, (str, Path, Project, VideoJob, FrameSource))
        or hasattr(inputs, "dask")
        or hasattr(inputs, "labeled_frames")
    ):
        inputs = [inputs]
    jobs: list[VideoJob] = []
    project = None
    for item in inputs:
        if isinstance(item, (str, Path)) and (Path(item) / MANIFEST).is_file():
            item = Project.open(item)  # a project folder: all its videos and alignments
        if isinstance(item, VideoJob):
            jobs.append(item)
        elif isinstance(item, Project):
            project = item
            for i in range(len(item.videos)):
                path = item.video_path(i)
                src = video_source(path)
                jobs.append(
                    VideoJob(
                        src,
                        _parse_frames(frames, len(src)),
                        item.sleap_video(i),
                        _project_alignment(item, i),
                        path.name,
                    )
                )
        elif hasattr(item, "labeled_frames"):
            jobs.extend(_jobs_from_labels(item, frames))
        elif isinstance(item, FrameSource):
            jobs.append(_video_job(item, frames))
        elif hasattr(item, "dask"):
            src = source_of(item)
            if src is None:
                raise PredictError(
                    "this array is not a video opened by napari-leap; "
                    "open it with napari_leap.io.video.open_video."
                )
            jobs.append(_video_job(src, frames))
        else:
            path = Path(item)
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist; check the path.")
            if path.is_file() and (
                path.suffix.lower() in LABELS_SUFFIXES or path.name.lower().endswith(".pkg.slp")
            ):
                from napari_leap.io.labels import load_labels

                jobs.extend(_jobs_from_labels(load_labels(path), frames))
            else:
                jobs.append(_video_job(video_source(path), frames))
    if not jobs:
        raise PredictError("nothing to predict: give at least one video or labels file.")
    return jobs, project


def _video_job(source: FrameSource, frames) -> VideoJob:
    """A whole video (or the ``frames`` range of it), not yet aligned."""
    return VideoJob(
        source,
        _parse_frames(frames, len(source)),
        _sleap_video_for(source.path, source),
        None,
        source.path.name,
    )


def _jobs_from_labels(labels, frames) -> list[VideoJob]:
    """One job per video of ``labels``: its labelled frames, read where the labels read them."""
    from napari_leap.io.video import video_source

    jobs = []
    for video in labels.videos:
        idx = np.unique([lf.frame_idx for lf in labels.labeled_frames if lf.video is video]).astype(
            np.int64
        )
        embedded = bool(video.backend_metadata.get("has_embedded_images")) or bool(
            video.backend_metadata.get("dataset") and str(video.filename).endswith(".slp")
        )
        if embedded:
            if video.backend is None:
                video.open()
            src = LabelsVideoSource(video)
        else:
            path = Path(video.filename)
            if not path.exists():
                raise FileNotFoundError(
                    f"the labels refer to {path}, which does not exist; move the video back or "
                    "re-link it in the labels file."
                )
            src = video_source(path)
        if frames is not None:
            idx = np.intersect1d(idx, _parse_frames(frames, len(src)))
        jobs.append(VideoJob(src, idx, video, None, Path(video.filename).name, embedded))
    return jobs


def _project_alignment(project, index: int):
    path = project.alignment_path(index)
    if not path.exists():
        return None
    from napari_leap.align.alignment import Alignment

    return Alignment.load(path)


# -- model -------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _load_model_cached(model_dir: str, device: str | None):
    from napari_leap.pose.trained import TrainedModel

    return TrainedModel.load(model_dir, device=device)


def load_model(model, device: str | None = None):
    """A ``TrainedModel`` from itself or its folder; loaded once per process and device."""
    if hasattr(model, "predict_images"):
        return model
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a trained model folder.")
    if not path.is_dir():
        raise PredictError(f"{path} is a file; give the trained model's folder.")
    return _load_model_cached(str(path.resolve()), device)


def _model_dir(model) -> str | None:
    d = getattr(model, "model_dir", None) or getattr(model, "path", None)
    return str(Path(d).resolve()) if d else None


def _model_fingerprint(model) -> str:
    """Identifies the weights, so chunks of another model are never reused."""
    h = hashlib.sha1()
    d = _model_dir(model)
    if d:
        for p in sorted(Path(d).rglob("*")):  # a learned alignment's stage is in a subfolder
            if p.is_file() and p.suffix in (".pt", ".pth", ".json", ".yaml", ".ckpt"):
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        for t in model.net.state_dict().values():
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()


@dataclass
class _Geometry:
    """How frames become model inputs and points come back."""

    aligned: bool
    n_animals: int
    input_hw: tuple[int, int]

    @classmethod
    def of(cls, model) -> _Geometry:
        cfg = model.config
        al = cfg.get("alignment")
        h, w = (int(v) for v in cfg["input_size"])
        if al:
            return cls(True, int(al["n_animals"]), (h, w))
        return cls(False, 1, (h, w))


# -- frames -> model inputs (runs on decoder threads) ------------------------------------
def _prepare(
    frames: Iterable[np.ndarray],
    n: int,
    affines: np.ndarray | None,
    geo: _Geometry,
    channels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``(n * A, H, W, C)`` uint8 and their 2x3 video->input affines ``(n, A, 2, 3)``.

    ``frames`` is consumed one frame at a time, so only boxes are kept, never a
    batch of full frames. Boxes are warped with bilinear interpolation and a
    black border, exactly as :meth:`Alignment.warp` cuts them for training; an
    unaligned model takes whole frames (it scales them itself by its ``input_scale``).
    """
    import cv2

    h, w = geo.input_hw
    out = np.zeros((n, geo.n_animals, h, w, channels), dtype=np.uint8)
    for i, frame in enumerate(frames):
        frame = _match_channels(frame, channels)
        if not geo.aligned:
            fh, fw = frame.shape[:2]
            if fh > h or fw > w:
                raise PredictError(
                    f"the frames are {fw}x{fh} px but the model was trained on {w}x{h} px "
                    "frames; use a model trained on videos of this size."
                )
            out[i, 0, :fh, :fw] = frame  # smaller frames padded as in training (bottom, right)
            continue
        for a in range(geo.n_animals):
            m = affines[i, a]
            if np.isfinite(m).all():
                warped = cv2.warpAffine(
                    frame,
                    m,
                    (w, h),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0,
                )
                out[i, a] = warped.reshape(h, w, channels)
    if geo.aligned:
        mats = affines
    else:
        mats = np.broadcast_to(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 2, 3))
    return out.reshape(n * geo.n_animals, h, w, channels), np.asarray(mats, dtype=np.float64)


def _match_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """Grey frames for a grey model (RGB averaged, as the trainer does), RGB for a colour one."""
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.shape[2] == channels:
        return frame
    if channels == 1:
        return frame.mean(axis=2, keepdims=True).astype(np.uint8)
    return np.repeat(frame[..., :1], channels, axis=2)


def _to_video(points: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """Invert the 2x3 video->input affines: ``p_video = A^-1 (p_in - t)``; NaN where undefined."""
    a = mats[..., :2]  # (n, A, 2, 2)
    t = mats[..., 2]  # (n, A, 2)
    ok = np.isfinite(mats).all(axis=(-1, -2))
    inv = np.full_like(a, np.nan)
    inv[ok] = np.linalg.inv(a[ok])
    return np.einsum("naij,nakj->naki", inv, points - t[:, :, None, :])


def _chunk_batches(
    source: FrameSource,
    frames: np.ndarray,
    affines: np.ndarray | None,
    geo: _Geometry,
    channels: int,
    batch_frames: int,
) -> Iterator[tuple]:
    """Decode ``frames`` in order (one sequential decoder) and yield prepared batches."""
    for s in range(0, len(frames), batch_frames):
        idx = frames[s : s + batch_frames]
        aff = None if affines is None else affines[s : s + batch_frames]
        images, mats = _prepare((source.read(int(i)) for i in idx), len(idx), aff, geo, channels)
        yield idx, images, mats


class _Model:
    """Forward passes on whole batches under ``torch.inference_mode``."""

    def __init__(self, model, geo: _Geometry):
        self.model = model
        self.geo = geo
        k = len(model.skeleton.nodes) if hasattr(model.skeleton, "nodes") else len(model.skeleton)
        self.n_nodes = k

    def __call__(self, images: np.ndarray, mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        n = mats.shape[0]
        with torch.inference_mode():
            pts, sc = self.model.predict_images(images)
        pts = np.asarray(pts, dtype=np.float64).reshape(n, self.geo.n_animals, self.n_nodes, 2)
        sc = np.asarray(sc, dtype=np.float64).reshape(n, self.geo.n_animals, self.n_nodes)
        video_pts = _to_video(pts, mats)
        missing = ~np.isfinite(mats).all(axis=(-1, -2))  # animals the alignment did not find
        video_pts[missing] = np.nan
        sc[missing] = np.nan
        return video_pts, sc


def _run_chunks(
    model: _Model,
    source: FrameSource,
    chunks: list[tuple[np.ndarray, np.ndarray | None]],
    channels: int,
    batch_frames: int,
    n_decoders: int,
    stop: threading.Event,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(chunk_index, frames, points, scores)`` in order, decoding ahead on threads.

    Each decoder thread owns a whole chunk (sequential decoding, no seeks);
    at most ``n_decoders`` chunks are in flight and each holds at most two
    prepared batches, so memory is bounded whatever the video length.
    """
    n_decoders = max(1, min(n_decoders, len(chunks)))
    queues: dict[int, queue.Queue] = {}
    done_marker = object()
    halt = threading.Event()  # ends the producers when the consumer stops, for any reason

    def produce(ci: int, q: queue.Queue):
        try:
            frames, affines = chunks[ci]
            batches = getattr(model, "batches", _chunk_batches)  # a two-stage runner's own
            for item in batches(source, frames, affines, model.geo, channels, batch_frames):
                while not halt.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if halt.is_set():
                    return
            q.put(done_marker)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            q.put(e)

    with ThreadPoolExecutor(n_decoders, thread_name_prefix="leap-decode") as pool:
        submitted = 0

        def submit_next():
            nonlocal submitted
            if submitted < len(chunks):
                q = queues[submitted] = queue.Queue(maxsize=2)
                pool.submit(produce, submitted, q)
                submitted += 1

        for _ in range(n_decoders):
            submit_next()
        try:
            for ci in range(len(chunks)):
                q = queues.pop(ci)
                parts_f, parts_p, parts_s = [], [], []
                while True:
                    item = q.get()
                    if item is done_marker:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    idx, *inputs = item
                    pts, sc = model(*inputs)
                    parts_f.append(idx)
                    parts_p.append(pts)
                    parts_s.append(sc)
                submit_next()
                _trim_heap()
                yield ci, np.concatenate(parts_f), np.concatenate(parts_p), np.concatenate(parts_s)
                if stop.is_set():
                    return
        finally:
            halt.set()
            for q in queues.values():  # unblock producers waiting on full queues
                while not q.empty():
                    q.get_nowait()


@lru_cache(maxsize=1)
def _libc():
    """glibc, looked up once: ``find_library`` runs ``ldconfig`` in a subprocess, and a fork
    per chunk beside the decoding threads once hung a test run (a forked child stuck on a lock)."""
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk, start to end, on whatever process runs it (a dask worker).

    Same batches as the single-process run, so the same numbers come out.
    """
    model = load_model(model_dir, device)
    geo = _Geometry.of(model)
    runner = _Model(model, geo)
    stop = threading.Event()
    for _, f, p, s in _run_chunks(
        runner, source, [(frames, affines)], _channels(model), batch_frames, 1, stop
    ):
        return f, p, s
    raise RuntimeError("chunk produced no result")  # pragma: no cover


def _channels(model) -> int:
    return int(model.config.get("channels", 1))


# -- chunk store -------------------------------------------------------------------------
class ChunkStore:
    """Finished chunks as ``.npz`` files in a folder, with a manifest that says for what.

    A chunk file is written atomically, so one that exists is whole; a store
    whose manifest differs from the current request (other model, frames or
    chunk size) is cleared instead of reused.
    """

    def __init__(self, root: Path, manifest: dict):
        self.root = Path(root)
        self.manifest = manifest
        self.root.mkdir(parents=True, exist_ok=True)
        mpath = self.root / "manifest.json"
        if mpath.exists():
            try:
                old = json.loads(mpath.read_text())
            except ValueError:
                old = None
            if old != manifest:  # chunks and alignments of another request
                for p in self.root.iterdir():
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.name != "manifest.json":
                        p.unlink()
        from napari_leap.io.atomic import atomic_write_text

        atomic_write_text(mpath, json.dumps(manifest, indent=1, sort_keys=True))

    def path(self, video: int, chunk: int) -> Path:
        return self.root / f"v{video:04d}_c{chunk:06d}.npz"

    def has(self, video: int, chunk: int) -> bool:
        return self.path(video, chunk).exists()

    def write(self, video: int, chunk: int, frames, points, scores) -> None:
        import io

        from napari_leap.io.atomic import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, frames=frames, points=points, scores=scores)
        atomic_write_bytes(self.path(video, chunk), buf.getvalue())

    def read(self, video: int, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self.path(video, chunk)) as z:
            return z["frames"], z["points"], z["scores"]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def _store_lock(root: Path, target: Path) -> Iterator[None]:
    """Hold ``<root>.lock`` while this run uses the chunk store ``root`` for ``target``: a
    second run would clear the store under the first or lose it when the first ends."""
    from napari_leap.io.atomic import Busy, exclusive

    try:
        with exclusive(root.with_name(root.name + ".lock")):
            yield
    except Busy:
        raise PredictError(
            f"another prediction is writing {target} now; wait for it to finish, "
            "or write to another file."
        ) from None


def partial_dir(out: str | Path) -> Path:
    """Where the chunks of a prediction into ``out`` are kept until it is written."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


# -- alignment ---------------------------------------------------------------------------
def _job_affines(job: VideoJob, geo: _Geometry) -> np.ndarray | None:
    """Video->box affines ``(n, A, 2, 3)`` for the job's frames (NaN where an animal is missing).

    Built from ``video_to_box`` of the origin and the two unit vectors, so it
    is the alignment's own transform, vectorised over frames and animals.
    """
    if not geo.aligned:
        return None
    al = job.alignment
    rows = job.frames if job.align_frames is None else np.searchsorted(job.align_frames, job.frames)
    n_al = min(int(al.centers.shape[1]), geo.n_animals)
    out = np.full((len(job.frames), geo.n_animals, 2, 3), np.nan)
    if len(rows) == 0:
        return out
    f = np.repeat(rows[:, None], n_al, 1)
    a = np.repeat(np.arange(n_al)[None, :], len(rows), 0)
    basis = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mapped = al.video_to_box(np.broadcast_to(basis, (*f.shape, 3, 2)), f[..., None], a[..., None])
    origin = mapped[..., 0, :]
    out[:, :n_al, :, 0] = mapped[..., 1, :] - origin
    out[:, :n_al, :, 1] = mapped[..., 2, :] - origin
    out[:, :n_al, :, 2] = origin
    return out


def _training_detector(model, video):
    """The detector that finds animals in ``video`` as in the model's training alignment.

    Its frames are sampled over the whole video, not only the requested range, and
    the background saved with the model is used where it fits the video: a range or
    a cut in which the animals sit still would otherwise have them in its background.
    """
    from napari_leap.align.alignment import setup_detector

    spec = model.config["alignment"]
    return setup_detector(
        video,
        int(spec["n_animals"]),
        getattr(model, "alignment_background", None),  # decoded once
        float(spec.get("animal_length") or "nan"),
        **dict(spec.get("options") or {}),
    )


def _iter_alignments(
    jobs: list[VideoJob], model, store: ChunkStore | None, progress_total: int, local: bool = False
) -> Iterator[PredictProgress]:
    """Align the videos that have no alignment yet (a streaming pass), cached in the store.

    ``local``: a learned-alignment model's videos are left to the one-pass prediction
    (:mod:`napari_leap.pose.two_stage`) instead."""
    from napari_leap.align.alignment import Alignment, iter_align

    spec = model.config["alignment"]
    learned = spec.get("method") == "learned"
    done = 0
    for vi, job in enumerate(jobs):
        cached = store.root / f"alignment_v{vi:04d}" if store is not None else None
        if (
            learned
            and job.alignment is not None
            and job.alignment.options.get("method") != "learned"
        ):
            job.alignment = None  # the model's boxes are placed by its own first stage
        if learned and local and job.alignment is None:
            continue
        if job.alignment is not None:
            if int(job.alignment.box_size) != int(
                spec["box_size"]
            ):  # same transforms, model's crop
                job.alignment = job.alignment.with_box_size(int(spec["box_size"]))
        elif cached is not None and cached.exists():
            job.alignment = Alignment.load(cached, video=job.source)
            job.align_frames = job.frames_to_align()
        else:
            t0 = time.perf_counter()
            job.align_frames = job.frames_to_align()
            whole = len(job.align_frames) == len(job.source)
            video = job.source if whole else _SubsetSource(job.source, job.align_frames)
            gen = (
                _iter_align_learned(video, model, spec, keep_heading=not job.align_subset)
                if learned
                else iter_align(
                    video,
                    n_animals=int(spec["n_animals"]),
                    box_size=int(spec["box_size"]),
                    detector=_training_detector(model, video if job.align_subset else job.source),
                    **dict(spec.get("options") or {}),
                )
            )
            while True:
                try:
                    ev = next(gen)
                except StopIteration as fin:
                    job.alignment = fin.value
                    break
                d = int(ev.done) if ev.stage in ("align", "done") else 0
                dt = time.perf_counter() - t0
                yield PredictProgress(
                    "align",
                    vi,
                    len(jobs),
                    done + d,
                    progress_total,
                    d / dt if dt > 0 else float("nan"),
                )
            if cached is not None:
                job.alignment.save(cached)
            done += len(job.align_frames)


def _iter_align_learned(video, model, spec: dict, keep_heading: bool):
    """The model's own first stage over ``video`` (see :mod:`napari_leap.align.learned`)."""
    from napari_leap.align.learned import iter_align_learned
    from napari_leap.pose.two_stage import aligner_of

    return iter_align_learned(video, aligner_of(model), int(spec["box_size"]), keep_heading)


# -- the prediction ----------------------------------------------------------------------
def iter_predict(
    model,
    inputs,
    *,
    frames=None,
    out: str | Path | None = None,
    batch_size: int = 64,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable | None = None,
    resume: bool = True,
    device: str | None = None,
    client=None,
    n_decoders: int | None = None,
    keep_partial: bool = False,
    stop: threading.Event | None = None,
    format: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[PredictProgress]:
    """Predict every requested frame; yields :class:`PredictProgress`, returns :class:`PredictResult`.

    ``batch_size`` counts model inputs (boxes), ``chunk_size`` frames per
    checkpoint. With ``out`` the chunks go to ``<out>.partial/`` and an
    interrupted call resumes from them (``resume=False`` starts over); the
    folder is removed once ``out`` is written. ``client`` (a
    ``dask.distributed.Client``) computes chunks on its workers. Setting
    ``stop`` ends the run after the current chunk, keeping finished chunks.
    ``warn`` is called with each sentence of :mod:`napari_leap.pose.fit` as soon as it is
    known (the result's ``warnings`` holds them all).
    """
    import tempfile

    from napari_leap.pose import two_stage

    model = load_model(model, device)
    geo = _Geometry.of(model)
    jobs, project = jobs_from_inputs(inputs, frames)
    if project is not None and list(model.skeleton.nodes) != list(project.skeleton.nodes):
        raise PredictError(
            f"the model was trained on another skeleton ({len(model.skeleton)} body parts) than the "
            f"project's ({len(project.skeleton)}); choose a model trained on this project's labels."
        )
    warnings = _fit_warnings(model, jobs, None, warn)
    stop = stop or threading.Event()
    out_path = Path(out) if out is not None else None
    fmt = _output_format(out_path, format) if out_path is not None else None
    tmp = None
    if out_path is not None:
        root = partial_dir(out_path)
    elif project is not None:
        root = project.root / ".predictions.partial"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="napari-leap-predict-")
        root = Path(tmp.name)
    manifest = {
        "model": _model_fingerprint(model),
        "chunk_size": int(chunk_size),
        "batch_frames": _batch_frames(batch_size, geo),
        "videos": [
            {
                "path": str(j.source.path),
                "n_frames": len(j.source),
                "frames": hashlib.sha1(j.frames.tobytes()).hexdigest(),
            }
            for j in jobs
        ],
    }
    held = contextlib.ExitStack()
    try:
        if tmp is None:  # one run at a time may use the chunk store
            held.enter_context(_store_lock(root, out_path or root.parent))
        if not resume and root.exists():
            shutil.rmtree(root)
        store = ChunkStore(root, manifest)
        total = int(sum(len(j.frames) for j in jobs))
        if geo.aligned:
            local = client is None
            n_align = sum(
                len(j.frames_to_align())
                for j in jobs
                if j.alignment is None and not (local and two_stage.is_one_pass(model, j))
            )
            for ev in _iter_alignments(jobs, model, store, n_align, local):
                _emit(progress, ev)
                yield ev
                if stop.is_set():
                    return None
        counts = {"computed": 0, "reused": 0}
        events = (_iter_distributed if client is not None else _iter_local)(
            model,
            geo,
            jobs,
            store,
            int(chunk_size),
            _batch_frames(batch_size, geo),
            n_decoders,
            stop,
            total,
            counts,
            client,
        )
        for ev in events:
            _emit(progress, ev)
            yield ev
        if stop.is_set():
            return None
        result = _assemble(jobs, store, model, geo)
        result.computed_chunks, result.reused_chunks = counts["computed"], counts["reused"]
        if total and result.frames_without_animals == total:
            if not keep_partial and tmp is None:
                store.remove()  # empty chunks: nothing worth resuming
            raise PredictError(
                f"no animal was found on any of the {total} predicted frames, so nothing was "
                "written; check that the video shows the animals the model was trained on "
                "(`napari-leap align` on it shows what is found)."
            )
        result.warnings = warnings + _fit_warnings(model, jobs, result, warn)
        if out_path is not None:
            ev = PredictProgress("write", len(jobs) - 1, len(jobs), total, total)
            _emit(progress, ev)
            yield ev
            result.path = write_predictions(result, out_path, fmt, store=store, jobs=jobs)
        if project is not None:
            project.predictions = result.to_labels()
            project.save()
        if not keep_partial and tmp is None:
            store.remove()
        return result
    finally:
        held.close()
        if tmp is not None:
            tmp.cleanup()


def predict(
    model,
    inputs,
    *,
    frames=None,
    out=None,
    batch_size: int = 64,
    progress=None,
    resume: bool = True,
    **kwargs,
) -> PredictResult:
    """Run :func:`iter_predict` to the end (``progress`` gets each event) and return its result."""
    gen = iter_predict(
        model,
        inputs,
        frames=frames,
        out=out,
        batch_size=batch_size,
        progress=progress,
        resume=resume,
        **kwargs,
    )
    from napari_leap.progress import run_to_end

    return run_to_end(gen)  # iter_predict hands each event to ``progress`` itself


def _fit_warnings(model, jobs, result, warn) -> list[str]:
    """Frames (before the run) or confidences (``result``) that do not fit the model."""
    from napari_leap.pose.fit import confidence_warnings, input_warnings

    if result is None:
        found = input_warnings(model.config, [j.source.shape[1:] for j in jobs])
    else:
        found = confidence_warnings(model.config, [p.scores for p in result.poses])
    for text in found:
        if warn is not None:
            warn(text)
    return found


def _emit(progress, ev):
    if progress is not None:
        progress(ev)


def _batch_frames(batch_size: int, geo: _Geometry) -> int:
    return max(1, int(batch_size) // geo.n_animals)


def chunk_spans(
    frames: np.ndarray, chunk_size: int, keyframes: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """Split ``frames`` into chunks of at least ``chunk_size`` that start on keyframes.

    A decoder thread seeks once to its chunk's first frame; starting chunks on
    keyframes means no frame is decoded twice (a chunk starting mid-GOP would
    first decode the GOP's earlier frames, which belong to the previous chunk).
    Chunks are cut at ``4 * chunk_size`` whatever the GOP, so memory stays bounded.
    """
    n = len(frames)
    if keyframes is None or len(keyframes) == 0:
        return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    gop = np.searchsorted(keyframes, frames, side="right")
    changes = np.flatnonzero(np.diff(gop)) + 1
    spans, start = [], 0
    for c in [*changes.tolist(), n]:
        while c - start > 4 * chunk_size:
            spans.append((start, start + 4 * chunk_size))
            start += 4 * chunk_size
        if c - start >= chunk_size or c == n:
            if c > start:
                spans.append((start, c))
            start = c
    return spans


def _iter_local(
    model, geo, jobs, store, chunk_size, batch_frames, n_decoders, stop, total, counts, client
) -> Iterator[PredictProgress]:
    import os

    from napari_leap.pose import two_stage

    runner = _Model(model, geo)
    if n_decoders is None:
        n_decoders = max(2, min(8, (os.cpu_count() or 2) // 2))
    done = 0
    new_frames = 0
    t0 = time.perf_counter()
    for vi, job in enumerate(jobs):
        one_pass = two_stage.is_one_pass(model, job)
        run = (
            two_stage.TwoStageRunner(model, geo, job, store, vi, chunk_size) if one_pass else runner
        )
        affines = None if one_pass else _job_affines(job, geo)
        spans = job.spans(chunk_size)
        todo = []
        for ci in range(len(spans)):
            if store.has(vi, ci):
                f, p, sc = store.read(vi, ci)
                done += len(f)
                counts["reused"] += 1
                yield PredictProgress(
                    "predict", vi, len(jobs), done, total, float("nan"), f, p, sc, resumed=True
                )
            else:
                todo.append(ci)
        chunks = [
            (
                job.frames[spans[ci][0] : spans[ci][1]],
                None if affines is None else affines[spans[ci][0] : spans[ci][1]],
            )
            for ci in todo
        ]
        for k, f, p, sc in _run_chunks(
            run, job.source, chunks, _channels(model), batch_frames, n_decoders, stop
        ):
            store.write(vi, todo[k], f, p, sc)
            if one_pass:
                run.save_state(todo[k])
            counts["computed"] += 1
            done += len(f)
            new_frames += len(f)
            dt = time.perf_counter() - t0
            yield PredictProgress("predict", vi, len(jobs), done, total, new_frames / dt, f, p, sc)
            if stop.is_set():
                return


def _iter_distributed(
    model, geo, jobs, store, chunk_size, batch_frames, n_decoders, stop, total, counts, client
) -> Iterator[PredictProgress]:
    """Chunks as tasks on a dask cluster; results land in the same store as a local run."""
    from distributed import as_completed

    model_dir = _model_dir(model)
    if model_dir is None:
        raise PredictError(
            "distributed prediction needs the model's folder; load it with "
            "TrainedModel.load(model_dir)."
        )
    device = None
    futures = {}
    done = 0
    for vi, job in enumerate(jobs):
        affines = _job_affines(job, geo)
        for ci, (s, e) in enumerate(job.spans(chunk_size)):
            if store.has(vi, ci):
                f, p, sc = store.read(vi, ci)
                done += len(f)
                counts["reused"] += 1
                yield PredictProgress(
                    "predict", vi, len(jobs), done, total, float("nan"), f, p, sc, resumed=True
                )
                continue
            fut = client.submit(
                predict_chunk,
                model_dir,
                device,
                job.source,
                job.frames[s:e],
                None if affines is None else affines[s:e],
                batch_frames,
                pure=False,
                key=f"leap-predict-{vi}-{ci}-{time.time_ns()}",
            )
            futures[fut] = (vi, ci)
    t0 = time.perf_counter()
    new_frames = 0
    for fut in as_completed(list(futures)):
        vi, ci = futures[fut]
        f, p, sc = fut.result()
        store.write(vi, ci, f, p, sc)
        counts["computed"] += 1
        done += len(f)
        new_frames += len(f)
        dt = time.perf_counter() - t0
        yield PredictProgress("predict", vi, len(jobs), done, total, new_frames / dt, f, p, sc)
        if stop.is_set():
            for other in futures:
                other.cancel()
            return


def _iter_store(
    jobs, store, chunk_size
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    for vi, job in enumerate(jobs):
        for ci in range(len(job.spans(chunk_size))):
            yield (vi, *store.read(vi, ci))


def _n_empty(points: np.ndarray | None) -> int:
    """Frames of ``points`` ``(n, A, K, 2)`` with no point of any animal."""
    if points is None or not len(points):
        return 0
    return int((~np.isfinite(points).all(-1).any((1, 2))).sum())


def _track_names(geo: _Geometry) -> list[str]:
    return default_tracks(geo.n_animals)


def _assemble(jobs, store, model, geo) -> PredictResult:
    """Poses per video from the store (a few floats per frame: small even for long videos)."""
    from napari_leap.model.poses import Poses
    from napari_leap.model.skeleton import Skeleton

    skeleton = Skeleton.from_dict(model.config["skeleton"])
    chunk_size = store.manifest["chunk_size"]
    poses = []
    for vi, job in enumerate(jobs):
        parts = [store.read(vi, ci) for ci in range(len(job.spans(chunk_size)))]
        k = len(skeleton.nodes)
        if parts:
            f = np.concatenate([p[0] for p in parts])
            pts = np.concatenate([p[1] for p in parts])
            sc = np.concatenate([p[2] for p in parts])
        else:
            f = np.zeros(0, np.int64)
            pts = np.zeros((0, geo.n_animals, k, 2))
            sc = np.zeros((0, geo.n_animals, k))
        poses.append(
            Poses(
                frames=f.astype(np.int64),
                points=pts,
                scores=sc,
                tracks=_track_names(geo),
                skeleton=skeleton,
            )
        )
    return PredictResult(poses=poses, videos=[j.video for j in jobs])


# -- writers -----------------------------------------------------------------------------
def _output_format(path: Path, fmt: str | None) -> str:
    if fmt is None:
        suffix = path.suffix.lower()
        for name, ext in OUTPUT_FORMATS.items():
            if suffix == ext:
                return name
        raise PredictError(
            f"cannot write predictions as {suffix or 'a file without extension'}; "
            "use .slp, .h5, .csv or .nwb."
        )
    if fmt not in OUTPUT_FORMATS:
        raise PredictError(f"unknown format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}.")
    return fmt


def write_predictions(
    result: PredictResult,
    out: str | Path,
    fmt: str | None = None,
    *,
    store: ChunkStore | None = None,
    jobs=None,
) -> Path:
    """Write ``result`` as ``.slp`` (streamed), SLEAP analysis ``.h5``, ``.csv`` or ``.nwb``.

    ``.h5`` and ``.csv`` hold one video each: with several videos the files
    are ``<stem>.<n>.h5`` (``n`` = input order).
    """
    out = Path(out)
    fmt = _output_format(out, fmt)
    if fmt == "slp":
        chunks = None
        if store is not None and jobs is not None:
            chunks = _iter_store(jobs, store, store.manifest["chunk_size"])
        write_slp(result.poses, result.videos, out, chunks=chunks)
    elif fmt == "csv":
        for p, path in zip(result.poses, _per_video_paths(out, len(result.poses)), strict=True):
            write_csv(p, path)
    elif fmt == "h5":
        from napari_leap.io.labels import labels_from_poses, save_labels

        for p, v, path in zip(
            result.poses, result.videos, _per_video_paths(out, len(result.poses)), strict=True
        ):
            labels = labels_from_poses(p, [v], predicted=True)
            save_labels(labels, path, format="analysis_h5", video=labels.videos[0])
    else:
        from napari_leap.io.labels import save_labels

        try:
            import ndx_pose  # noqa: F401
        except ImportError:
            raise PredictError(
                "NWB export needs the ndx-pose package; install it with "
                "`pip install ndx-pose`, or save as .slp."
            ) from None
        save_labels(result.to_labels(), out)
    return out


def _per_video_paths(out: Path, n: int) -> list[Path]:
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}.{i}{out.suffix}") for i in range(n)]


def write_csv(poses, path: str | Path) -> Path:
    """One row per frame, animal and body part: ``frame,animal,node,x,y,confidence``.

    Numbers are written with Python's shortest round-trip repr (reading them
    back gives the same floats); missing points have empty x, y, confidence.
    """
    from napari_leap.io.atomic import atomic_path

    path = Path(path)
    nodes = poses.skeleton.nodes

    def num(v: float) -> str:
        return repr(float(v)) if np.isfinite(v) else ""

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write("frame,animal,node,x,y,confidence\n")
        for i, frame in enumerate(poses.frames):
            rows = []
            for a, animal in enumerate(poses.tracks):
                for k, node in enumerate(nodes):
                    x, y = poses.points[i, a, k]
                    rows.append(
                        f"{int(frame)},{animal},{node},{num(x)},{num(y)},"
                        f"{num(poses.scores[i, a, k])}\n"
                    )
            f.writelines(rows)
    return path


def read_csv(path: str | Path) -> tuple[np.ndarray, list[str], list[str], np.ndarray, np.ndarray]:
    """The inverse of :func:`write_csv`: ``frames, animals, nodes, points (N,A,K,2), scores (N,A,K)``."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    frames = sorted({int(r["frame"]) for r in rows})
    animals = list(dict.fromkeys(r["animal"] for r in rows))
    nodes = list(dict.fromkeys(r["node"] for r in rows))
    fi = {f: i for i, f in enumerate(frames)}
    pts = np.full((len(frames), len(animals), len(nodes), 2), np.nan)
    sc = np.full((len(frames), len(animals), len(nodes)), np.nan)
    for r in rows:
        i, a, k = fi[int(r["frame"])], animals.index(r["animal"]), nodes.index(r["node"])
        if r["x"]:
            pts[i, a, k] = float(r["x"]), float(r["y"])
        if r["confidence"]:
            sc[i, a, k] = float(r["confidence"])
    return np.array(frames), animals, nodes, pts, sc


_FRAME_DTYPE = [
    ("frame_id", "u8"),
    ("video", "u4"),
    ("frame_idx", "u8"),
    ("instance_id_start", "u8"),
    ("instance_id_end", "u8"),
]
_INSTANCE_DTYPE = [
    ("instance_id", "i8"),
    ("instance_type", "u1"),
    ("frame_id", "u8"),
    ("skeleton", "u4"),
    ("track", "i4"),
    ("from_predicted", "i8"),
    ("score", "f4"),
    ("point_id_start", "u8"),
    ("point_id_end", "u8"),
    ("tracking_score", "f4"),
]
_PRED_POINT_DTYPE = [("x", "f8"), ("y", "f8"), ("visible", "?"), ("complete", "?"), ("score", "f8")]


def _video_file_ids(videos) -> list[int]:
    """The id SLEAP files give each video in their frame table (as sleap-io's writer does)."""
    ids = []
    for i, video in enumerate(videos):
        vid = i
        dataset = getattr(getattr(video, "backend", None), "dataset", None)
        if dataset:
            group = str(dataset).split("/")[0]
            if group.startswith("video") and group[5:].isdigit():
                vid = int(group[5:])
        ids.append(vid)
    return ids


def write_slp(
    poses_list,
    videos,
    path: str | Path,
    chunks: Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """Write predictions as a SLEAP ``.slp`` file, frame table streamed chunk by chunk.

    sleap-io writes everything but the frames (skeleton, videos, tracks,
    metadata); the frame, instance and point tables are then appended in the
    exact layout of sleap-io's own writer, so the file reads back with
    ``sleap_io.load_slp`` while memory stays flat in the number of frames.
    Animals with no point on a frame are left out, as in
    :func:`napari_leap.io.labels.labels_from_poses`.
    """
    import h5py
    import sleap_io as sio

    from napari_leap.io.atomic import atomic_path
    from napari_leap.io.labels import skeleton_to_sleap

    path = Path(path)
    skeleton = poses_list[0].skeleton
    names = list(poses_list[0].tracks)
    labels = sio.Labels(
        videos=list(videos),
        skeletons=[skeleton_to_sleap(skeleton)],
        tracks=[sio.Track(name=n) for n in names],
    )
    if chunks is None:
        chunks = ((vi, p.frames, p.points, p.scores) for vi, p in enumerate(poses_list))
    file_ids = _video_file_ids(labels.videos)
    k = len(skeleton.nodes)
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + ".slp")
        try:
            sio.save_slp(
                labels, str(named), embed=False, restore_original_videos=False, verbose=False
            )
            with h5py.File(named, "a") as f:
                tables = {}
                for name, dtype in (
                    ("frames", _FRAME_DTYPE),
                    ("instances", _INSTANCE_DTYPE),
                    ("pred_points", _PRED_POINT_DTYPE),
                ):
                    if name in f:
                        del f[name]
                    tables[name] = f.create_dataset(
                        name, shape=(0,), maxshape=(None,), dtype=np.dtype(dtype), chunks=(4096,)
                    )
                n_frames = n_inst = n_pts = 0
                for vi, frames, points, scores in chunks:
                    fr, ins, pp = _slp_rows(
                        file_ids[vi], frames, points, scores, k, n_frames, n_inst, n_pts
                    )
                    for name, rows in (("frames", fr), ("instances", ins), ("pred_points", pp)):
                        ds = tables[name]
                        ds.resize((ds.shape[0] + len(rows),))
                        ds[ds.shape[0] - len(rows) :] = rows
                    n_frames += len(fr)
                    n_inst += len(ins)
                    n_pts += len(pp)
            named.replace(tmp)
        finally:
            named.unlink(missing_ok=True)
    return path


def _slp_rows(video_id: int, frames, points, scores, k: int, f0: int, i0: int, p0: int):
    """Frame, instance and predicted-point rows for one chunk (vectorised, no objects)."""
    present = np.isfinite(points).all(-1).any(-1)  # (n, A): animal has a point on the frame
    keep_frame = present.any(1)
    frames, points, scores, present = (
        frames[keep_frame],
        points[keep_frame],
        scores[keep_frame],
        present[keep_frame],
    )
    n, a_count = present.shape
    per_frame = present.sum(1)
    starts = i0 + np.concatenate([[0], np.cumsum(per_frame)[:-1]]).astype(np.int64)
    fr = np.zeros(n, dtype=_FRAME_DTYPE)
    fr["frame_id"] = f0 + np.arange(n)
    fr["video"] = video_id
    fr["frame_idx"] = frames
    fr["instance_id_start"] = starts
    fr["instance_id_end"] = starts + per_frame
    fi, ai = np.nonzero(present)  # row-major: by frame, then animal (track order)
    m = len(fi)
    ins = np.zeros(m, dtype=_INSTANCE_DTYPE)
    ins["instance_id"] = i0 + np.arange(m)
    ins["instance_type"] = 1  # predicted
    ins["frame_id"] = f0 + fi
    ins["skeleton"] = 0
    ins["track"] = ai
    ins["from_predicted"] = -1
    sc = scores[fi, ai]  # (m, K)
    finite = np.isfinite(sc)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite.any(1), np.nansum(sc, 1) / np.maximum(finite.sum(1), 1), 0.0)
    ins["score"] = mean
    ins["point_id_start"] = p0 + np.arange(m) * k
    ins["point_id_end"] = p0 + (np.arange(m) + 1) * k
    ins["tracking_score"] = 0.0
    pts = points[fi, ai].reshape(-1, 2)
    pp = np.zeros(m * k, dtype=_PRED_POINT_DTYPE)
    pp["x"], pp["y"] = pts[:, 0], pts[:, 1]
    pp["visible"] = np.isfinite(pts).all(1)
    pp["complete"] = False
    pp["score"] = np.nan_to_num(sc.reshape(-1), nan=0.0)
    return fr, ins, pp
