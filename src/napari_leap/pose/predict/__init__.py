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

Modules: ``jobs`` (inputs as jobs, chunk spans), ``inputs`` (frames to model
inputs and back, shared with :mod:`napari_leap.pose.two_stage`), ``model`` (model
cache), ``runner`` (decoder threads), ``store`` (chunk store), ``align`` (the
alignment pass), ``local`` and ``distributed`` (the two loops), ``state`` (options
and run state), ``writers`` and ``run`` (the front doors).
"""

from napari_leap.io.labels.table import read_csv  # predict's table, as evaluate reads it
from napari_leap.io.video import keyframe_indices
from napari_leap.pose.predict.jobs import LabelsVideoSource, VideoJob, chunk_spans, jobs_from_inputs
from napari_leap.pose.predict.model import load_model
from napari_leap.pose.predict.results import PredictError, PredictProgress, PredictResult
from napari_leap.pose.predict.run import iter_predict, predict
from napari_leap.pose.predict.runner import predict_chunk
from napari_leap.pose.predict.state import CHUNK_SIZE, PredictOptions
from napari_leap.pose.predict.store import ChunkStore, partial_dir
from napari_leap.pose.predict.writers import (
    OUTPUT_FORMATS,
    write_csv,
    write_predictions,
    write_slp,
)

__all__ = [
    "CHUNK_SIZE",
    "OUTPUT_FORMATS",
    "ChunkStore",
    "LabelsVideoSource",
    "PredictError",
    "PredictOptions",
    "PredictProgress",
    "PredictResult",
    "VideoJob",
    "chunk_spans",
    "iter_predict",
    "jobs_from_inputs",
    "keyframe_indices",
    "load_model",
    "partial_dir",
    "predict",
    "predict_chunk",
    "read_csv",
    "write_csv",
    "write_predictions",
    "write_slp",
]
