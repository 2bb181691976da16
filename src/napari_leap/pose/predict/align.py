"""The alignment pass before prediction: boxes for videos that have no alignment yet."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from napari_leap.pose.predict.inputs import Geometry, box_affines
from napari_leap.pose.predict.jobs import SubsetSource, VideoJob
from napari_leap.pose.predict.results import PredictProgress
from napari_leap.pose.predict.store import ChunkStore


def job_affines(job: VideoJob, geo: Geometry) -> np.ndarray | None:
    """Video->box affines ``(n, A, 2, 3)`` for the job's frames (NaN where an animal is missing)."""
    if not geo.aligned:
        return None
    al = job.alignment
    assert al is not None  # aligned jobs have theirs by now (iter_alignments)
    rows = job.frames if job.align_frames is None else np.searchsorted(job.align_frames, job.frames)
    n_al = min(int(al.centers.shape[1]), geo.n_animals)
    out = np.full((len(job.frames), geo.n_animals, 2, 3), np.nan)
    if len(rows):
        out[:, :n_al] = box_affines(al.centers[rows, :n_al], al.angles[rows, :n_al], al.box_size)
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


def iter_alignments(
    jobs: list[VideoJob], model, store: ChunkStore | None, progress_total: int, local: bool = False
) -> Iterator[PredictProgress]:
    """Align the videos that have no alignment yet (a streaming pass), cached in the store.

    ``local``: a learned-alignment model's videos are left to the one-pass prediction
    (:mod:`napari_leap.pose.two_stage`) instead.
    """
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
            video = job.source if whole else SubsetSource(job.source, job.align_frames)
            gen = (
                _iter_align_learned(video, model, spec, not job.align_subset, job.align_frames)
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


def _iter_align_learned(video, model, spec: dict, keep_heading: bool, numbers):
    """The model's own first stage over ``video`` (see :mod:`napari_leap.pose.first_stage`).

    ``numbers``: which frames of their video ``video``'s frames are.
    """
    from napari_leap.pose.first_stage import iter_align_learned
    from napari_leap.pose.two_stage import aligner_of

    return iter_align_learned(
        video, aligner_of(model), int(spec["box_size"]), keep_heading, numbers=numbers
    )
