"""Chunks as tasks on a ``dask.distributed`` cluster; results land in the same chunk store."""

from __future__ import annotations

import time
from collections.abc import Iterator

from napari_leap.pose.predict.align import job_affines
from napari_leap.pose.predict.model import model_dir
from napari_leap.pose.predict.results import PredictError, PredictProgress
from napari_leap.pose.predict.runner import predict_chunk
from napari_leap.pose.predict.state import PredictRun, Rate


def iter_distributed(run: PredictRun) -> Iterator[PredictProgress]:
    """Submit every chunk not in the store yet; store and report them as they complete."""
    from distributed import as_completed

    folder = model_dir(run.model)
    if folder is None:
        raise PredictError(
            "distributed prediction needs the model's folder; load it with "
            "TrainedModel.load(model_dir)."
        )
    futures = {}
    for vi, job in enumerate(run.jobs):
        affines = job_affines(job, run.geo)
        for ci, (s, e) in enumerate(job.spans(run.chunk_size)):
            if run.store.has(vi, ci):
                yield run.reuse(vi, ci)
                continue
            fut = run.options.client.submit(
                predict_chunk,
                folder,
                None,  # the workers' own device
                job.source,
                job.frames[s:e],
                None if affines is None else affines[s:e],
                run.batch_frames,
                run.options.flip_average,
                pure=False,
                key=f"leap-predict-{vi}-{ci}-{time.time_ns()}",
            )
            futures[fut] = (vi, ci)
    rate = Rate()
    for fut in as_completed(list(futures)):
        vi, ci = futures[fut]
        yield run.computed_chunk(vi, ci, fut.result(), rate)
        if run.stop.is_set():
            for other in futures:
                other.cancel()
            return
