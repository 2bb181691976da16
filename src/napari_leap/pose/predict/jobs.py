"""What to predict: inputs (videos, labels files, projects) as jobs, cut into chunks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_leap.io.video import FrameSource, keyframe_indices
from napari_leap.io.video.labels_frames import LabelsVideoSource, is_embedded
from napari_leap.pose.predict.results import PredictError

if TYPE_CHECKING:
    from napari_leap.align.alignment import Alignment
    from napari_leap.io.project import Project

LABELS_SUFFIXES = {".slp", ".mat", ".nwb", ".json"}


@dataclass
class VideoJob:
    """One video to predict: where its frames come from, which frames, what to call it."""

    source: FrameSource
    frames: np.ndarray  # (n,) int64, increasing
    video: Any = None  # sleap_io.Video written into the output
    alignment: Alignment | None = None  # None: align here
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
        """The frames an alignment made here covers.

        The requested ones for a package, else the whole span between the first and last
        requested frame (tracks stay whole).
        """
        if self.align_subset or not len(self.frames):
            return self.frames
        return np.arange(self.frames[0], self.frames[-1] + 1)


class SubsetSource(FrameSource):
    """The frames ``frames`` of ``source`` as a dense video (aligning a package's frames)."""

    def __init__(self, source: FrameSource, frames: np.ndarray):
        self.source, self.frames, self.path = source, np.asarray(frames), source.path
        self.shape = (len(self.frames), *source.shape[1:])

    def read(self, index: int) -> np.ndarray:
        """Frame ``frames[index]`` of the source."""
        return self.source.read(int(self.frames[index]))


def parse_frames(frames, n: int) -> np.ndarray:
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


def jobs_from_inputs(inputs, frames=None) -> tuple[list[VideoJob], Project | None]:
    """Normalise inputs to jobs; returns ``(jobs, project or None)``.

    Each input is a video path, a labels file (its labelled frames), a
    ``sleap_io.Labels``, a :class:`FrameSource`, a dask array from
    ``open_video``, a :class:`VideoJob` or a :class:`~napari_leap.io.project.Project`
    (all its videos, with their alignments).
    """
    from napari_leap.io.project import MANIFEST, Project

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
        if isinstance(item, Project):
            project = item
        jobs.extend(_jobs_of(item, frames))
    if not jobs:
        raise PredictError("nothing to predict: give at least one video or labels file.")
    return jobs, project


def _jobs_of(item, frames) -> list[VideoJob]:
    """The jobs of one input (see :func:`jobs_from_inputs`)."""
    from napari_leap.io.project import Project
    from napari_leap.io.video import source_of, video_source

    if isinstance(item, VideoJob):
        return [item]
    if isinstance(item, Project):
        return [_project_job(item, i, frames) for i in range(len(item.videos))]
    if hasattr(item, "labeled_frames"):
        return _jobs_from_labels(item, frames)
    if isinstance(item, FrameSource):
        return [_video_job(item, frames)]
    if hasattr(item, "dask"):
        src = source_of(item)
        if src is None:
            raise PredictError(
                "this array is not a video opened by napari-leap; "
                "open it with napari_leap.io.video.open_video."
            )
        return [_video_job(src, frames)]
    path = Path(item)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path.")
    from napari_leap.io.labels import is_dlc_file, load_labels
    from napari_leap.io.labels.dlc_project import dlc_labels_path
    from napari_leap.io.video import ImageFolderSource
    from napari_leap.io.video.folder import in_sequence

    if path.is_file() and (path.suffix.lower() in LABELS_SUFFIXES or is_dlc_file(path)):
        return _jobs_from_labels(load_labels(path), frames)
    if dlc_labels_path(path) is not None:  # a DeepLabCut project's (or folder's) frames
        return _jobs_from_labels(load_labels(path), frames)
    job = _video_job(video_source(path), frames)
    if isinstance(job.source, ImageFolderSource) and not in_sequence(job.source.files):
        job.align_subset = True  # frames extracted for labelling: no tracks run through them
    return [job]


def _project_job(project: Project, index: int, frames) -> VideoJob:
    """A project's video ``index`` with the project's alignment of it (if any)."""
    from napari_leap.io.video import video_source

    path = project.video_path(index)
    src = video_source(path)
    return VideoJob(
        src,
        parse_frames(frames, len(src)),
        project.sleap_video(index),
        _project_alignment(project, index),
        path.name,
    )


def _video_job(source: FrameSource, frames) -> VideoJob:
    """A whole video (or the ``frames`` range of it), not yet aligned."""
    return VideoJob(
        source,
        parse_frames(frames, len(source)),
        _sleap_video_for(source.path, source),
        None,
        source.path.name,
    )


def _jobs_from_labels(labels, frames) -> list[VideoJob]:
    """One job per video of ``labels``: its labelled frames, read where the labels read them."""
    from napari_leap.io.video import ImageFolderSource, video_source

    jobs = []
    for video in labels.videos:
        idx = np.unique([lf.frame_idx for lf in labels.labeled_frames if lf.video is video]).astype(
            np.int64
        )
        embedded = is_embedded(video)
        src: FrameSource
        if embedded:
            if video.backend is None:
                video.open()
            src = LabelsVideoSource(video)
            held = getattr(video.backend, "frame_map", None)
            if held:  # a package embeds only some frames (a frame labelled empty has none)
                idx = np.intersect1d(idx, np.fromiter(held, np.int64))
        elif isinstance(video.filename, (list, tuple)):  # a SLEAP or COCO file's images
            files = [Path(str(f)) for f in video.filename]
            src = ImageFolderSource(files[0].parent, files)
        else:
            path = Path(video.filename)
            if not path.exists():
                raise FileNotFoundError(
                    f"the labels refer to {path}, which does not exist; move the video back or "
                    "re-link it in the labels file."
                )
            src = video_source(path)
        if frames is not None:
            idx = np.intersect1d(idx, parse_frames(frames, len(src)))
        # a labels file's folder of images (DeepLabCut's labelled frames without their video)
        # holds frames of unknown times, like a package: no tracks run through them
        subset = embedded or isinstance(src, ImageFolderSource)
        jobs.append(VideoJob(src, idx, video, None, src.path.name, subset))
    return jobs


def _project_alignment(project: Project, index: int) -> Alignment | None:
    path = project.alignment_path(index)
    if not path.exists():
        return None
    from napari_leap.align.alignment import Alignment

    return Alignment.load(path)


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
