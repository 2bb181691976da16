"""The front doors: :func:`iter_predict` (a progress generator) and :func:`predict`."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_leap.pose import two_stage
from napari_leap.pose.predict.align import iter_alignments
from napari_leap.pose.predict.distributed import iter_distributed
from napari_leap.pose.predict.inputs import Geometry, batch_frames
from napari_leap.pose.predict.jobs import VideoJob, jobs_from_inputs
from napari_leap.pose.predict.local import iter_local
from napari_leap.pose.predict.model import load_model, model_fingerprint
from napari_leap.pose.predict.results import PredictError, PredictProgress, PredictResult
from napari_leap.pose.predict.state import PredictOptions, PredictRun
from napari_leap.pose.predict.store import ChunkStore, partial_dir, store_lock
from napari_leap.pose.predict.writers import output_format, write_predictions

if TYPE_CHECKING:
    from napari_leap.io.project import Project


def iter_predict(
    model, inputs, options: PredictOptions | None = None, **kwargs: Any
) -> Generator[PredictProgress, None, PredictResult | None]:
    """Predict every requested frame; yields :class:`PredictProgress`, returns :class:`PredictResult`.

    The keywords are the fields of :class:`PredictOptions` (they override ``options``).
    The result's ``warnings`` holds every sentence handed to ``warn``; a stopped run
    returns None.
    """
    opts = dataclasses.replace(options or PredictOptions(), **kwargs)
    model = load_model(model, opts.device)
    geo = Geometry.of(model)
    jobs, project = jobs_from_inputs(inputs, opts.frames)
    _check_skeleton(model, project)
    if opts.flip_average:  # refused before any work for a model trained without flips
        model.flip_average_permutation()
    warnings = _fit_warnings(model, jobs, None, opts.warn)
    out_path = Path(opts.out) if opts.out is not None else None
    fmt = output_format(out_path, opts.format) if out_path is not None else None
    with contextlib.ExitStack() as held:
        root, temporary = _store_root(held, out_path, project)
        if not temporary:  # one run at a time may use the chunk store
            held.enter_context(store_lock(root, out_path or root.parent))
        if not opts.resume and root.exists():
            shutil.rmtree(root)
        store = ChunkStore(root, _manifest(model, geo, jobs, opts))
        run = PredictRun(model, geo, jobs, store, opts, opts.stop or threading.Event())
        if geo.aligned:
            local = opts.client is None
            for ev in _reported(iter_alignments(jobs, model, store, _to_align(run), local), opts):
                yield ev
                if run.stop.is_set():
                    return None
        yield from _reported((iter_local if opts.client is None else iter_distributed)(run), opts)
        if run.stop.is_set():
            return None
        result = _assemble(run)
        _refuse_empty(run, result, temporary)
        result.warnings = warnings + _fit_warnings(model, jobs, result, opts.warn)
        if out_path is not None:
            write = PredictProgress("write", len(jobs) - 1, len(jobs), run.total, run.total)
            yield from _reported([write], opts)
            result.path = write_predictions(result, out_path, fmt, store=store, jobs=jobs)
        if project is not None:
            project.predictions = result.to_labels()
            project.save()
        if not opts.keep_partial and not temporary:
            store.remove()
        return result


def predict(model, inputs, options: PredictOptions | None = None, **kwargs: Any):
    """Run :func:`iter_predict` to the end (``progress`` gets each event) and return its result."""
    from napari_leap.progress import run_to_end

    # iter_predict hands each event to ``progress`` itself
    return run_to_end(iter_predict(model, inputs, options, **kwargs))


def _check_skeleton(model, project: Project | None) -> None:
    """A project's videos are predicted only by a model of the project's skeleton."""
    if project is not None and list(model.skeleton.nodes) != list(project.skeleton.nodes):
        raise PredictError(
            f"the model was trained on another skeleton ({len(model.skeleton)} body parts) than the "
            f"project's ({len(project.skeleton)}); choose a model trained on this project's labels."
        )


def _store_root(
    held: contextlib.ExitStack, out: Path | None, project: Project | None
) -> tuple[Path, bool]:
    """The chunk store's folder and whether it is a temporary one (removed at the end)."""
    if out is not None:
        return partial_dir(out), False
    if project is not None:
        return project.root / ".predictions.partial", False
    tmp = held.enter_context(tempfile.TemporaryDirectory(prefix="napari-leap-predict-"))
    return Path(tmp), True


def _manifest(model, geo: Geometry, jobs: list[VideoJob], opts: PredictOptions) -> dict:
    """What the chunks are for: a store made for anything else is cleared, not reused."""
    return {
        "model": model_fingerprint(model),
        "chunk_size": int(opts.chunk_size),
        "flip_average": bool(opts.flip_average),
        "batch_frames": batch_frames(opts.batch_size, geo),
        "videos": [
            {
                "path": str(j.source.path),
                "n_frames": len(j.source),
                "frames": hashlib.sha1(j.frames.tobytes()).hexdigest(),
            }
            for j in jobs
        ],
    }


def _to_align(run: PredictRun) -> int:
    """Frames the alignment pass will go through (a local one-pass run aligns as it predicts)."""
    local = run.options.client is None
    return sum(
        len(j.frames_to_align())
        for j in run.jobs
        if j.alignment is None and not (local and two_stage.is_one_pass(run.model, j))
    )


def _reported(events: Iterable[PredictProgress], opts: PredictOptions) -> Iterator[PredictProgress]:
    """``events``, each handed to ``opts.progress`` first."""
    for ev in events:
        if opts.progress is not None:
            opts.progress(ev)
        yield ev


def _refuse_empty(run: PredictRun, result: PredictResult, temporary: bool) -> None:
    """Nothing is written when no animal was found on any frame (the chunks are dropped)."""
    if run.total and result.frames_without_animals == run.total:
        if not run.options.keep_partial and not temporary:
            run.store.remove()  # empty chunks: nothing worth resuming
        raise PredictError(
            f"no animal was found on any of the {run.total} predicted frames, so nothing was "
            "written; check that the video shows the animals the model was trained on "
            "(`napari-leap align` on it shows what is found)."
        )


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


def _assemble(run: PredictRun) -> PredictResult:
    """Poses per video from the store (a few floats per frame: small even for long videos)."""
    from napari_leap.model.poses import Poses, default_tracks
    from napari_leap.model.skeleton import Skeleton

    skeleton = Skeleton.from_dict(run.model.config["skeleton"])
    geo, poses = run.geo, []
    for vi, job in enumerate(run.jobs):
        parts = [run.store.read(vi, ci) for ci in range(len(job.spans(run.chunk_size)))]
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
                tracks=default_tracks(geo.n_animals),
                skeleton=skeleton,
            )
        )
    return PredictResult(
        poses=poses,
        videos=[j.video for j in run.jobs],
        computed_chunks=run.computed,
        reused_chunks=run.reused,
    )
