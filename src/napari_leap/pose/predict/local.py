"""Chunks predicted in this process: decoder threads ahead of the model (or both stages)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from napari_leap.pose import two_stage
from napari_leap.pose.predict.align import job_affines
from napari_leap.pose.predict.model import PoseStage, channels_of
from napari_leap.pose.predict.results import PredictProgress
from napari_leap.pose.predict.runner import Stage, run_chunks
from napari_leap.pose.predict.state import PredictRun, Rate


def iter_local(run: PredictRun) -> Iterator[PredictProgress]:
    """Every chunk not in the store yet, in order, each stored as soon as it is done."""
    flip = run.options.flip_average
    pose = PoseStage(run.model, run.geo, flip)
    n_decoders = run.options.n_decoders
    if n_decoders is None:
        n_decoders = max(2, min(8, (os.cpu_count() or 2) // 2))
    rate = Rate()
    for vi, job in enumerate(run.jobs):
        stage: Stage = pose
        affines = None
        if two_stage.is_one_pass(run.model, job):
            stage = two_stage.TwoStageRunner(
                run.model, run.geo, job, run.store, vi, run.chunk_size, flip
            )
        else:
            affines = job_affines(job, run.geo)
        spans = job.spans(run.chunk_size)
        todo = []
        for ci in range(len(spans)):
            if run.store.has(vi, ci):
                yield run.reuse(vi, ci)
            else:
                todo.append(ci)
        chunks = [
            (job.frames[s:e], None if affines is None else affines[s:e])
            for s, e in (spans[ci] for ci in todo)
        ]
        for k, f, p, sc in run_chunks(
            stage,
            job.source,
            chunks,
            channels_of(run.model),
            run.batch_frames,
            n_decoders,
            run.stop,
        ):
            event = run.computed_chunk(vi, todo[k], (f, p, sc), rate)
            if isinstance(stage, two_stage.TwoStageRunner):
                stage.save_state(todo[k])
            yield event
            if run.stop.is_set():
                return
