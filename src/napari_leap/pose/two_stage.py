"""Prediction with a learned alignment in one pass: each frame is decoded once for both stages.

Decoder threads read each frame, keep it whole and downscale it for the first
stage; the model thread runs the first stage on a batch, tracks the animals
(:class:`napari_leap.pose.first_stage.Tracker`, the same as
:func:`~napari_leap.pose.first_stage.iter_align_learned`, so the boxes are those
an alignment pass would give), cuts their boxes from the whole frames exactly
as :meth:`Alignment.warp` does and runs the pose stage. A separate alignment
pass would decode the video twice, which on a CPU costs about as much as the
first stage itself.

Chunks are tracked in order; the tracker's state is saved beside each finished
chunk (``track_v<video>_c<chunk>.npz`` in the chunk store), so a resumed
prediction continues the same tracks. A distributed prediction, whose chunks
run anywhere, aligns in a pass of its own first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from napari_leap.pose.predict.inputs import box_affines, match_channels, prepare
from napari_leap.pose.predict.model import PoseStage, channels_of, model_dir
from napari_leap.pose.predict.results import PredictError


def is_one_pass(model, job) -> bool:
    """True when ``job`` is predicted in one pass: a learned-alignment model, no alignment."""
    spec = model.config.get("alignment") or {}
    return spec.get("method") == "learned" and job.alignment is None


def aligner_of(model):
    """The first stage of a learned-alignment model, from the model's folder."""
    from napari_leap.pose.first_stage import LearnedAligner

    folder = model_dir(model)
    if folder is None:
        raise PredictError(
            "this model aligns with its own first stage, which is in its folder; load it "
            "with TrainedModel.load(model_dir)."
        )
    spec = model.config["alignment"]
    return LearnedAligner(spec, folder, device=getattr(model, "device", None))


class TwoStageRunner:
    """Both stages on batches of whole frames, tracking animals from batch to batch."""

    def __init__(
        self, model, geo, job, store, video_index: int, chunk_size: int, flip_average=False
    ):
        from napari_leap.pose.first_stage import Tracker, animal_length

        spec = model.config["alignment"]
        self.aligner = aligner_of(model)
        self.pose = PoseStage(model, geo, flip_average)
        self.geo, self.box_size = geo, int(spec["box_size"])
        self.channels = channels_of(model)
        self.tracker = Tracker(geo.n_animals, animal_length(spec), not job.align_subset)
        self.store, self.video = store, video_index
        spans = job.spans(chunk_size)
        self.chunk_of = {int(job.frames[s]): ci for ci, (s, _) in enumerate(spans)}
        self.last_chunk = -1  # the chunk the tracker's state follows

    # -- decoder threads ------------------------------------------------------------------
    def batches(self, source, frames, affines, geo, channels, batch_frames) -> Iterator[tuple]:
        """``(idx, idx, whole frames, downscaled frames)`` per batch (``affines`` is None)."""
        for s in range(0, len(frames), batch_frames):
            idx = frames[s : s + batch_frames]
            whole = [match_channels(source.read(int(i)), channels) for i in idx]
            small = np.stack([self.aligner.prepare(f) for f in whole])
            yield idx, idx, whole, small

    # -- the model thread ------------------------------------------------------------------
    def __call__(self, idx, whole, small) -> tuple[np.ndarray, np.ndarray]:
        """Track the animals of a batch, cut their boxes and run the pose stage on them."""
        self._continue_from(int(idx[0]))
        anchors, angles, _, _ = self.aligner.track(small, idx, self.tracker)
        centres = self.aligner.box_centres(anchors, angles)
        affines = box_affines(centres, np.nan_to_num(angles), self.box_size)
        images, mats = prepare(iter(whole), len(idx), affines, self.geo, self.channels)
        return self.pose(images, mats)

    # -- tracks across chunks --------------------------------------------------------------
    def _state_path(self, chunk: int) -> Path:
        return self.store.root / f"track_v{self.video:04d}_c{chunk:06d}.npz"

    def _continue_from(self, first_frame: int) -> None:
        """Take up the tracks where the previous chunk left them, when a chunk starts.

        Only at the start of a chunk that does not follow the last one tracked (earlier
        chunks were taken from the store).
        """
        ci = self.chunk_of.get(first_frame)
        if ci is None or ci == self.last_chunk + 1:
            self.last_chunk = ci if ci is not None else self.last_chunk
            return
        previous = self._state_path(ci - 1)
        if ci > 0 and previous.exists():
            with np.load(previous) as z:
                self.tracker.set_state({k: z[k] for k in z.files})
        self.last_chunk = ci

    def save_state(self, chunk: int) -> None:
        """The tracks as they stand after ``chunk`` (written atomically, beside its poses)."""
        import io

        from napari_leap.io.atomic import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, **self.tracker.state())
        atomic_write_bytes(self._state_path(chunk), buf.getvalue())
